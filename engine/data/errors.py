"""The single exception type for data problems, so the GUI can show one friendly dialog for all of them."""


class DatasetError(Exception):
    """A data set could not be loaded for a reason the user can fix.

    The message is shown to the user as-is, so it names the file, column or option at fault and says
    what to do about it; callers never need the traceback.
    """
