"""An overview in the corner of the canvas: every node as a coloured dot and the visible area as a
frame; click or drag in it to jump. It appears only when the network is larger than the view, so
a big network can be shown at a readable zoom without losing the overall picture."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsView, QWidget

from gui import theme

MAX_W, MAX_H = 220, 130
MARGIN = 12


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
        self.setFixedSize(w, h)
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

    def reposition(self) -> None:
        """Bottom-right corner of the viewport; shown only when part of the network is off screen."""
        if self._pixmap is None:
            self.hide()
            return
        vp = self.view.viewport().geometry()
        self.move(vp.right() - self.width() - MARGIN, vp.bottom() - self.height() - MARGIN)
        needed = not self._visible_scene_rect().contains(self._world.adjusted(30, 30, -30, -30))
        self.setVisible(needed and vp.width() > 3 * self.width())
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._pixmap is None:
            return
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        frame = self._to_map(self._visible_scene_rect()).intersected(QRectF(1, 1, self.width() - 2, self.height() - 2))
        accent = QColor(theme.current().canvas.selection)
        painter.setPen(QPen(accent, 1.5))
        fill = QColor(accent)
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.drawRect(frame)

    def _jump(self, pos: QPointF) -> None:
        s = self._scale
        scene = QPointF(self._world.x() + (pos.x() - self._offset.x()) / s,
                        self._world.y() + (pos.y() - self._offset.y()) / s)
        self.view.centerOn(scene)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._jump(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._jump(event.position())
        event.accept()
