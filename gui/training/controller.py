"""Drives one training run from the GUI thread without ever blocking it.

``start`` hands the project to ``engine.runner.start_run`` (a worker process); a QTimer then calls
``handle.poll()``, which never blocks, and passes each batch of events on as one signal. Pause,
resume, stop and kill map straight to the handle. Progress and ETA are worked out here from the
events, so the panel only displays them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from engine.events import (
    FINAL_STATUSES,
    EpochMetrics,
    Event,
    RunFinished,
    RunStarted,
    StatusChanged,
    StepMetrics,
)

log = logging.getLogger(__name__)

#: how often the queue is polled while a run is active (polling an empty queue costs microseconds)
POLL_INTERVAL_MS = 16
#: after Stop, offer "Force stop" if the run has not ended within this time
FORCE_STOP_AFTER_MS = 3000


@dataclass
class Progress:
    fraction: float = 0.0           # 0..1 of all planned steps
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    total_steps: int = 0
    samples_per_sec: float | None = None
    eta_seconds: float | None = None
    elapsed: float = 0.0            # training time so far, pauses left out


def _default_starter(project: Any, **kwargs: Any) -> Any:
    from engine.runner import start_run

    return start_run(project, **kwargs)


class TrainingController(QObject):
    #: a batch of engine events (oldest first), delivered on the GUI thread
    eventsArrived = Signal(list)
    #: idle | starting | loading | running | paused | stopping | completed | stopped | failed
    statusChanged = Signal(str)
    progressChanged = Signal(object)
    #: Stop has been pending for a while: the panel shows "Force stop"
    stopSlow = Signal()
    #: the run is over (RunFinished)
    finished = Signal(object)

    def __init__(self, parent: QObject | None = None,
                 starter: Callable[..., Any] | None = None) -> None:
        super().__init__(parent)
        #: replaced in tests by a function returning a fake handle
        self.starter = starter or _default_starter
        self.handle: Any = None
        self.status = "idle"
        self.progress = Progress()
        self.run_dir: Path | None = None
        self.started: RunStarted | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self.poll)
        self._stop_timer = QTimer(self)
        self._stop_timer.setSingleShot(True)
        self._stop_timer.setInterval(FORCE_STOP_AFTER_MS)
        self._stop_timer.timeout.connect(self._stop_is_slow)
        self._train_t0: float | None = None    # worker time of RunStarted
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._last_time = 0.0

    # -- state ------------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.handle is not None and not self.handle.finished

    def start(self, project: Any, **kwargs: Any) -> None:
        """Start a run (keyword arguments go to ``start_run``). Raises TrainingError when the run
        cannot start (bad options, unsaved project); nothing changes then."""
        if self.active:
            raise RuntimeError("a run is already in progress")
        handle = self.starter(project, **kwargs)
        self.handle = handle
        self.run_dir = Path(handle.run_dir) if getattr(handle, "run_dir", None) else None
        self.started = None
        self.progress = Progress()
        self._train_t0 = None
        self._paused_at = None
        self._paused_total = 0.0
        self._set_status("starting")
        self.progressChanged.emit(self.progress)
        self._timer.start()

    def pause(self) -> None:
        if self.active:
            self.handle.pause()

    def resume(self) -> None:
        if self.active:
            self.handle.resume()

    def stop(self) -> None:
        if self.active:
            self.handle.stop()
            if self.status not in ("stopping",):
                self._set_status("stopping")
            self._stop_timer.start()

    def kill(self) -> None:
        if self.active:
            self.handle.kill()
            self.poll()

    def shutdown(self, wait_seconds: float = 3.0) -> None:
        """The window is closing: stop the run cooperatively (its weights get saved), and end the
        worker by force if it does not finish in time."""
        if not self.active:
            return
        self.handle.stop()
        deadline = time.monotonic() + wait_seconds
        while self.active and time.monotonic() < deadline:
            self.handle.poll()
            time.sleep(0.02)
        if self.active:
            self.handle.kill()
            self.handle.poll()
        self._timer.stop()

    # -- polling ------------------------------------------------------------------------------------
    def poll(self) -> None:
        handle = self.handle
        if handle is None:
            self._timer.stop()
            return
        events = handle.poll()
        if events:
            progressed = False
            for event in events:
                progressed |= self._track(event)
            self.eventsArrived.emit(events)
            if progressed:
                self.progressChanged.emit(self.progress)
        if handle.finished:
            self._timer.stop()
            self._stop_timer.stop()
            result = handle.result
            if result is not None and self.status not in FINAL_STATUSES:
                self._set_status(result.status)
            self.finished.emit(result)

    def _track(self, event: Event) -> bool:
        """Follow status and progress; True when the progress changed."""
        self._last_time = max(self._last_time, event.time)
        p = self.progress
        if isinstance(event, StatusChanged):
            if event.status == "paused" and self._paused_at is None:
                self._paused_at = event.time
            elif event.status != "paused" and self._paused_at is not None:
                self._paused_total += max(0.0, event.time - self._paused_at)
                self._paused_at = None
            if not (self.status == "stopping" and event.status in ("running", "paused")):
                self._set_status(event.status)
            return False
        if isinstance(event, RunStarted):
            self.started = event
            self._train_t0 = event.time
            p.epochs = event.epochs
            p.total_steps = max(1, event.epochs * event.steps_per_epoch)
            return True
        if isinstance(event, StepMetrics | EpochMetrics):
            p.step = event.step
            p.epoch = event.epoch
            if isinstance(event, StepMetrics):
                p.samples_per_sec = event.samples_per_sec
            if p.total_steps:
                p.fraction = min(1.0, event.step / p.total_steps)
            self._update_eta(event.time)
            return True
        if isinstance(event, RunFinished):
            # "took" then says what the report (and the log's "Stopped after …") says: the whole run,
            # not the training time up to the last metrics line
            total = (event.report or {}).get("elapsed_seconds")
            if isinstance(total, int | float) and not isinstance(total, bool) and total >= 0:
                p.elapsed = float(total)
            if event.status == "completed":
                p.fraction = 1.0
                p.eta_seconds = 0.0
            else:
                p.eta_seconds = None
            self._set_status(event.status)
            return True
        return False

    def _update_eta(self, now: float) -> None:
        p = self.progress
        if self._train_t0 is None:
            return
        p.elapsed = max(0.0, now - self._train_t0 - self._paused_total)
        if p.fraction <= 0.0 or p.elapsed < 0.5:
            p.eta_seconds = None
            return
        eta = p.elapsed * (1.0 - p.fraction) / p.fraction
        # smooth it: a jump from one report to the next reads as noise, not information
        p.eta_seconds = eta if p.eta_seconds is None else 0.7 * p.eta_seconds + 0.3 * eta

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.statusChanged.emit(status)

    def _stop_is_slow(self) -> None:
        if self.active:
            self.stopSlow.emit()


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 59.5:
        return f"{max(0.0, seconds):.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
