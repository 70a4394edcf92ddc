"""The single exception type for data problems, so the GUI can show one friendly dialog for all of them."""

from __future__ import annotations

from graph.quoting import cut_message


class DatasetError(Exception):
    """A data set could not be loaded for a reason the user can fix.

    The message is shown to the user as-is, so it names the file, column or option at fault and says
    what to do about it; callers never need the traceback.
    """

    def __init__(self, *args: object) -> None:
        # shown as is, and it may quote a column name or a cell of any size: keep it bounded
        super().__init__(*(cut_message(a) if isinstance(a, str) else a for a in args))
