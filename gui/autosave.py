"""Autosave: the recovery copy is written a few seconds after the last edit, off the GUI thread.

Each edit (an undo-stack step, weights attached or detached) restarts a short single-shot timer,
so a burst of edits costs one write; someone editing without pause is still saved every
``max_wait_ms``. When the timer fires, the GUI thread only takes a snapshot of the document in
file form (plain data, milliseconds); a worker thread encodes and writes it, with the attached
weights, through the same pair-safe save as the project file. Writes and clears run one at a time
in that one worker, in the order they were asked for, so a clear (the project was saved) can never
be overtaken by an older write. Weights are written only when they changed since the last write:
the next writes keep pointing at the same weights file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from graph import GraphError
from graph.project_file import project_to_dict
from gui.recovery import RecoveryStore
from gui.session import EditorSession

log = logging.getLogger(__name__)

#: the recovery copy is written this long after the last edit
AUTOSAVE_DELAY_MS = 3000
#: ... and at least this often while edits keep coming
AUTOSAVE_MAX_WAIT_MS = 30_000


class Autosaver(QObject):
    #: a write failed (its message), from the worker thread
    _failed = Signal(str)
    #: the recovery file was written: its path (emitted from the worker thread; queued to listeners)
    saved = Signal(object)

    def __init__(self, session: EditorSession, recovery: RecoveryStore, parent: QObject | None = None,
                 delay_ms: int = AUTOSAVE_DELAY_MS, max_wait_ms: int = AUTOSAVE_MAX_WAIT_MS) -> None:
        super().__init__(parent)
        self.session = session
        self.recovery = recovery
        self.max_wait_ms = max_wait_ms
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.write_soon)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self._first_edit: float | None = None
        #: what the recovery copy holds (or will, once the jobs handed over ran): the undo index,
        #: and which weights objects (None: unknown, after a failed write)
        self._written: tuple[int, tuple[tuple[str, int], ...]] | None = None
        self._weights_written: tuple[tuple[str, int], ...] | None = ()
        self._weights_held: list[Any] = []
        self._failed.connect(self._on_failed)
        session.undo_stack.indexChanged.connect(self.schedule)
        session.weightsChanged.connect(self.schedule)

    @property
    def delay_ms(self) -> int:
        return self.timer.interval()

    @delay_ms.setter
    def delay_ms(self, value: int) -> None:
        self.timer.setInterval(value)

    # -- when ---------------------------------------------------------------------------------------
    def schedule(self, *_: object) -> None:
        """An edit happened: write a few seconds from now (restarting the wait)."""
        now = time.monotonic()
        if self._first_edit is None:
            self._first_edit = now
        waited_ms = (now - self._first_edit) * 1000
        self.timer.start(0 if waited_ms >= self.max_wait_ms else self.timer.interval())

    # -- what -----------------------------------------------------------------------------------------
    def _weights_key(self) -> tuple[tuple[str, int], ...]:
        return tuple((name, id(state)) for name, state in self.session.weights.items())

    def write_soon(self) -> Future[Any] | None:
        """Hand the worker a snapshot of the unsaved work it does not hold yet; returns the job
        (None when there was nothing to write)."""
        self.timer.stop()
        self._first_edit = None
        if not self.session.modified:
            return self.discard() if self._written is not None or self._weights_written is None else None
        key = (self.session.undo_stack.index(), self._weights_key())
        if key == self._written:
            return None
        changed = key[1] != self._weights_written
        weights = dict(self.session.weights) if changed and key[1] else None
        fresh = changed and not key[1]         # weights detached: drop those written before
        data = project_to_dict(self.session.project)
        original = self.session.path
        # what the copy will hold once the job ran (jobs run in order; a failure resets it)
        self._written, self._weights_written = key, key[1]
        self._weights_held = list(self.session.weights.values())   # their ids stay theirs meanwhile
        return self._submit(lambda: self.recovery.write(data, original, weights, fresh))

    def write_now(self) -> Path | None:
        """Write at once and wait for it (start-up after a recovery, tests); the file written."""
        job = self.write_soon()
        result = job.result() if job is not None else None
        return result if isinstance(result, Path) else None

    def discard(self) -> Future[Any]:
        """The recovery copy is not needed (saved, or another project): remove it, after any
        write still running."""
        self.timer.stop()
        self._first_edit = None
        self._written, self._weights_written = None, ()
        return self._submit(self.recovery.clear)

    def shutdown(self) -> None:
        """Stop the timer and wait for the write in progress (a clean exit)."""
        self.timer.stop()
        self._worker.shutdown(wait=True)

    # -- the worker -----------------------------------------------------------------------------------
    def _submit(self, job: Callable[[], Any]) -> Future[Any]:
        def run() -> Any:
            try:
                result = job()
            except (OSError, GraphError, ValueError) as exc:
                log.warning("autosave failed: %s", exc)
                self._failed.emit(str(exc) or type(exc).__name__)
                return None
            if isinstance(result, Path):
                self.saved.emit(result)
            return result

        return self._worker.submit(run)

    def _on_failed(self, _error: str) -> None:
        # not known what the copy holds now: the next edit writes it all again
        self._written, self._weights_written = None, None
