"""An edge: a horizontal S-curve from an output port to an input port, labelled with the shape of
the tensor it carries. The label is a cached child item so that a repaint blits it and a node drag
only recomputes the curve."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from graph import Edge
from gui import theme
from gui.canvas.node_item import LOW_DETAIL, PORT_RADIUS, NodeItem

#: farther apart than the gap between two neighbouring columns of the layered layout
SKIP_DISTANCE = 150.0


def wire_path(start: QPointF, end: QPointF) -> QPainterPath:
    """The curve every wire uses (edges and the one being dragged).

    A wire that skips over columns on about the same row would run hidden behind the cards in
    between (a residual connection in a layered layout), so it arches over them instead."""
    dx, dy = end.x() - start.x(), end.y() - start.y()
    path = QPainterPath(start)
    if dx > SKIP_DISTANCE and abs(dy) < 60:
        lift = min(70.0 + dx * 0.08, 180.0)
        path.cubicTo(QPointF(start.x() + 50, start.y() - lift), QPointF(end.x() - 50, end.y() - lift), end)
        return path
    bend = max(abs(dx) * 0.5, 40.0) if dx >= 0 else 60.0 + min(abs(dx) * 0.3, 160.0)
    path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end)
    return path


class EdgeLabel(QGraphicsItem):
    _font: QFont | None = None

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.text = ""
        self._rect = QRectF()
        self._bounds = QRectF()
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.hide()

    @classmethod
    def font(cls) -> QFont:
        if cls._font is None:
            cls._font = QFont()
            cls._font.setPointSizeF(7.5)
            cls._font.setStretch(QFont.Stretch.Condensed)
        return cls._font

    def set_text(self, text: str) -> None:
        if text == self.text:
            return
        self.prepareGeometryChange()
        self.text = text
        fm = QFontMetricsF(self.font())
        w, h = fm.horizontalAdvance(text) + 8, fm.height() + 2
        self._rect = QRectF(-w / 2, -h / 2, w, h)
        self._bounds = self._rect.adjusted(-1, -1, 1, 1)
        self.update()

    @property
    def width(self) -> float:
        return self._rect.width()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < LOW_DETAIL:
            return
        c = theme.current().canvas
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(c.node_border, 0.8))
        painter.setBrush(c.edge_label_bg)
        painter.drawRoundedRect(self._rect, self._rect.height() / 2, self._rect.height() / 2)
        painter.setFont(self.font())
        painter.setPen(c.edge_label_text)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


class EdgeItem(QGraphicsItem):
    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem) -> None:
        super().__init__()
        self.edge_id = edge.id
        self.source_item, self.target_item = source, target
        self.source_port, self.target_port = edge.source_port, edge.target_port
        self.has_shape = True
        self._path = QPainterPath()
        self._bounds = QRectF()
        self._shape: QPainterPath | None = None
        self.setZValue(-1)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.label = EdgeLabel(self)
        source.edges.add(self)
        target.edges.add(self)
        self.update_path()

    def detach(self) -> None:
        self.source_item.edges.discard(self)
        self.target_item.edges.discard(self)

    def update_path(self) -> None:
        self.prepareGeometryChange()
        start = self.source_item.port_pos("out", self.source_port)
        end = self.target_item.port_pos("in", self.target_port)
        self._path = wire_path(start, end)
        self._bounds = self._path.boundingRect().adjusted(-4, -4, 4, 4)
        self._shape = None
        self.label.setPos(self._path.pointAtPercent(0.5))
        self._place_label(start, end)

    def _place_label(self, start: QPointF, end: QPointF) -> None:
        """Show the shape on the wire only where it fits between the cards; the edge's tooltip
        always has it."""
        room = abs(end.x() - start.x()) - 2 * PORT_RADIUS - 2
        fits = room >= self.label.width or abs(end.y() - start.y()) >= 44
        self.label.setVisible(bool(self.label.text) and fits)

    def set_shape_text(self, text: str) -> None:
        self.label.set_text(text)
        self.setToolTip(f"Carries {text}" if text else "Shape unknown: something upstream has a problem")
        self._place_label(self.source_item.port_pos("out", self.source_port),
                          self.target_item.port_pos("in", self.target_port))
        has_shape = bool(text)
        if has_shape != self.has_shape:
            self.has_shape = has_shape
            self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(12)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        # edges are not cached (a long one would need a large pixmap), so this runs for every
        # visible edge on every frame: pens come ready-made and nothing is allocated here
        painter.setRenderHint(_ANTIALIAS)
        painter.setPen(_pens()[2 if self.isSelected() else (0 if self.has_shape else 1)])
        painter.setBrush(_NO_BRUSH)
        painter.drawPath(self._path)


_ANTIALIAS = QPainter.RenderHint.Antialiasing
_NO_BRUSH = Qt.BrushStyle.NoBrush
_pen_cache: dict[int, tuple[QPen, QPen, QPen]] = {}


def _pens() -> tuple[QPen, QPen, QPen]:
    """(normal, shape unknown, selected) for the current theme."""
    t = theme.current()
    pens = _pen_cache.get(id(t))
    if pens is None:
        c = t.canvas
        normal, unknown, selected = QPen(c.edge, 2.0), QPen(c.edge, 2.0), QPen(c.edge_selected, 3.0)
        unknown.setStyle(Qt.PenStyle.DashLine)
        for pen in (normal, unknown, selected):
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        _pen_cache.clear()
        _pen_cache[id(t)] = pens = (normal, unknown, selected)
    return pens
