"""Keeps the canvas usable from a 1024×700 screen up.

Below :data:`NARROW_WIDTH` the Layers and Inspector docks share one column as tabs, so the canvas
keeps most of the width; the bottom docks (Summary, Problems, Training) are held to a share of the
window's height, so the canvas keeps most of that too. Only the default arrangement is collapsed
and only what was collapsed here is spread out again: docks a person moved stay where they put them.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow

log = logging.getLogger(__name__)

#: narrower windows get the Layers and Inspector docks as tabs of one column
NARROW_WIDTH = 1280
#: side column widths (pixels) when the two side docks are apart, and when they share a column
PALETTE_WIDTH = 230
INSPECTOR_WIDTH = 310
SHARED_SIDE_WIDTH = 300
#: the bottom docks get at most this share of the window's height: a smaller share on short
#: screens, where the canvas needs every line, a larger one on tall screens, where the training
#: panel's options and samples need room
SHORT_SHARE = 0.36
TALL_SHARE = 0.45
TALL_HEIGHT = 880
MIN_BOTTOM = 220
MAX_BOTTOM = 480

Area = Qt.DockWidgetArea


def bottom_height(window_height: int) -> int:
    """The height the bottom docks (the training panel) get in a window this tall."""
    share = TALL_SHARE if window_height >= TALL_HEIGHT else SHORT_SHARE
    return max(MIN_BOTTOM, min(MAX_BOTTOM, int(window_height * share)))


class AdaptiveLayout(QObject):
    """Follows the window's size (installed as an event filter on it)."""

    #: the docks were fitted to a new size (what lies over them raises itself again)
    changed = Signal()

    def __init__(self, window: QMainWindow, palette_dock: QDockWidget, inspector_dock: QDockWidget) -> None:
        super().__init__(window)
        self.window = window
        self.palette_dock = palette_dock
        self.inspector_dock = inspector_dock
        #: the side docks were put together here (and so may be spread out here again)
        self.collapsed = False
        self._last_height = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.apply)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.window and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._timer.start()     # once the window has laid out its docks at the new size
        return False

    def apply(self) -> None:
        """Fit the docks to the window's current size."""
        window = self.window
        narrow = window.width() < NARROW_WIDTH
        if narrow and not self.collapsed and self._side_docks_apart():
            self.collapse_side_docks()
        elif not narrow and self.collapsed:
            self.spread_side_docks()
        height = window.height()
        if height < self._last_height or not self._last_height:
            self.clamp_bottom()     # a shrinking window: the canvas keeps its share
        self._last_height = height
        self.changed.emit()

    def _side_docks_apart(self) -> bool:
        w = self.window
        p, i = self.palette_dock, self.inspector_dock
        return (not p.isFloating() and not i.isFloating()
                and w.dockWidgetArea(p) == Area.LeftDockWidgetArea
                and w.dockWidgetArea(i) == Area.RightDockWidgetArea)

    def collapse_side_docks(self) -> None:
        """Layers and Inspector as two tabs of the right-hand column (Layers in front)."""
        w = self.window
        w.tabifyDockWidget(self.inspector_dock, self.palette_dock)
        self.palette_dock.raise_()
        w.resizeDocks([self.inspector_dock], [SHARED_SIDE_WIDTH], Qt.Orientation.Horizontal)
        self.collapsed = True
        log.debug("narrow window: Layers and Inspector share a column")

    def spread_side_docks(self) -> None:
        """Back to Layers on the left and Inspector on the right."""
        w = self.window
        if not self.palette_dock.isFloating() and not self.inspector_dock.isFloating():
            w.addDockWidget(Area.LeftDockWidgetArea, self.palette_dock)
            w.resizeDocks([self.palette_dock, self.inspector_dock], [PALETTE_WIDTH, INSPECTOR_WIDTH],
                          Qt.Orientation.Horizontal)
        self.collapsed = False

    def bottom_docks(self) -> list[QDockWidget]:
        w = self.window
        return [d for d in w.findChildren(QDockWidget)
                if d.parent() is w and not d.isFloating() and d.isVisible()
                and w.dockWidgetArea(d) == Area.BottomDockWidgetArea]

    def clamp_bottom(self) -> None:
        """Bottom docks taller than their share of the window are brought back to it."""
        cap = bottom_height(self.window.height())
        tall = [d for d in self.bottom_docks() if d.height() > cap]
        if tall:
            self.window.resizeDocks(tall, [cap] * len(tall), Qt.Orientation.Vertical)
