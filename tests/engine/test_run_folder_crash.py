"""What a run folder holds after a crash: weights files that say which epoch they are from, best
weights written when an epoch improves, loaders that name the epoch they load and say when the
run's best epoch never reached the disk (issue 10, point 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.runs import (
    METRICS,
    RunRecorder,
    describe_run_weights,
    read_metrics,
    saved_weights,
    weights_metadata,
    write_report_if_missing,
)
from graph import save_project
from tests.engine.conftest import moons_project

ROOT = Path(__file__).resolve().parents[2]


class Recording:
    """A Checkpoints that remembers the epoch each kind was last written with."""

    def __init__(self) -> None:
        self.saved: dict[str, int] = {}
        self.info: dict[str, dict[str, Any]] = {}

    def save(self, which: str, state: dict[str, Any], epoch: int, info: dict[str, Any] | None = None) -> None:
        self.saved[which] = epoch
        self.info[which] = dict(info or {})


def test_best_weights_are_written_when_an_epoch_improves():
    """Not only every checkpoint_interval: right after an epoch is logged as best its weights go to
    the disk (here the interval is huge, so only an improvement writes them). Each epoch's event
    waits for the writer and finds the best of the epochs before it on disk."""
    from engine.data import DatasetSpec, load_dataset
    from engine.events import EpochMetrics
    from engine.loop import Trainer
    from engine.options import TrainingOptions
    from engine.recipes import make_recipe
    from graph import compile_network

    project = moons_project(epochs=6, lr=0.05)
    options = TrainingOptions.from_dict(project.settings["training"])
    dataset = load_dataset(DatasetSpec.from_dict(project.settings["dataset"]))
    checkpoints = Recording()
    seen: list[tuple[int, bool, int | None]] = []
    trainer: Trainer

    def emit(event: Any) -> None:
        if isinstance(event, EpochMetrics):
            if trainer._writer is not None:
                trainer._writer.wait()
            seen.append((event.epoch, event.is_best, checkpoints.saved.get("best")))

    trainer = Trainer(compile_network(project), dataset, options, make_recipe(options, dataset, project.main),
                      torch.device("cpu"), emit, checkpoints=checkpoints, checkpoint_interval=1e9)
    trainer.run()
    improved = [epoch for epoch, is_best, _ in seen if is_best]
    assert len(seen) == 6 and len([e for e in improved if e < 6]) >= 2
    for epoch, _, on_disk in seen:
        before = [e for e in improved if e < epoch]
        assert on_disk == (before[-1] if before else None)
    assert checkpoints.saved["best"] == trainer.best_epoch == improved[-1]
    assert checkpoints.info["best"]["monitor"] == "val_loss"
    assert float(checkpoints.info["best"]["value"]) == trainer.best_value
    assert checkpoints.saved["last"] == 6 and checkpoints.info["last"]["complete"] == "true"


def _fake_run(tmp_path: Path, best_on_disk: int, best_in_metrics: int) -> Path:
    """A run folder as a crash leaves it: metrics up to ``best_in_metrics``, no report."""
    run = tmp_path / "run"
    recorder = RunRecorder(run)
    recorder.start({"project": {}})
    from graph import compile_network

    state = compile_network(moons_project(), seed=3).state_dict()
    for epoch in range(1, best_in_metrics + 1):
        recorder.line({"type": "epoch", "epoch": epoch, "val_loss": 2.0 / epoch, "is_best": True})
        if epoch <= best_on_disk:
            recorder.save("best", state, epoch, {"monitor": "val_loss", "value": repr(2.0 / epoch), "step": epoch})
    recorder.close()
    return run


def test_loaders_name_the_epoch_the_file_holds(tmp_path, capsys):
    """metrics.jsonl calls epoch 3 best, best.safetensors holds epoch 1: the loaders say both."""
    import main
    from engine.transfer import read_weights

    run = _fake_run(tmp_path, best_on_disk=1, best_in_metrics=3)
    assert saved_weights(run)["best"]["epoch"] == 1
    used, epoch, warnings = describe_run_weights(run, "best")
    assert (used, epoch) == ("best", 1)
    assert warnings and "best epoch was 3 (val_loss 0.6667)" in warnings[0] and "holds epoch 1" in warnings[0]
    source = read_weights(run, "best")
    assert source.source == "run run (best, epoch 1)" and source.warnings == warnings
    save_project(moons_project(), tmp_path / "p.dcproj")
    assert main.main(["load-weights", str(tmp_path / "p.dcproj"), str(run)]) == 0
    out = capsys.readouterr().out
    assert "weights of run run (best, epoch 1)" in out and "warning: The run's best epoch was 3" in out
    # the report a dead worker's folder gets says the same
    assert write_report_if_missing(run, {"status": "failed"})
    report = json.loads((run / "report.json").read_text())
    assert report["weights"]["best"]["epoch"] == 1 and report["best_epoch"] == 3
    assert "were not saved" in report["warnings"][0]


def test_no_warning_when_the_best_is_on_disk(tmp_path):
    run = _fake_run(tmp_path, best_on_disk=3, best_in_metrics=3)
    assert describe_run_weights(run, "best") == ("best", 3, [])


def test_a_torn_metrics_line_is_taken_back(tmp_path):
    """A write that fails half way (a full disk) leaves no torn line for the next one to join."""
    recorder = RunRecorder(tmp_path / "run")
    recorder.line({"type": "epoch", "epoch": 1})
    real = recorder._log

    class HalfThenFull:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def write(self, data: bytes) -> int:
            real.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    recorder._log = HalfThenFull()
    from engine.errors import TrainingError

    with pytest.raises(TrainingError) as caught:
        recorder.line({"type": "epoch", "epoch": 2, "padding": "x" * 100})
    assert caught.value.kind == "disk" and str(tmp_path / "run") in caught.value.message
    recorder._log = real
    recorder.line({"type": "epoch", "epoch": 3})
    recorder.close()
    epochs, _ = read_metrics(tmp_path / "run" / METRICS)
    assert [e["epoch"] for e in epochs] == [1, 3]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_during_a_cli_run_leaves_honest_files(tmp_path, capsys):
    """A real ``kill -9`` of ``main.py train`` after a few epochs: the best weights file says which
    epoch it holds, that epoch is one the metrics call best with the same value, and load-weights
    names that epoch (and the metrics' best epoch, when they differ)."""
    save_project(moons_project(epochs=500, n_samples=400, lr=0.05), tmp_path / "p.dcproj")
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", "p.dcproj", "--device", "cpu",
                             "--run-dir", str(run), "--quiet"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while len(read_metrics(run / METRICS)[0]) < 3:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no third epoch in 90 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    assert not (run / "report.json").exists()
    epochs, _ = read_metrics(run / METRICS)
    meta = weights_metadata(run / "best.safetensors")
    assert meta is not None and meta["which"] == "best" and meta["monitor"] == "val_loss"
    held = int(meta["epoch"])
    line = next(e for e in epochs if e["epoch"] == held)
    assert line["is_best"] and line["val_loss"] == float(meta["value"])
    claimed = max(e["epoch"] for e in epochs if e["is_best"])
    used, epoch, warnings = describe_run_weights(run, "best")
    assert (used, epoch) == ("best", held)
    assert bool(warnings) == (claimed != held)

    import main

    capsys.readouterr()
    assert main.main(["load-weights", str(tmp_path / "p.dcproj"), str(run)]) == 0
    out = capsys.readouterr().out
    assert f"weights of run run (best, epoch {held})" in out
    assert ("warning: The run's best epoch was" in out) == (claimed != held)
