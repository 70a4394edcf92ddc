"""A run whose loss blows up and stays up is called diverged (issue 10, point 9), in the log, the
report and the CLI's closing line, instead of "completing" with a misleading vanishing-gradient hint."""

from __future__ import annotations

import json
import logging

from engine.events import LogMessage
from graph import save_project
from tests.engine.conftest import digits_mlp_project, moons_project, of_type


def test_adam_at_a_huge_learning_rate_is_called_diverged(tmp_path, capsys, caplog):
    import main

    save_project(digits_mlp_project(epochs=3, optimizer="adam", lr=1e6), tmp_path / "p.dcproj")
    run = tmp_path / "run"
    caplog.set_level(logging.WARNING)
    code = main.main(["train", str(tmp_path / "p.dcproj"), "--device", "cpu", "--run-dir", str(run), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "DIVERGED from epoch 1" in out
    report = json.loads((run / "report.json").read_text())
    assert report["diverged"]["epoch"] == 3 and report["diverged"]["start_loss"] < 3
    assert any(w.startswith("Training diverged") and "lower the learning rate (it is 1e+06; try 0.001)" in w
               for w in report["warnings"])
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Training diverged") for m in messages)
    assert not any("gradients vanish" in m for m in messages)    # a symptom, not the cause


def test_a_healthy_run_is_not_called_diverged(run_in_process):
    report, events, _ = run_in_process(moons_project(epochs=3, lr=0.05))
    assert report["status"] == "completed" and "diverged" not in report
    assert not [e for e in of_type(events, LogMessage) if "diverged" in e.message]
