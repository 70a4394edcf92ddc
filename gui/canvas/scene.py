"""The scene mirrors one network: it creates, moves and removes items in response to the
document's events and never changes the document itself (the view pushes commands for that).

Shapes, parameter counts and problem badges come from the session's single analysis per edit;
``apply_analysis`` touches only the items whose text actually changed, so editing one node of a
1000-node network repaints a handful of cards unless the edit really changes shapes downstream.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QPointF, QRectF, QTimer, Signal
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from graph import Analysis, Edge, Network, Node
from graph.events import (
    BlockUpdated,
    EdgeAdded,
    EdgeRemoved,
    GraphEvent,
    NodeAdded,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
)
from graph.tensor_type import FLOAT, TensorType
from gui.canvas.edge_item import EdgeItem
from gui.canvas.node_item import NodeItem
from gui.session import EditorSession

log = logging.getLogger(__name__)

GRID = 20.0
SCENE_EXTENT = 200_000.0


def shape_label(t: TensorType | None) -> tuple[str, str]:
    """(shape, dtype note): float32 is the norm and goes unsaid; token ids are worth a word."""
    if t is None:
        return "", ""
    return str(t), ("" if t.dtype == FLOAT else t.dtype)


class CanvasScene(QGraphicsScene):
    #: nodes were added, removed or moved (the minimap redraws; not emitted during a drag)
    layoutChanged = Signal()

    def __init__(self, session: EditorSession, network: Network) -> None:
        super().__init__()
        self.session = session
        self.network = network
        self.snap_to_grid = True
        self._syncing = False
        #: where each node of the drag in progress started (set by the view)
        self.drag_origins: dict[str, tuple[float, float]] = {}
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[str, EdgeItem] = {}
        # removing a selected item makes Qt announce a selection change at once; deleting 1000
        # selected nodes would redo every selection-driven panel 1000 times. One announcement,
        # on the next turn of the event loop, says it all.
        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(0)
        self._selection_timer.timeout.connect(self.selectionChanged.emit)
        self.setSceneRect(QRectF(-SCENE_EXTENT / 2, -SCENE_EXTENT / 2, SCENE_EXTENT, SCENE_EXTENT))
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        for node in network.nodes:
            self._add_node(node)
        for edge in network.edges:
            self._add_edge(edge)
        network.subscribe(self._on_event)
        session.analysisChanged.connect(self._on_analysis)
        self.apply_analysis(session.analysis(network))

    def detach(self) -> None:
        """Stop mirroring (the network left the project, or the project was replaced)."""
        self.network.unsubscribe(self._on_event)
        try:
            self.session.analysisChanged.disconnect(self._on_analysis)
        except (RuntimeError, TypeError):  # already gone with the session
            pass

    # -- document events ------------------------------------------------------------------------
    def _on_event(self, event: GraphEvent) -> None:
        if isinstance(event, NodeAdded | NodeRemoved | NodeMoved):
            self.layoutChanged.emit()
        if isinstance(event, NodeAdded):
            self._add_node(event.node)
        elif isinstance(event, NodeRemoved):
            item = self.nodes.pop(event.node.id, None)
            if item is not None:
                for edge in list(item.edges):
                    self._remove_edge(edge.edge_id)
                self._remove_item(item)
        elif isinstance(event, EdgeAdded):
            self._add_edge(event.edge)
        elif isinstance(event, EdgeRemoved):
            self._remove_edge(event.edge.id)
        elif isinstance(event, NodeRenamed):
            item = self.nodes.get(event.node_id)
            if item is not None:
                item.set_title(event.new)
        elif isinstance(event, BlockUpdated):
            # the definition behind these nodes changed: ports, subtitle and tooltip follow; shapes
            # and counts arrive with the analysis that this edit triggers
            for node_id in event.node_ids:
                item = self.nodes.get(node_id)
                if item is not None and node_id in self.network:
                    node = self.network.node(node_id)
                    item.set_spec(node.spec)
                    item.set_title(node.name)
        elif isinstance(event, NodeMoved):
            item = self.nodes.get(event.node_id)
            if item is not None and (item.pos().x(), item.pos().y()) != event.new:
                self._syncing = True
                try:
                    item.setPos(*event.new)
                finally:
                    self._syncing = False

    def _add_node(self, node: Node) -> None:
        item = NodeItem(node)
        self.nodes[node.id] = item
        self.addItem(item)

    def _add_edge(self, edge: Edge) -> None:
        item = EdgeItem(edge, self.nodes[edge.source], self.nodes[edge.target])
        self.edges[edge.id] = item
        self.addItem(item)

    def _remove_edge(self, edge_id: str) -> None:
        item = self.edges.pop(edge_id, None)
        if item is not None:
            item.detach()
            self._remove_item(item)

    def _remove_item(self, item: QGraphicsItem) -> None:
        if not item.isSelected():
            self.removeItem(item)
            return
        self.blockSignals(True)
        try:
            self.removeItem(item)
        finally:
            self.blockSignals(False)
        self._selection_timer.start()

    # -- analysis -------------------------------------------------------------------------------
    def _on_analysis(self, network: Network, analysis: Analysis) -> None:
        if network is self.network:
            self.apply_analysis(analysis)

    def apply_analysis(self, analysis: Analysis) -> int:
        """Returns how many items changed (the benchmark and tests read it)."""
        changed = 0
        for node_id, item in self.nodes.items():
            info = analysis.nodes.get(node_id)
            if info is None:
                continue
            shape, dtype = shape_label(info.output)
            changed += item.set_info(shape, dtype, info.cost.params, info.error,
                                     info.error is not None and not self.network.in_edges(node_id))
        for edge_id, item in self.edges.items():
            t = analysis.edges.get(edge_id)
            text = "" if t is None else (str(t) if t.dtype == FLOAT else f"{t} {t.dtype}")
            if text != item.label.text:
                item.set_shape_text(text)
                changed += 1
        return changed

    # -- selection and geometry helpers -----------------------------------------------------------
    def snap_position(self, pos: QPointF, node_id: str | None = None) -> QPointF:
        """Onto the grid. A node being dragged moves in whole grid steps from where the drag
        began instead, so nodes dragged together keep their exact relative layout."""
        if self._syncing or not self.snap_to_grid:
            return pos
        origin = self.drag_origins.get(node_id) if node_id is not None else None
        if origin is not None:
            return QPointF(origin[0] + round((pos.x() - origin[0]) / GRID) * GRID,
                           origin[1] + round((pos.y() - origin[1]) / GRID) * GRID)
        return QPointF(round(pos.x() / GRID) * GRID, round(pos.y() / GRID) * GRID)

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edge_ids(self) -> list[str]:
        return [i.edge_id for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, node_ids: list[str] | set[str]) -> None:
        wanted = set(node_ids)
        self.blockSignals(True)
        try:
            self.clearSelection()
            for node_id in wanted:
                item = self.nodes.get(node_id)
                if item is not None:
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def nodes_rect(self, node_ids: list[str] | None = None) -> QRectF:
        items = self.nodes.values() if node_ids is None else [self.nodes[i] for i in node_ids if i in self.nodes]
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        return rect
