"""The canvas view: navigation (wheel zoom on the cursor, middle or space drag to pan, fit),
the dotted grid, palette drops, wire drags and node moves.

Gestures become undo commands here; the view never edits items directly except for the live
feedback of a drag (a moving card, a temporary wire), which the resulting command then makes true
in the document.
"""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QCursor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QResizeEvent,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QGraphicsPathItem, QGraphicsView, QMenu, QToolTip, QWidget

from graph import GraphError, get_layer
from graph.splice import check_splice
from gui import blocks, commands, theme
from gui.canvas.edge_item import EdgeItem
from gui.canvas.minimap import Minimap
from gui.canvas.node_item import HEADER, PAD, ROW, WIDTH, NodeItem, PortRef
from gui.canvas.rewire import (
    ReplaceWireCommand,
    edge_under,
    insert_moved_node_command,
    insert_new_node_command,
)
from gui.canvas.scene import GRID, CanvasScene
from gui.canvas.wiring import WireDrag
from gui.session import EditorSession

log = logging.getLogger(__name__)

LAYER_MIME = "application/x-deepcanvas-layer"
MIN_ZOOM = 0.08
MAX_ZOOM = 3.0
#: block actions the context menu offers first, those that apply to what is selected
BLOCK_MENU = ("open_block", "group_block", "expand_block", "independent_block", "save_block")
#: fitting a big network never zooms out further than this (a screen of readable cards beats a
#: map of specks); fitting a small one never zooms in past 100 %
FIT_MIN_ZOOM = 0.75
#: the horizontal gap between a node and one added after it with Tab
QUICK_ADD_GAP = 80.0


