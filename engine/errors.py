"""Typed training failures: each carries a sentence a person can act on, plus what the GUI needs to
point at the cause (the step for a NaN loss, the node for a shape problem)."""

from __future__ import annotations

from graph.quoting import cut_message

#: what went wrong, so the GUI can pick an icon or a hint; messages are always complete sentences
ERROR_KINDS = (
    "options",      # a training option has a bad value
    "data",         # the data set could not be loaded (missing/corrupt file, bad option)
    "shape",        # the data does not fit the network (found before or during training)
    "nan",          # the loss became NaN or infinite
    "oom",          # the device ran out of memory
    "device",       # the device asked for is not available, or a CUDA error
    "disk",         # the run folder cannot be written (a full disk, a quota, no permission)
    "network",      # the network cannot be compiled (it has problems on the canvas)
    "worker_died",  # the training process ended without saying why
    "internal",     # a bug: the message carries the exception text
)


class TrainingError(Exception):
    """A run cannot start or cannot go on. ``str(exc)`` is shown to the user as is."""

    def __init__(self, message: str, kind: str = "internal", *, step: int | None = None,
                 node: str | None = None) -> None:
        message = cut_message(message)  # shown as is: a quoted name or file must not make it huge
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.step = step
        #: id of the node at fault, when one is known (the canvas can select it)
        self.node = node


class OptionsError(TrainingError, ValueError):
    """A training option is missing, of the wrong type or out of range; the message names the key."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message, "options")
        self.key = key
