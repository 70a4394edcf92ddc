"""DeepCanvas desktop editor (PySide6).

The GUI holds no model state of its own: widgets mirror the ``graph`` document by listening to its
change events, and every edit goes through an undo command in :mod:`gui.commands`. Nothing here
imports torch at start-up, so the window appears before torch has loaded.
"""
