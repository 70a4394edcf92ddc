"""How a caller steers a running loop: one small integer read at every step boundary.

The worker gets a shared ``multiprocessing.Value`` with the same ``value`` attribute; in-process
callers (CLI, tests, benchmark) use :class:`Control`. Torch-free, so the GUI can import it cheaply.
"""

from __future__ import annotations

RUN, PAUSE, STOP = 0, 1, 2


class Control:
    """In-process control: ``pause()``, ``resume()`` and ``stop()`` take effect at the next step."""

    def __init__(self) -> None:
        self.value = RUN

    def pause(self) -> None:
        self.value = PAUSE

    def resume(self) -> None:
        self.value = RUN

    def stop(self) -> None:
        self.value = STOP
