"""A run folder on a full disk (issue 10, point 4): exit code 1 with a message that names the folder
and the space needed, the metrics so far and the last weights that fit kept, a report written."""

from __future__ import annotations

import errno
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.runs import read_metrics, saved_weights
from graph import save_project
from tests.engine.conftest import moons_project

ROOT = Path(__file__).resolve().parents[2]


def test_full_disk_in_process(tmp_path, monkeypatch, capsys, caplog):
    """The weights of epoch 1 fit, later ones do not (the writer gets ENOSPC)."""
    import graph.project_file as project_file
    import main

    real = project_file.atomic_write
    written: list[str] = []

    def full_after_two(path: Path, data: bytes) -> None:
        if Path(path).suffix == ".safetensors":
            if len(written) >= 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(Path(path).name)
        real(path, data)

    monkeypatch.setattr(project_file, "atomic_write", full_after_two)
    save_project(moons_project(epochs=6, lr=0.05), tmp_path / "p.dcproj")
    run = tmp_path / "run"
    caplog.set_level(logging.WARNING)
    code = main.main(["train", str(tmp_path / "p.dcproj"), "--device", "cpu", "--run-dir", str(run), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"error: The disk holding the run folder {run} is full" in err and "needs" in err
    assert "Traceback" not in err and not [r for r in caplog.records if r.levelno >= logging.ERROR]
    report = json.loads((run / "report.json").read_text())
    assert report["status"] == "failed" and report["error"]["kind"] == "disk"
    epochs, _ = read_metrics(run / "metrics.jsonl")
    assert len(epochs) == report["epochs_done"] >= 1
    held = saved_weights(run)
    # which two files made it depends on when the background writer ran: whatever is on disk is
    # what the report says, and no file claims an epoch the run did not finish
    assert held and all(1 <= info["epoch"] <= report["epochs_done"] for info in held.values())
    for kind, info in held.items():
        assert report["weights"][kind]["epoch"] == info["epoch"]
    if "best" in held and report["best_epoch"] != held["best"]["epoch"]:
        assert any("best epoch" in w and f"holds epoch {held['best']['epoch']}" in w for w in report["warnings"])


@pytest.fixture
def tiny_disk(tmp_path):
    """A 200 KB tmpfs (needs root and permission to mount; skipped otherwise)."""
    where = tmp_path / "disk"
    where.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_full_disk_for_real(tmp_path, tiny_disk):
    """``main.py train`` into a 200 KB disk: one pair of 80 KB weights files fits, the next does not."""
    save_project(moons_project(units=4000, epochs=6, n_samples=400, lr=0.05), tmp_path / "p.dcproj")
    run = tiny_disk / "run"
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "p.dcproj", "--device", "cpu",
                             "--run-dir", str(run), "--quiet"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 1, result.stderr
    assert f"The disk holding the run folder {run} is full" in result.stderr
    assert "needs 78.6 KB" in result.stderr and "Traceback" not in result.stderr
    report = json.loads((run / "report.json").read_text())
    assert report["error"]["kind"] == "disk"
    epochs, _ = read_metrics(run / "metrics.jsonl")
    assert len(epochs) >= 1 and len(epochs) == report["epochs_done"]
    held = saved_weights(run)
    assert held["best"]["epoch"] >= 1 and held["last"]["epoch"] >= 1
    assert not list(run.glob(".*.tmp"))        # no half-written temp file left taking space


def test_no_room_even_for_the_settings(tmp_path, monkeypatch):
    """A disk with no room at all: a failed report that says why, nothing raised."""
    import graph.project_file as project_file
    from engine.events import RunError, RunFinished
    from engine.session import RunRequest, execute_run
    from graph import project_to_dict

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(project_file, "atomic_write", full)
    events: list = []
    report = execute_run(RunRequest(project_to_dict(moons_project()), str(tmp_path / "run")), events.append)
    assert report["status"] == "failed" and report["error"]["kind"] == "disk"
    assert report["report_written"] is False
    assert "settings.json" in report["error"]["message"] and str(tmp_path / "run") in report["error"]["message"]
    assert [type(e) for e in events[-2:]] == [RunError, RunFinished]
