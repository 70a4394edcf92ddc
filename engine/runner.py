"""Training in a worker process, driven without blocking from the GUI thread (or any caller).

    handle = start_run(project, project_path="net.dcproj")     # returns at once
    ...every 50-100 ms, e.g. from a QTimer:
    for event in handle.poll():                                 # never blocks
        ...
    handle.pause(); handle.resume(); handle.stop()              # cooperative, at step boundaries
    handle.kill()                                               # last resort

The worker is a ``spawn`` process, so a crash, a CUDA error or a hard kill never takes the caller
down. It receives the project as its JSON dict (never pickled model objects) and sends frozen event
records through a queue a few times per second. Pause/stop go through a shared byte the training
loop reads at step boundaries. A worker that dies without finishing is reported as a ``RunError``
(kind ``worker_died``) followed by ``RunFinished(status="failed")``, and its run folder gets a
report saying so; the metrics and weights it saved until then are kept.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import time
from pathlib import Path
from typing import Any

from engine.control import PAUSE, RUN, STOP
from engine.events import Event, RunError, RunFinished, StatusChanged
from engine.session import RunRequest

log = logging.getLogger(__name__)

#: most events one poll() returns, so a flood can never stall the GUI thread
MAX_EVENTS_PER_POLL = 500


def _worker_main(request: RunRequest, events: Any, control: Any, threads: int | None) -> None:
    """Entry point of the worker process."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s (worker): %(message)s")
    if threads:
        import torch

        torch.set_num_threads(threads)
    from engine.session import execute_run

    def emit(event: Event) -> None:
        events.put(event)

    try:
        execute_run(request, emit, control)
    finally:
        events.close()
        events.join_thread()   # every event is in the pipe before the process ends


