"""Writes a run's weights files in a background thread, so the training loop never waits on a disk.

The loop hands over host snapshots (copies nobody changes afterwards) with :meth:`CheckpointWriter.submit`
and goes on at once. Only the newest snapshot of each kind ("best", "last") is kept waiting: when
epochs end faster than the disk takes their weights, the older ones are skipped, never queued up.
Within one batch "best" is written before "last". The first failure (a full disk, say) stops the
writing and is kept for the loop to raise at its next epoch end (:meth:`error`); the files already
on disk stay as they were, since each is replaced atomically.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from engine.errors import TrainingError

log = logging.getLogger(__name__)

#: the order kinds are written in: the claim "this epoch is the best" reaches the disk first
ORDER = ("best", "last")


class Checkpoints(Protocol):
    def save(self, which: str, state: dict[str, Any], epoch: int, info: dict[str, Any] | None = None) -> None:
        ...


class CheckpointWriter:
    """One writer thread per run, started on the first submit; ``written`` maps each kind to the
    epoch now on disk."""

    def __init__(self, checkpoints: Checkpoints) -> None:
        self.checkpoints = checkpoints
        self.written: dict[str, int] = {}
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = {}
        self._busy = False
        self._closed = False
        self._error: TrainingError | None = None
        self._thread: threading.Thread | None = None

    def submit(self, which: str, state: dict[str, Any], epoch: int, info: dict[str, Any] | None = None) -> None:
        """Queue ``state`` as the next ``which`` file (replacing one still waiting); returns at once."""
        with self._cond:
            if self._error is not None or self._closed:
                return
            self._pending[which] = (state, epoch, dict(info or {}))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="checkpoint-writer", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self) -> None:
        """Block until everything submitted so far is on disk (or the writing failed)."""
        with self._cond:
            while (self._pending or self._busy) and self._error is None and self._thread is not None:
                self._cond.wait()

    def error(self) -> TrainingError | None:
        """The failure that stopped the writing, if any."""
        with self._cond:
            return self._error

    def close(self) -> None:
        """Wait for the pending writes, then end the thread."""
        self.wait()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                jobs = [(which, *self._pending.pop(which)) for which in ORDER if which in self._pending]
                jobs += [(which, *job) for which, job in self._pending.items()]
                self._pending.clear()
                self._busy = True
            failure: TrainingError | None = None
            for which, state, epoch, info in jobs:
                try:
                    self.checkpoints.save(which, state, epoch, info)
                except TrainingError as exc:
                    failure = exc
                except Exception as exc:  # a bug in saving must still end as a sentence, not a dead thread
                    log.warning("could not save the %s weights: %s", which, exc)
                    failure = TrainingError(f"Could not save the {which} weights of epoch {epoch}: {exc}.",
                                            "internal")
                if failure is not None:
                    break
                with self._cond:
                    self.written[which] = epoch
            with self._cond:
                self._busy = False
                if failure is not None:
                    self._error = failure
                    self._pending.clear()
                self._cond.notify_all()
                if failure is not None:
                    return
