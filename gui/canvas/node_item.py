"""A node card: category-coloured header, type, output shape, parameter count and ports.

The card paints itself from a few display strings the scene sets from the document and the
analysis; it is cached as a device-coordinate pixmap, so a repaint of a large network is a blit per
node and only a card whose text changed (``set_info`` compares first) is drawn again. Ports are
painted by the card rather than being child items, which keeps a 1000-node scene at 1000 items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from graph import Node
from graph.layers import LayerSpec
from gui import theme
from gui.blocks import BLOCK_COLOR, paint_glyph

if TYPE_CHECKING:  # pragma: no cover
    from gui.canvas.edge_item import EdgeItem

WIDTH = 150.0
HEADER = 24.0
ROW = 17.0
PAD = 6.0
RADIUS = 7.0
PORT_RADIUS = 5.0
PORT_HIT = 11.0
#: below this zoom the text is unreadable anyway; draw plain cards
LOW_DETAIL = 0.4
#: how far the card behind a Block node's card shows (up and to the right)
STACK_OFFSET = 5.0
GLYPH = 14.0

PortKind = Literal["in", "out"]
PortState = Literal["valid", "invalid", "hover-valid", "hover-invalid"]


@dataclass(frozen=True)
class PortRef:
    node_id: str
    kind: PortKind
    name: str


class _Fonts:
    """Created on first paint: a QFont needs the application to exist."""

    _ready = False
    title: QFont
    small: QFont
    shape: QFont
    badge: QFont

    @classmethod
    def get(cls) -> type[_Fonts]:
        if not cls._ready:
            cls.title = QFont()
            cls.title.setPointSizeF(9.0)
            cls.title.setBold(True)
            cls.small = QFont()
            cls.small.setPointSizeF(7.8)
            cls.shape = QFont()
            cls.shape.setPointSizeF(9.0)
            cls.shape.setWeight(QFont.Weight.DemiBold)
            cls.badge = QFont()
            cls.badge.setPointSizeF(8.0)
            cls.badge.setBold(True)
            cls._ready = True
        return cls


def format_count(n: int) -> str:
    if n < 1000:
        return str(n)
    for limit, suffix in ((1e6, "k"), (1e9, "M"), (1e12, "G")):
        if n < limit:
            value = n / (limit / 1000)
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{n / 1e12:.0f}T"


class ErrorBadge(QGraphicsObject):
    """The red mark on a node with a problem; its tooltip is the core's message, word for word."""

    SIZE = 18.0

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(2)
        self.setAcceptHoverEvents(True)

    def boundingRect(self) -> QRectF:
        return QRectF(-self.SIZE / 2 - 1, -self.SIZE / 2 - 1, self.SIZE + 2, self.SIZE + 2)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        c = theme.current().canvas
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(c.node_body, 2))
        painter.setBrush(c.error)
        r = self.SIZE / 2
        painter.drawEllipse(QPointF(0, 0), r, r)
        painter.setPen(QColor("white"))
        painter.setFont(_Fonts.get().badge)
        painter.drawText(QRectF(-r, -r, 2 * r, 2 * r), Qt.AlignmentFlag.AlignCenter, "!")