class RunHandle:
    """A run in a worker process. Every method returns at once (``wait`` and ``join`` excepted)."""

    def __init__(self, request: RunRequest, threads: int | None = None) -> None:
        ctx = mp.get_context("spawn")
        self.request = request
        self.run_dir = Path(request.run_dir)
        self._events = ctx.Queue()
        self._control = ctx.Value("b", RUN, lock=False)
        self._process = ctx.Process(target=_worker_main, args=(request, self._events, self._control, threads),
                                    name="deepcanvas-training", daemon=True)
        self._t0 = time.monotonic()
        self._status = "starting"
        self._finished: RunFinished | None = None
        self._killed = False
        self._pending: list[Event] = [StatusChanged(0.0, "starting", "starting the training process")]
        self._process.start()

    # -- state ------------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """starting | loading | running | paused | stopping | completed | stopped | failed"""
        return self._status

    @property
    def finished(self) -> bool:
        return self._finished is not None

    @property
    def result(self) -> RunFinished | None:
        return self._finished

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    # -- control ----------------------------------------------------------------------------------
    def pause(self) -> None:
        if not self.finished and self._control.value == RUN:
            self._control.value = PAUSE

    def resume(self) -> None:
        if not self.finished and self._control.value == PAUSE:
            self._control.value = RUN

    def stop(self) -> None:
        """Stop at the next step boundary; the worker saves the weights and its report, then ends."""
        if not self.finished:
            self._control.value = STOP

    def kill(self) -> None:
        """End the worker now (it may be stuck in a long step). What it saved so far is kept."""
        if self.finished or not self._process.is_alive():
            return
        self._killed = True
        self._process.terminate()
        self._process.join(1.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(1.0)

    # -- events -----------------------------------------------------------------------------------
    def poll(self, max_events: int = MAX_EVENTS_PER_POLL) -> list[Event]:
        """Events that arrived since the last call, oldest first; never blocks."""
        out, self._pending = self._pending, []
        if self._finished is not None:
            return out
        if not self._killed:
            self._drain(out, max_events)
        if self._finished is None and not self._process.is_alive() and len(out) < max_events:
            if not self._killed:
                self._drain(out, max_events)   # what the worker sent just before it ended
            if self._finished is None:
                out.extend(self._died())
        return out

    def _drain(self, out: list[Event], max_events: int) -> None:
        while len(out) < max_events:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            except (EOFError, OSError, ValueError):  # the pipe broke with the worker
                return
            self._track(event)
            out.append(event)
            if isinstance(event, RunFinished):
                self._close()
                return

    def _track(self, event: Event) -> None:
        if isinstance(event, StatusChanged):
            self._status = event.status
        elif isinstance(event, RunFinished):
            self._status = event.status
            self._finished = event

    def _died(self) -> list[Event]:
        from engine.errors import TrainingError
        from engine.runs import write_report_if_missing

        code = self._process.exitcode
        now = time.monotonic() - self._t0
        if self._killed:
            report = {"status": "stopped", "reason": "killed",
                      "error": {"kind": "killed", "message": "The training process was ended by force; the "
                                "weights saved until then are kept."}}
            events: list[Event] = [StatusChanged(now, "stopped", "training process ended by force")]
        else:
            message = _death_message(code)
            report = {"status": "failed",
                      "error": {"kind": "worker_died", "message": message, "exit_code": code}}
            events = [RunError(now, "worker_died", message)]
        try:
            write_report_if_missing(self.run_dir, report)
        except (OSError, TrainingError) as exc:
            log.warning("cannot write the report of %s: %s", self.run_dir, exc)
        finished = RunFinished(now, report["status"], report)
        events.append(finished)
        for event in events:
            self._track(event)
        self._close()
        return events

    def _close(self) -> None:
        self._process.join(0)      # reaps it if it has exited; never waits (the GUI thread calls this)
        self._events.cancel_join_thread()
        self._events.close()

    # -- blocking helpers (CLI, tests) ----------------------------------------------------------
    def wait(self, timeout: float | None = None, interval: float = 0.05) -> list[Event]:
        """Collect events until the run finishes (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        events: list[Event] = []
        while True:
            events.extend(self.poll())
            if self.finished:
                return events
            if deadline is not None and time.monotonic() >= deadline:
                return events
            time.sleep(interval)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the run and wait for it (up to ``timeout`` seconds, then kill it). A handle that is
        dropped while its worker still runs would leave the worker blocked on a full queue."""
        if not self.finished:
            self.stop()
            self.wait(timeout=timeout)
            if not self.finished:
                self.kill()
                self.poll()

    def __enter__(self) -> RunHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _death_message(code: int | None) -> str:
    import signal

    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == getattr(signal, "SIGKILL", 9):
            why = (f"it was killed ({name}), often because the computer ran out of memory: lower the batch size "
                   "or use a smaller network or data set")
        else:
            why = f"it was ended by {name}"
    else:
        why = f"it exited with code {code}"
    return (f"The training process stopped unexpectedly ({why}). The metrics and the weights saved until then "
            "are kept in the run folder.")


def start_run(project: Any, run_dir: str | os.PathLike[str] | None = None, *,
              project_path: str | os.PathLike[str] | None = None, network: str | None = None,
              overrides: dict[str, Any] | None = None, threads: int | None = None,
              report_interval: float = 0.25, checkpoint_interval: float = 10.0) -> RunHandle:
    """Start training ``project`` (a ``graph.Project`` or its dict) in a worker process.

    ``run_dir``: the run folder; by default a new ``runs/<time>-<name>/`` beside ``project_path``
    (required then). ``overrides``: training options that replace the project's for this run.
    ``threads``: CPU threads for the worker; by default one core is left to the window (PyTorch's
    threads spin while they wait, and a window competing with them for every core both stutters and
    slows training down several times over).
    """
    request = make_request(project, run_dir, project_path=project_path, network=network, overrides=overrides,
                           report_interval=report_interval, checkpoint_interval=checkpoint_interval)
    return RunHandle(request, default_worker_threads() if threads is None else threads)


def default_worker_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def make_request(project: Any, run_dir: str | os.PathLike[str] | None = None, *,
                 project_path: str | os.PathLike[str] | None = None, network: str | None = None,
                 overrides: dict[str, Any] | None = None, report_interval: float = 0.25,
                 checkpoint_interval: float = 10.0) -> RunRequest:
    """Checks the options and makes the run folder, so a bad option fails here, not in the worker."""
    from engine.errors import TrainingError
    from engine.options import TRAINING_KEY, TrainingOptions
    from engine.runs import new_run_dir, prepare_run_dir, runs_root

    if isinstance(project, dict):
        data = project
    else:
        from graph.project_file import project_to_dict

        data = project_to_dict(project)
    options = TrainingOptions.from_dict((data.get("settings") or {}).get(TRAINING_KEY))
    if overrides:
        options.with_changes(**overrides)
    if run_dir is None:
        if project_path is None:
            raise TrainingError("Save the project first: its runs are kept in a folder beside the project file.",
                                "options")
        run_dir = new_run_dir(runs_root(project_path), str(data.get("name") or Path(project_path).stem))
    else:
        run_dir = prepare_run_dir(run_dir)
    base_dir = str(Path(project_path).resolve().parent) if project_path is not None else None
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    return RunRequest(data, str(Path(run_dir)), network, clean or None, base_dir, report_interval,
                      checkpoint_interval)
