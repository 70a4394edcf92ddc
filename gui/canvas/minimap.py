"""An overview in the corner of the canvas: every node as a coloured dot and the visible area as a
frame; click or drag in it to jump. It appears only when the network is larger than the view, so
a big network can be shown at a readable zoom without losing the overall picture.

It never covers a card: it sits in the first corner of the view with no node under it, and when
every corner has one it folds into a small button there (hover it to open the map), so a node
just added, and its red badge, are always in sight."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QEnterEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsView, QWidget

from gui import theme

MAX_W, MAX_H = 220, 130
MARGIN = 12
#: the folded minimap: a button this many pixels square
FOLDED = 26
#: room kept free around the map (view pixels): a card's badge and shadow stick out of its rect
CLEARANCE = 10


class Minimap(QWidget):
    def __init__(self, view: QGraphicsView) -> None:
        super().__init__(view)
        self.view = view
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self._pixmap: QPixmap | None = None
        self._world = QRectF()
        self._scale = 1.0
        self._offset = QPointF()
        self._rebuild_timer = QTimer(self)
        self._rebuild_timer.setSingleShot(True)
        self._rebuild_timer.setInterval(50)
        self._rebuild_timer.timeout.connect(self.rebuild)
        self._map_size = QSize(40, 30)
        #: no corner is free of nodes: shown as a small button (opened while the mouse is on it)
        self.folded = False
        self._peek = False
        self._corner = 0
        self.hide()

    def schedule_rebuild(self) -> None:
        """The nodes changed: redraw the overview soon (drags and pastes coalesce into one)."""
        if not self._rebuild_timer.isActive():
            self._rebuild_timer.start()

    def _nodes(self) -> list:
        return list(getattr(self.view.scene(), "nodes", {}).values())

    def rebuild(self) -> None:
        nodes = self._nodes()
        if not nodes:
            self._pixmap = None
            self.hide()
            return
        world = QRectF()
        for item in nodes:
            world = world.united(item.sceneBoundingRect())
        world = world.adjusted(-40, -40, 40, 40)
        self._world = world
        self._scale = min(MAX_W / world.width(), MAX_H / world.height())
        w, h = max(40, int(world.width() * self._scale)), max(30, int(world.height() * self._scale))
        self._map_size = QSize(w, h)
        self._offset = QPointF((w - world.width() * self._scale) / 2, (h - world.height() * self._scale) / 2)
        c = theme.current()
        pixmap = QPixmap(w, h)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bg = QColor(c.canvas.node_body)
        bg.setAlpha(225)
        painter.setPen(QPen(c.canvas.node_border, 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(0.5, 0.5, w - 1, h - 1), 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        for item in nodes:
            r = self._to_map(item.sceneBoundingRect())
            painter.setBrush(theme.category_color(item.spec.category))
            painter.drawRect(QRectF(r.x(), r.y(), max(r.width(), 2.0), max(r.height(), 2.0)))
        painter.end()
        self._pixmap = pixmap
        self.reposition()

    def _to_map(self, rect: QRectF) -> QRectF:
        s = self._scale
        return QRectF(self._offset.x() + (rect.x() - self._world.x()) * s,
                      self._offset.y() + (rect.y() - self._world.y()) * s, rect.width() * s, rect.height() * s)

    def _visible_scene_rect(self) -> QRectF:
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def _corner_rect(self, corner: int, size: QSize) -> QRect:
        """Where the map goes in corner 0..3 (bottom-right, bottom-left, top-right, top-left), in
        the view's coordinates."""
        vp = self.view.viewport().geometry()
        x = vp.right() - size.width() - MARGIN if corner in (0, 2) else vp.left() + MARGIN
        y = vp.bottom() - size.height() - MARGIN if corner in (0, 1) else vp.top() + MARGIN
        return QRect(QPoint(x, y), size)

    def covers_a_node(self, rect: QRect) -> bool:
        """Would a widget at ``rect`` (view coordinates) hide part of a card or its badge?"""
        vp = self.view.viewport().geometry()
        area = rect.translated(-vp.topLeft()).adjusted(-CLEARANCE, -CLEARANCE, CLEARANCE, CLEARANCE)
        scene = self.view.scene()
        nodes = getattr(scene, "nodes", {})
        for item in scene.items(self.view.mapToScene(area).boundingRect()):
            owner = item if getattr(item, "node_id", None) in nodes else item.parentItem()
            if owner is not None and getattr(owner, "node_id", None) in nodes:
                return True
        return False

    def reposition(self) -> None:
        """In the first corner with no node under it, folded to a button when there is none;
        shown only when part of the network is off screen."""
        if self._pixmap is None:
            self.hide()
            return
        vp = self.view.viewport().geometry()
        needed = not self._visible_scene_rect().contains(self._world.adjusted(30, 30, -30, -30))
        if not needed or vp.width() <= 3 * self._map_size.width():
            self.hide()
            return
        if not self._peek:
            free = [c for c in range(4) if not self.covers_a_node(self._corner_rect(c, self._map_size))]
            self.folded = not free
            small = QSize(FOLDED, FOLDED)
            if free:
                self._corner = free[0]
            else:
                self._corner = next((c for c in range(4) if not self.covers_a_node(self._corner_rect(c, small))), 0)
        size = QSize(FOLDED, FOLDED) if self.folded and not self._peek else self._map_size
        self.setGeometry(self._corner_rect(self._corner, size))
        self.setToolTip("Overview: hover to open, click or drag to move the view" if self.folded
                        else "Overview: click or drag to move the view")
        self.show()
        self.raise_()
        self.update()

    def enterEvent(self, event: QEnterEvent) -> None:
        if self.folded:
            self._peek = True
            self.reposition()
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if self._peek:
            self._peek = False
            self.reposition()
        super().leaveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._pixmap is None:
            return
        painter = QPainter(self)
        if self.folded and not self._peek:
            self._paint_button(painter)
            return
        painter.drawPixmap(0, 0, self._pixmap)
        frame = self._to_map(self._visible_scene_rect()).intersected(QRectF(1, 1, self.width() - 2, self.height() - 2))
        accent = QColor(theme.current().canvas.selection)
        painter.setPen(QPen(accent, 1.5))
        fill = QColor(accent)
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.drawRect(frame)

    def _paint_button(self, painter: QPainter) -> None:
        """The folded map: a small card with a frame inside, like the map it opens into."""
        c = theme.current()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bg = QColor(c.canvas.node_body)
        bg.setAlpha(235)
        painter.setPen(QPen(c.canvas.node_border, 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 5, 5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(c.canvas.node_muted))
        for dx, dy in ((6, 7), (14, 7), (6, 14), (14, 14)):
            painter.drawRect(QRectF(dx, dy, 5, 4))
        accent = QColor(c.canvas.selection)
        painter.setPen(QPen(accent, 1.4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(4.5, 5.5, 11, 10))

    def _jump(self, pos: QPointF) -> None:
        s = self._scale
        scene = QPointF(self._world.x() + (pos.x() - self._offset.x()) / s,
                        self._world.y() + (pos.y() - self._offset.y()) / s)
        self.view.release_fit()
        self.view.centerOn(scene)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.folded and not self._peek:
            self._peek = True
            self.reposition()
            event.accept()
            return
        self._jump(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._jump(event.position())
        event.accept()