class CanvasView(QGraphicsView):
    zoomChanged = Signal(float)
    #: a sentence for the status bar (a refused connection, a hint)
    message = Signal(str)
    #: ask the window for the quick-add popup: (scene position, optional (node id, port) to wire from)
    quickAddRequested = Signal(QPointF, object)
    #: a node was double-clicked (the window puts the cursor in the inspector's name field)
    nodeDoubleClicked = Signal(str)
    #: a Block node was double-clicked: open its inside (the tabs do)
    blockOpenRequested = Signal(str)

    def __init__(self, session: EditorSession, scene: CanvasScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        scene.setParent(self)   # one lifetime: the scene goes when its tab goes
        self.session = session
        self.canvas = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self._pan_from: QPointF | None = None
        self._space = False
        self._wire: WireDrag | None = None
        self._wire_press = QPointF()
        self._press_positions: dict[str, tuple[float, float]] = {}
        self.last_refusal = ""
        self._fit_pending = False
        #: the view shows the whole network as fitted and nobody has panned or zoomed since: a new
        #: size (docks settling, the window restored or maximised) fits it again
        self._stay_fitted = False
        #: the wire a dragged node (or a palette item) would go into, and its glow
        self._splice_edge: EdgeItem | None = None
        self._splice_glow: QGraphicsPathItem | None = None
        self._splice_ok = True
        self._splice_reasons: dict[tuple[str, str], str] = {}
        self.minimap = Minimap(self)
        scene.layoutChanged.connect(self.minimap.schedule_rebuild)
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self.minimap.reposition())
        self.verticalScrollBar().valueChanged.connect(lambda _v: self.minimap.reposition())
        self.minimap.rebuild()

    # -- zoom and pan ---------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the scene point under ``anchor`` (viewport coordinates; default: the
        centre) where it is on screen."""
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        factor = zoom / self.zoom
        if abs(factor - 1) < 1e-9:
            return
        anchor_pt = (anchor if anchor is not None else QPointF(self.viewport().rect().center())).toPoint()
        before = self.mapToScene(anchor_pt)
        self.scale(factor, factor)
        after = self.mapToScene(anchor_pt)
        self.pan_by_scene(before - after)
        self.minimap.reposition()
        self.zoomChanged.emit(self.zoom)

    def zoom_in(self) -> None:
        self._stay_fitted = False
        self.set_zoom(self.zoom * 1.25)

    def zoom_out(self) -> None:
        self._stay_fitted = False
        self.set_zoom(self.zoom / 1.25)

    def reset_zoom(self) -> None:
        self._stay_fitted = False
        self.set_zoom(1.0)

    def pan_by_scene(self, delta: QPointF) -> None:
        centre = self.mapToScene(self.viewport().rect().center()) + delta
        self.centerOn(centre)

    def pan_by_pixels(self, dx: float, dy: float) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(dx))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(dy))

    def fit_to_view(self, selection_only: bool = False) -> None:
        ids = self.canvas.selected_node_ids() if selection_only else None
        self._stay_fitted = not ids
        rect = self.canvas.nodes_rect(ids or None)
        if rect.isEmpty():
            self.set_zoom(1.0)
            self.centerOn(QPointF(WIDTH / 2, 0))
            return
        rect = rect.adjusted(-60, -60, 60, 60)
        view = self.viewport().rect()
        zoom = min(view.width() / rect.width(), view.height() / rect.height())
        zoom = min(1.0, max(FIT_MIN_ZOOM, zoom))
        self.set_zoom(zoom)
        if zoom * rect.width() > view.width():
            # too wide to fit: start where the data enters (the left), centred vertically
            self.centerOn(QPointF(rect.left() + view.width() / (2 * zoom), rect.center().y()))
        else:
            self.centerOn(rect.center())

    def request_fit(self) -> None:
        """Fit now if the view has its real size, else as soon as it is shown and laid out."""
        if self.isVisible() and self.viewport().width() > 50:
            self.fit_to_view()
        else:
            self._fit_pending = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._stay_fitted and not self._fit_pending and event.size() != event.oldSize() and self.isVisible():
            # fitted at the size the view had while the window was still being laid out: the
            # input or the output would hang off an edge at the size it ends up with
            self.fit_to_view()
        self._fit_if_pending()
        self.minimap.reposition()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_if_pending()

    def _fit_if_pending(self) -> None:
        if self._fit_pending and self.isVisible() and self.viewport().width() > 50:
            self._fit_pending = False
            self.fit_to_view()

    def release_fit(self) -> None:
        """The person moved the view (the overview, a search): a new size no longer refits it."""
        self._stay_fitted = False

    def centre_on_node(self, node_id: str) -> None:
        self._stay_fitted = False
        item = self.canvas.nodes.get(node_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())

    def wheelEvent(self, event: QWheelEvent) -> None:
        self._stay_fitted = False
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta == 0:
            return
        self.set_zoom(self.zoom * math.pow(1.0015, delta), event.position())
        event.accept()

    # -- grid -----------------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        c = theme.current().canvas
        painter.fillRect(rect, c.background)
        zoom = self.zoom
        step = GRID
        while step * zoom < 14:
            step *= 2
        major = step * 5
        for spacing, color, size in ((step, c.grid_dot, 1.6), (major, c.grid_dot_major, 2.4)):
            if spacing * zoom < 10:
                continue
            self._draw_dots(painter, rect, spacing, color, size)

    def _draw_dots(self, painter: QPainter, rect: QRectF, spacing: float, color: QColor, size: float) -> None:
        """One dotted line per grid row (a round-capped zero-length dash per dot): a few dozen
        calls per frame instead of thousands of points."""
        zoom = self.zoom
        pen = QPen(color, size)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setDashPattern([0.001, spacing * zoom / size])
        painter.setPen(pen)
        left = math.floor(rect.left() / spacing) * spacing
        top = math.floor(rect.top() / spacing) * spacing
        y = top
        while y <= rect.bottom():
            painter.drawLine(QLineF(left, y, rect.right() + spacing, y))
            y += spacing

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.canvas.nodes:
            return
        painter.save()
        painter.resetTransform()
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.setPen(theme.current().canvas.hint_text)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                         "Drag a layer from the palette\nor press Tab to search for one")
        painter.restore()

    # -- palette drops --------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            type_id = bytes(event.mimeData().data(LAYER_MIME).data()).decode("utf-8")
            self._hover_splice(self.mapToScene(event.position().toPoint()), type_id=type_id)
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dragLeaveEvent(self, event: QEvent) -> None:
        self._show_splice_target(None)
        super().dragLeaveEvent(event)  # type: ignore[arg-type]

    def dropEvent(self, event: QDropEvent) -> None:
        if not event.mimeData().hasFormat(LAYER_MIME):
            super().dropEvent(event)
            return
        type_id = bytes(event.mimeData().data(LAYER_MIME).data()).decode("utf-8")
        scene_pos = self.mapToScene(event.position().toPoint())
        wire = self._hover_splice(scene_pos, type_id=type_id)
        self._show_splice_target(None)
        if wire is None or not self._insert_new(type_id, scene_pos, wire):
            self.add_node(type_id, scene_pos)
        event.acceptProposedAction()
        self.setFocus()

    # -- dropping a node into a wire ------------------------------------------------------------
    def _hover_splice(self, scene_pos: QPointF, type_id: str | None = None,
                      node_id: str | None = None) -> EdgeItem | None:
        """Light up the wire under the cursor that a drop would put the node into: green when
        its shapes fit, red (with the reason in the status bar) when they do not."""
        if type_id is not None and blocks.is_block_key(type_id):
            self._show_splice_target(None)
            return None
        edge = edge_under(self.canvas, scene_pos, skip_node=node_id)
        reason = self._splice_reason(edge.edge_id, type_id, node_id) if edge is not None else ""
        if edge is not self._splice_edge and edge is not None and reason:
            self.message.emit(f"Not into this wire: {reason}")
        self._show_splice_target(edge, ok=not reason)
        return edge

    def _splice_reason(self, edge_id: str, type_id: str | None, node_id: str | None) -> str:
        """Why the node would not go into the wire ("" when it would); judged once per drag."""
        key = (edge_id, type_id or node_id or "")
        if key not in self._splice_reasons:
            net = self.canvas.network
            try:
                if node_id is not None:
                    node = net.node(node_id)
                    check_splice(net, edge_id, node.spec, node.params, node_id=node_id)
                else:
                    spec = get_layer(type_id or "")
                    check_splice(net, edge_id, spec, spec.defaults())
                self._splice_reasons[key] = ""
            except GraphError as exc:
                self._splice_reasons[key] = str(exc)
        return self._splice_reasons[key]

    def _show_splice_target(self, edge: EdgeItem | None, ok: bool = True) -> None:
        if edge is self._splice_edge and (edge is None or ok == self._splice_ok):
            return
        self._splice_ok = ok
        if self._splice_glow is not None:
            self.canvas.removeItem(self._splice_glow)
            self._splice_glow = None
        self._splice_edge = edge
        if edge is None:
            self._splice_reasons.clear()
            return
        c = theme.current().canvas
        color = QColor(c.valid if ok else c.invalid)
        color.setAlpha(120)
        glow = QGraphicsPathItem(edge.shape())
        glow.setPen(QPen(Qt.PenStyle.NoPen))
        glow.setBrush(color)
        glow.setZValue(-0.5)
        glow.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.canvas.addItem(glow)
        self._splice_glow = glow

    def _insert_new(self, type_id: str, scene_pos: QPointF, wire: EdgeItem) -> bool:
        """A palette item dropped on a wire: add it into the wire as one undo step. When the
        shapes do not fit it is added beside it instead (False), and the status bar says why."""
        net = self.canvas.network
        pos = self.canvas.snap_position(QPointF(scene_pos.x() - WIDTH / 2, scene_pos.y() - HEADER / 2))
        try:
            command, add = insert_new_node_command(net, type_id, (pos.x(), pos.y()), wire.edge_id)
        except GraphError as exc:
            self.refuse(f"Added, but not into the wire: {exc}")
            return False
        self.session.push(command)
        if add.node_id is not None:
            self.canvas.select_nodes([add.node_id])
        return True

    def _loose_dragged_node(self) -> str | None:
        """The one node being dragged, when it has no wires (only such a node drops into a wire)."""
        if len(self._press_positions) != 1:
            return None
        node_id = next(iter(self._press_positions))
        net = self.canvas.network
        if node_id not in net or net.in_edges(node_id) or net.out_edges(node_id):
            return None
        return node_id

    def add_node(self, type_id: str, scene_pos: QPointF, connect_from: tuple[str, str] | None = None) -> str | None:
        """Add a node centred under ``scene_pos`` (snapped to the grid); returns its id. ``type_id``
        may also be a block entry's key (palette, quick-add): the block comes with its definition."""
        pos = self.canvas.snap_position(QPointF(scene_pos.x() - WIDTH / 2, scene_pos.y() - HEADER / 2))
        if blocks.is_block_key(type_id):
            return self._add_block(type_id, (pos.x(), pos.y()), connect_from)
        try:
            command = commands.AddNodeCommand(self.canvas.network, type_id, (pos.x(), pos.y()),
                                              connect_from=connect_from)
        except GraphError as exc:
            self.refuse(str(exc))
            return None
        self.session.push(command)
        if command.node_id is not None:
            self.canvas.select_nodes([command.node_id])
            self._stay_fitted = False
            self.ensureVisible(self.canvas.nodes[command.node_id].sceneBoundingRect(), 40, 40)
        return command.node_id

    def _add_block(self, key: str, pos: tuple[float, float], connect_from: tuple[str, str] | None) -> str | None:
        try:
            command = blocks.add_block_command(self.canvas.network, self.session.project, key, pos, connect_from)
        except GraphError as exc:
            self.refuse(f"Cannot add the block: {exc}")
            return None
        self.session.push(command)
        node_id: str = command.result.id
        self.canvas.select_nodes([node_id])
        return node_id

    def view_centre(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    # -- mouse ----------------------------------------------------------------------------------
    def _node_at(self, view_pos: QPoint) -> NodeItem | None:
        for item in self.items(view_pos):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if isinstance(item, NodeItem):
                return item
        return None

    def port_at(self, view_pos: QPoint) -> PortRef | None:
        scene_pos = self.mapToScene(view_pos)
        r = 12
        for item in self.items(view_pos.x() - r, view_pos.y() - r, 2 * r, 2 * r):
            if isinstance(item, NodeItem):
                port = item.port_at(scene_pos)
                if port is not None:
                    return port
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._stay_fitted = False       # the person works in the view as it is now
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton:
            port = self.port_at(event.position().toPoint())
            if port is not None:
                self._wire_press = event.position()
                self._begin_wire(port)
                event.accept()
                return
        super().mousePressEvent(event)
        if button == Qt.MouseButton.LeftButton:
            self._press_positions = {i.node_id: (i.pos().x(), i.pos().y())
                                     for i in self.canvas.selectedItems() if isinstance(i, NodeItem)}
            self.canvas.drag_origins = dict(self._press_positions)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan_by_pixels(-delta.x(), -delta.y())
            event.accept()
            return
        if self._wire is not None:
            verdict = self._wire.move(self.mapToScene(event.position().toPoint()))
            if verdict is not None and not verdict.ok:
                QToolTip.showText(event.globalPosition().toPoint(), verdict.reason, self)
            else:
                QToolTip.hideText()
            event.accept()
            return
        super().mouseMoveEvent(event)
        if event.buttons() & Qt.MouseButton.LeftButton:
            node_id = self._loose_dragged_node()
            if node_id is not None:
                self._hover_splice(self.mapToScene(event.position().toPoint()), node_id=node_id)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        if self._wire is not None and event.button() == Qt.MouseButton.LeftButton:
            moved = (event.position() - self._wire_press).manhattanLength()
            if moved < QApplication.startDragDistance():   # a click on a port is not a drag
                self._cancel_wire()
            else:
                self._finish_wire(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._commit_moves()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        if event.button() == Qt.MouseButton.LeftButton and self.port_at(pos) is None:
            node = self._node_at(pos)
            if node is None:
                self.quickAddRequested.emit(self.mapToScene(pos), None)
            elif node.is_block:
                self.blockOpenRequested.emit(node.node_id)
            else:
                self.nodeDoubleClicked.emit(node.node_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def _commit_moves(self) -> None:
        wire, loose = self._splice_edge, self._loose_dragged_node()
        self._show_splice_target(None)
        moves = {}
        for node_id, old in self._press_positions.items():
            item = self.canvas.nodes.get(node_id)
            if item is None:
                continue
            new = (item.pos().x(), item.pos().y())
            if new != old:
                moves[node_id] = (old, new)
        self._press_positions = {}
        self.canvas.drag_origins = {}
        if wire is not None and loose is not None and loose in moves:
            try:
                command = insert_moved_node_command(self.canvas.network, loose, moves, wire.edge_id)
            except GraphError as exc:
                self.session.push(commands.MoveNodesCommand(self.canvas.network, moves))
                self.refuse(f"Moved, but not into the wire: {exc}")
                return
            self.session.push(command)
            return
        if moves:
            self.session.push(commands.MoveNodesCommand(self.canvas.network, moves))

    # -- wires ----------------------------------------------------------------------------------
    def _begin_wire(self, port: PortRef) -> None:
        self._wire = WireDrag(self.canvas, port)
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        self._wire.light_up([i for i in self.canvas.items(visible) if isinstance(i, NodeItem)])
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)

    def _cancel_wire(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.end()
        self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
        QToolTip.hideText()

    def _finish_wire(self, scene_pos: QPointF) -> None:
        wire = self._wire
        assert wire is not None
        self._wire = None
        wire.move(scene_pos)
        target, verdict = wire.hover, wire.verdict
        wire.end()
        self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
        QToolTip.hideText()
        net = self.canvas.network
        if target is None:
            if wire.picked_edge is not None:
                self.session.push(commands.delete_command(net, edge_ids=[wire.picked_edge]))
            elif wire.forward:
                self.quickAddRequested.emit(scene_pos, (wire.anchor.node_id, wire.anchor.name))
            return
        assert verdict is not None
        if not verdict.ok:
            self.refuse(verdict.reason)
            return
        if verdict.noop:
            return
        note = ""
        try:
            if wire.forward:
                # a taken single input: the new wire replaces the one there, in the same undo step
                replace = ReplaceWireCommand(net, wire.anchor.node_id, target.node_id, wire.anchor.name, target.port)
                command = replace
                if wire.picked_edge is not None:
                    command = commands.MacroCommand(f"Reconnect {net.node(wire.anchor.node_id).name}",
                                                    [commands.DisconnectCommand(net, wire.picked_edge), replace])
                elif replace.old is not None:
                    note = f"Replaced the wire from {net.node(replace.old.source).name}"
            else:
                outputs = net.node(target.node_id).spec.outputs
                command = commands.ConnectCommand(net, target.node_id, wire.anchor.node_id,
                                                  target.port or outputs[0], wire.anchor.name)
        except GraphError as exc:  # the graph changed under the drag; say so rather than crash
            self.refuse(str(exc))
            return
        self.session.push(command)
        if note:
            self.message.emit(note)

    def refuse(self, reason: str) -> None:
        """Say why an edit was not made: beside the cursor and in the status bar."""
        self.last_refusal = reason
        log.info("refused: %s", reason)
        self.message.emit(reason)
        if self.isVisible():
            QToolTip.showText(QCursor.pos(), reason, self)
            QTimer.singleShot(4000, QToolTip.hideText)

    # -- keyboard -------------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        # Tab opens the quick-add search instead of moving the focus
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) \
                and event.key() == Qt.Key.Key_Tab and not event.modifiers():
            self.open_quick_add_at_cursor()
            return True
        return super().event(event)

    def open_quick_add_at_cursor(self) -> None:
        """Tab: with one node selected, the new layer comes right after it, wired to it, in a free
        spot; otherwise it goes where the cursor is."""
        selected = self.canvas.selected_node_ids()
        if len(selected) == 1:
            node = self.canvas.network.node(selected[0])
            if node.spec.outputs:
                self.quickAddRequested.emit(self.free_spot_after(node.id), (node.id, node.spec.outputs[0]))
                return
        pos = self.mapFromGlobal(QCursor.pos())
        scene_pos = self.mapToScene(pos) if self.viewport().rect().contains(pos) else self.view_centre()
        self.quickAddRequested.emit(scene_pos, None)

    def free_spot_after(self, node_id: str) -> QPointF:
        """Where a node added after ``node_id`` goes (the point ``add_node`` centres it under): one
        column to the right, on the same row if that is free, else the nearest free row above or
        below, so it never lands on another card."""
        item = self.canvas.nodes[node_id]
        height = max(item.rect.height(), HEADER + 2 * ROW + 2 * PAD)
        step = math.ceil((height + GRID) / GRID) * GRID
        left = item.pos().x() + WIDTH + QUICK_ADD_GAP
        for column in range(6):
            x = left + column * (WIDTH + QUICK_ADD_GAP)
            for k in range(12):
                dy = (k + 1) // 2 * step * (1 if k % 2 else -1)
                spot = self.canvas.snap_position(QPointF(x, item.pos().y() + dy))
                room = QRectF(spot.x(), spot.y(), WIDTH, height).adjusted(-GRID, -GRID / 2, GRID, GRID / 2)
                if not any(isinstance(i, NodeItem) for i in self.canvas.items(room)):
                    return spot + QPointF(WIDTH / 2, HEADER / 2)
        return QPointF(left + WIDTH / 2, item.pos().y() + HEADER / 2)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._stay_fitted = False
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and self._wire is not None:
            self._cancel_wire()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = QMenu(self)
        node = self._node_at(event.pos())
        items = [i for i in self.items(event.pos()) if isinstance(i, EdgeItem)]
        if node is not None and not node.isSelected():
            self.canvas.select_nodes([node.node_id])
        elif node is None and items and not items[0].isSelected():
            self.canvas.clearSelection()
            items[0].setSelected(True)
        window = self.window()
        names = ("cut", "copy", "paste", "duplicate", "delete", None, "select_all", "fit", "layout", None, "quick_add")
        actions = getattr(window, "actions_by_name", {})
        block_actions = [actions[n] for n in BLOCK_MENU if n in actions and actions[n].isEnabled()]
        for action in block_actions:
            menu.addAction(action)
        if block_actions:
            menu.addSeparator()
        for name in names:
            if name is None:
                menu.addSeparator()
            elif name in actions:
                menu.addAction(actions[name])
        if not menu.isEmpty():
            menu.exec(event.globalPos())
