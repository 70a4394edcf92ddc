"""Slow work off the GUI thread: a function runs in Qt's thread pool and its result (or exception)
comes back as a call on the GUI thread.

Only plain Python goes into the pool (loading a data set, reading a run folder, loading weights);
no widget is touched there. The result is delivered through a queued signal, and dropped when the
widget that asked for it is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object, object)   # result, exception


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result, error = self.fn(), None
        except Exception as exc:  # handed to the GUI thread, which decides what to say
            result, error = None, exc
        try:
            self.relay.done.emit(result, error)
        except RuntimeError:   # the receiver was deleted while we worked
            pass


#: relays of jobs still running (a relay must outlive its job's emit)
_live: set[_Relay] = set()


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_error: Callable[[Exception], None] | None = None,
                      owner: QObject | None = None) -> None:
    """Run ``fn()`` in the thread pool; then ``on_done(result)`` or ``on_error(exc)`` on the GUI
    thread. Nothing is called back if ``owner`` has been deleted by then."""
    relay = _Relay()
    _live.add(relay)

    def finish(result: Any, error: Exception | None) -> None:
        _live.discard(relay)
        relay.deleteLater()
        if owner is not None and not shiboken6.isValid(owner):
            return
        if error is None:
            on_done(result)
        elif on_error is not None:
            on_error(error)
        else:
            log.error("background task failed", exc_info=(type(error), error, error.__traceback__))

    relay.done.connect(finish)
    QThreadPool.globalInstance().start(_Job(fn, relay))


def wait_for_background(timeout_ms: int = 30_000) -> bool:
    """Tests and shutdown: wait for queued jobs to end (their results are delivered by the event loop)."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)