class NodeItem(QGraphicsItem):
    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node_id = node.id
        self.title = node.name
        self.shape_text = ""
        self.dtype_text = ""
        self.param_count = 0
        self.error: str | None = None
        self.unwired = False
        self.edges: set[EdgeItem] = set()
        self.port_states: dict[tuple[PortKind, str], PortState] = {}
        #: a Block node: drawn as a stack of cards with the block glyph, its definition as subtitle
        self.is_block = node.is_block
        self.set_spec(node.spec)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setPos(*node.position)
        self.badge = ErrorBadge(self)
        self.badge.setPos(WIDTH - 4, 2)
        self.badge.hide()

    def set_spec(self, spec: LayerSpec) -> None:
        """Take a (new) spec: a Block node's ports and title follow its definition when it changes."""
        if hasattr(self, "rect"):
            self.prepareGeometryChange()
        self.spec = spec
        self._color = QColor(BLOCK_COLOR) if self.is_block else theme.category_color(spec.category)
        n_in, n_out = len(spec.inputs), len(spec.outputs)
        rows = max(2, n_in, n_out)
        self.body_height = rows * ROW + 2 * PAD
        self.rect = QRectF(0, 0, WIDTH, HEADER + self.body_height)
        m = PORT_RADIUS + 2
        stack = STACK_OFFSET if self.is_block else 0.0
        self._bounds = self.rect.adjusted(-m, -2 - stack, m + stack, 4)
        self._in_ports = {p.name: self._port_y(i, n_in) for i, p in enumerate(spec.inputs)}
        self._out_ports = {name: self._port_y(i, n_out) for i, name in enumerate(spec.outputs)}
        self.port_states = {}
        what = "Block — double-click to open" if self.is_block else spec.category
        self.setToolTip(f"<b>{spec.display_name}</b> · {what}<br>{spec.description}")
        for edge in self.edges:
            edge.update_path()
        self.update()

    def _port_y(self, index: int, count: int) -> float:
        if count <= 1:
            return HEADER + self.body_height / 2
        return HEADER + PAD + ROW * (index + 0.5)

    # -- geometry -------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.rect.adjusted(-PORT_RADIUS, 0, PORT_RADIUS, 0), RADIUS, RADIUS)
        return path

    def port_pos(self, kind: PortKind, name: str) -> QPointF:
        """Scene position of a port (edges end there)."""
        if kind == "in":
            return self.mapToScene(QPointF(0, self._in_ports.get(name, HEADER + self.body_height / 2)))
        return self.mapToScene(QPointF(WIDTH, self._out_ports.get(name, HEADER + self.body_height / 2)))

    def ports(self, kind: PortKind) -> list[str]:
        return list(self._in_ports if kind == "in" else self._out_ports)

    def port_at(self, scene_pos: QPointF, kind: PortKind | None = None) -> PortRef | None:
        local = self.mapFromScene(scene_pos)
        best: tuple[float, PortRef] | None = None
        for k, ports, x in (("in", self._in_ports, 0.0), ("out", self._out_ports, WIDTH)):
            if kind is not None and k != kind:
                continue
            for name, y in ports.items():
                d = ((local.x() - x) ** 2 + (local.y() - y) ** 2) ** 0.5
                if d <= PORT_HIT and (best is None or d < best[0]):
                    best = (d, PortRef(self.node_id, k, name))  # type: ignore[arg-type]
        return best[1] if best else None

    # -- display state --------------------------------------------------------------------------
    def set_title(self, title: str) -> None:
        if title != self.title:
            self.title = title
            self.update()

    def set_info(self, shape_text: str, dtype_text: str, params: int, error: str | None,
                 unwired: bool = False) -> bool:
        """Take the node's analysis result; repaint only if something visible changed.
        ``unwired``: the problem is a missing input, which the card says in two words."""
        if (shape_text, dtype_text, params, error, unwired) == (self.shape_text, self.dtype_text, self.param_count,
                                                               self.error, self.unwired):
            return False
        self.unwired = unwired
        if error != self.error:
            self.badge.setVisible(error is not None)
            self.badge.setToolTip(error or "")
        self.shape_text, self.dtype_text, self.param_count, self.error = shape_text, dtype_text, params, error
        self.update()
        return True

    def set_port_states(self, states: dict[tuple[PortKind, str], PortState]) -> None:
        if states != self.port_states:
            self.port_states = states
            self.update()

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            scene = self.scene()
            snap = getattr(scene, "snap_position", None)
            if snap is not None and isinstance(value, QPointF):
                return snap(value, self.node_id)
        elif change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.setZValue(1 if value else 0)
        return super().itemChange(change, value)

    # -- painting -------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        t = theme.current()
        c = t.canvas
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.rect
        selected = self.isSelected()

        if self.is_block:
            # the card behind: a block is a stack of layers
            back = rect.translated(STACK_OFFSET, -STACK_OFFSET)
            painter.setPen(QPen(self._color if not selected else c.selection, 1.4))
            painter.setBrush(c.node_body)
            painter.drawRoundedRect(back, RADIUS, RADIUS)
        if lod >= LOW_DETAIL:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(c.node_shadow)
            painter.drawRoundedRect(rect.translated(0, 2.5), RADIUS + 1, RADIUS + 1)

        # body
        if selected:
            border = QPen(c.selection, 2.2)
        elif self.error:
            border = QPen(c.error, 1.6)
        else:
            border = QPen(c.node_border, 1.0)
        painter.setPen(border)
        painter.setBrush(c.node_body)
        painter.drawRoundedRect(rect, RADIUS, RADIUS)

        # header band, rounded on top only; inset so the border stays visible around it
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._color)
        painter.drawPath(_header_path(self.rect, 1.1 if selected else 0.5))

        if lod >= LOW_DETAIL:
            self._paint_text(painter, c)
        self._paint_ports(painter, c)

    def _paint_text(self, painter: QPainter, c: theme.CanvasColors) -> None:
        fonts = _Fonts.get()
        # title
        painter.setFont(fonts.title)
        painter.setPen(c.header_text)
        fm = QFontMetricsF(fonts.title)
        title_rect = QRectF(10, 0, WIDTH - 20 - (GLYPH + 4 if self.is_block else 0), HEADER)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         fm.elidedText(self.title, Qt.TextElideMode.ElideRight, title_rect.width()))
        if self.is_block:
            paint_glyph(painter, QRectF(WIDTH - 10 - GLYPH, (HEADER - GLYPH) / 2, GLYPH, GLYPH), c.header_text)

        multi_in = len(self._in_ports) > 1
        left = 12.0
        right = WIDTH - 12.0
        top = HEADER + PAD + max(0.0, (self.body_height - 2 * PAD - 2 * ROW) / 2) if not multi_in else HEADER + PAD
        painter.setFont(fonts.small)
        small = QFontMetricsF(fonts.small)
        if multi_in:
            painter.setPen(c.node_muted)
            for name, y in self._in_ports.items():
                painter.drawText(QRectF(left, y - ROW / 2, 60, ROW), Qt.AlignmentFlag.AlignVCenter, name)
            left = 74.0
            top = HEADER + PAD + (self.body_height - 2 * PAD - 2 * ROW) / 2
        if len(self._out_ports) > 1:
            # a block with several outputs: each port says which Output inside it is
            painter.setPen(c.node_muted)
            for name, y in self._out_ports.items():
                painter.drawText(QRectF(WIDTH - 72.0, y - ROW / 2, 62.0, ROW),
                                 Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                                 small.elidedText(name, Qt.TextElideMode.ElideRight, 62.0))
            right = WIDTH - 76.0
            top = HEADER + PAD + (self.body_height - 2 * PAD - 2 * ROW) / 2
        # row 1: type and parameter count
        row1 = QRectF(left, top, right - left, ROW)
        params = f"{format_count(self.param_count)} params" if self.param_count else ""
        params_w = small.horizontalAdvance(params) + 6 if params else 0.0
        painter.setPen(c.node_muted)
        type_w = row1.width() - params_w
        painter.drawText(QRectF(row1.x(), row1.y(), type_w, ROW), Qt.AlignmentFlag.AlignVCenter,
                         small.elidedText(self.spec.display_name, Qt.TextElideMode.ElideRight, type_w))
        if params:
            painter.drawText(row1, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, params)
        # row 2: output shape
        row2 = QRectF(left, top + ROW, right - left, ROW)
        painter.setFont(fonts.shape)
        if self.shape_text:
            painter.setPen(c.node_text)
            text = self.shape_text + (f"  {self.dtype_text}" if self.dtype_text else "")
        elif self.error:
            painter.setPen(c.error)
            text = "not connected" if self.unwired else "shape error"
        else:
            painter.setPen(c.node_muted)
            text = "?" if self.spec.role != "input" else ""
        fm2 = QFontMetricsF(fonts.shape)
        painter.drawText(row2, Qt.AlignmentFlag.AlignVCenter,
                         fm2.elidedText(text, Qt.TextElideMode.ElideRight, row2.width()))

    def _paint_ports(self, painter: QPainter, c: theme.CanvasColors) -> None:
        for kind, ports, x in (("in", self._in_ports, 0.0), ("out", self._out_ports, WIDTH)):
            for name, y in ports.items():
                state = self.port_states.get((kind, name))  # type: ignore[call-overload]
                radius = PORT_RADIUS
                fill = c.port
                pen = QPen(c.port_border, 1.4)
                if state is not None:
                    color = c.valid if state in ("valid", "hover-valid") else c.invalid
                    fill = color if state.startswith("hover") or state == "valid" else c.port
                    pen = QPen(color, 2.0)
                    radius = PORT_RADIUS + (2.0 if state.startswith("hover") else 1.0)
                multi = kind == "in" and self.spec.is_merge
                painter.setPen(pen)
                painter.setBrush(QBrush(fill))
                if multi:  # a merge port takes many edges: draw it as a pill
                    painter.drawRoundedRect(QRectF(x - radius, y - radius * 1.8, 2 * radius, 3.6 * radius),
                                            radius, radius)
                else:
                    painter.drawEllipse(QPointF(x, y), radius, radius)


def _header_path(rect: QRectF, inset: float) -> QPainterPath:
    rounded = QPainterPath()
    rounded.addRoundedRect(QRectF(rect.x() + inset, rect.y() + inset, rect.width() - 2 * inset, HEADER + RADIUS),
                           RADIUS - inset, RADIUS - inset)
    clip = QPainterPath()
    clip.addRect(QRectF(rect.x(), rect.y(), rect.width(), HEADER))
    return rounded.intersected(clip)
