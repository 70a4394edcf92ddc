"""Training in a worker process: polling never blocks, pause/resume/stop work at step boundaries,
and a worker that dies or is killed is reported, with its run folder kept."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from engine.errors import OptionsError, TrainingError
from engine.events import EpochMetrics, RunError, RunFinished, RunStarted, StatusChanged, StepMetrics
from engine.runner import start_run
from tests.engine.conftest import moons_project

START_TIMEOUT = 60.0


class Pump:
    """Polls a handle like a GUI timer would, recording every event and the slowest poll."""

    def __init__(self, handle):
        self.handle = handle
        self.events = []
        self.slowest = 0.0

    def run(self, seconds: float = 0.0, until=None, timeout: float = START_TIMEOUT) -> None:
        end = time.monotonic() + (seconds if until is None else timeout)
        while time.monotonic() < end:
            t = time.perf_counter()
            self.events.extend(self.handle.poll())
            self.slowest = max(self.slowest, time.perf_counter() - t)
            if until is not None and until():
                return
            time.sleep(0.02)
        assert until is None, "timed out"

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]


def test_pause_resume_stop(tmp_path):
    handle = start_run(moons_project(epochs=100_000, batch_size=8), tmp_path / "run", report_interval=0.05)
    pump = Pump(handle)
    pump.run(until=lambda: pump.of(StepMetrics))
    assert pump.of(RunStarted)[0].run_dir == str(tmp_path / "run")
    assert handle.status == "running"

    handle.pause()
    pump.run(until=lambda: handle.status == "paused", timeout=10)
    steps_when_paused = pump.of(StepMetrics)[-1].step
    pump.run(0.5)
    assert all(e.step <= steps_when_paused for e in pump.of(StepMetrics)), "trained while paused"

    handle.resume()
    pump.run(until=lambda: pump.of(StepMetrics)[-1].step > steps_when_paused, timeout=10)
    assert handle.status == "running"

    handle.stop()
    pump.run(until=lambda: handle.finished, timeout=20)
    assert handle.status == "stopped"
    statuses = [e.status for e in pump.of(StatusChanged)]
    assert statuses[0] == "starting" and "loading" in statuses
    assert statuses[statuses.index("paused"):] == ["paused", "running", "stopping"]
    finished = pump.events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "stopped"
    assert finished.report["reason"] == "user"
    assert handle.poll() == []
    assert pump.slowest < 0.25, f"a poll took {pump.slowest:.3f} s"   # it never waits for the worker
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"settings.json", "metrics.jsonl", "report.json", "last.safetensors"} <= files
    handle._process.join(5)
    assert handle.exitcode == 0


def test_a_killed_worker_is_reported(tmp_path):
    handle = start_run(moons_project(epochs=100_000), tmp_path / "run", report_interval=0.05)
    pump = Pump(handle)
    pump.run(until=lambda: pump.of(EpochMetrics) and (tmp_path / "run" / "last.safetensors").exists())
    os.kill(handle.pid, signal.SIGKILL)        # e.g. the system ran out of memory
    pump.run(until=lambda: handle.finished, timeout=10)
    error = pump.of(RunError)[-1]
    assert error.kind == "worker_died" and "stopped unexpectedly" in error.message and "SIGKILL" in error.message
    assert isinstance(pump.events[-1], RunFinished) and pump.events[-1].status == "failed"
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["status"] == "failed" and report["error"]["kind"] == "worker_died"
    assert "last" in report["weights"]           # the weights saved before the crash are listed
    from engine.runs import load_run

    assert load_run(tmp_path / "run").epochs, "the metrics logged before the crash are kept"


def test_kill_ends_a_stuck_worker(tmp_path):
    handle = start_run(moons_project(epochs=100_000), tmp_path / "run")
    pump = Pump(handle)
    pump.run(until=lambda: handle.status == "running")
    handle.kill()
    pump.run(until=lambda: handle.finished, timeout=10)
    assert handle.status == "stopped" and not pump.of(RunError)
    assert pump.events[-1].report["reason"] == "killed"
    assert json.loads((tmp_path / "run" / "report.json").read_text())["reason"] == "killed"


def test_bad_options_fail_before_a_process_starts(tmp_path):
    with pytest.raises(OptionsError, match="'batch_size'"):
        start_run(moons_project(), tmp_path / "run", overrides={"batch_size": 0})
    with pytest.raises(TrainingError, match="Save the project first"):
        start_run(moons_project())


def test_default_run_folder_beside_the_project(tmp_path):
    from engine.runner import make_request

    request = make_request(moons_project(), project_path=tmp_path / "moons.dcproj")
    run_dir = tmp_path / "runs"
    assert os.path.dirname(request.run_dir) == str(run_dir)
    assert request.run_dir.endswith("-moons-test") and request.base_dir == str(tmp_path.resolve())
    with pytest.raises(TrainingError, match="already holds a run"):
        (tmp_path / "runs" / "x").mkdir(parents=True)
        (tmp_path / "runs" / "x" / "report.json").write_text("{}")
        make_request(moons_project(), tmp_path / "runs" / "x")


def test_the_gui_side_of_the_engine_does_not_load_torch():
    """Starting and watching runs must not make the window wait for torch to import."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; import engine.runner, engine.options, engine.runs, engine.events, engine.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
