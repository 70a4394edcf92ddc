"""Undo commands for the two rewiring habits of node editors (the rules live in ``graph.splice``):
a wire dropped on a taken input replaces the old one, and a node dropped on a wire goes into it.
Each is one undo step, whatever number of edges it changes; like every command they touch only the
document, and the canvas follows its events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QUndoCommand

from graph import Edge, Network, get_layer
from graph.splice import Splice, check_replace, check_splice
from gui.canvas.edge_item import EdgeItem
from gui.canvas.scene import CanvasScene
from gui.commands import AddNodeCommand, MacroCommand, MoveNodesCommand, restore_edges


class ReplaceWireCommand(QUndoCommand):
    """Connect ``source -> target``; an edge already feeding that (single) input is removed in the
    same step and comes back, with its id, on undo."""

    def __init__(self, network: Network, source: str, target: str, source_port: str = "out",
                 target_port: str | None = None) -> None:
        self.port, self.old = check_replace(network, source, target, source_port, target_port)
        dst = network.node(target)
        verb = "Replace the wire into" if self.old is not None else "Connect to"
        super().__init__(f"{verb} {dst.name}")
        self.network = network
        self.source, self.target, self.source_port = source, target, source_port
        self.edge_id: str | None = None

    def redo(self) -> None:
        if self.old is not None:
            self.network.disconnect(self.old.id)
        edge = self.network.connect(self.source, self.target, self.source_port, self.port, edge_id=self.edge_id)
        self.edge_id = edge.id

    def undo(self) -> None:
        assert self.edge_id is not None
        self.network.disconnect(self.edge_id)
        if self.old is not None:
            restore_edges(self.network, [self.old])


class SpliceCommand(QUndoCommand):
    """``A -> B`` becomes ``A -> node -> B``; ``node`` is an id, or a callable giving the id of a
    node added by an earlier step of the same macro (its id is known only once that step ran)."""

    def __init__(self, network: Network, splice: Splice, node: str | Callable[[], str | None]) -> None:
        super().__init__("Insert into wire")
        self.network = network
        self.splice = splice
        self._node = node
        self.edge_ids: list[str | None] = [None, None]

    @property
    def node_id(self) -> str:
        node_id = self._node if isinstance(self._node, str) else self._node()
        assert node_id is not None
        return node_id

    def redo(self) -> None:
        old: Edge = self.splice.edge
        node_id = self.node_id
        self.network.disconnect(old.id)
        first = self.network.connect(old.source, node_id, old.source_port, self.splice.in_port,
                                     edge_id=self.edge_ids[0])
        second = self.network.connect(node_id, old.target, self.splice.out_port, old.target_port,
                                      edge_id=self.edge_ids[1])
        self.edge_ids = [first.id, second.id]

    def undo(self) -> None:
        for edge_id in reversed(self.edge_ids):
            assert edge_id is not None
            self.network.disconnect(edge_id)
        restore_edges(self.network, [self.splice.edge])


def insert_new_node_command(network: Network, type_id: str, position: tuple[float, float],
                            edge_id: str) -> tuple[MacroCommand, AddNodeCommand]:
    """Add a layer of ``type_id`` and put it into the wire ``edge_id`` (raises why it cannot).
    Returns the one-step command and its adding step (which knows the new id once pushed)."""
    spec = get_layer(type_id)
    splice = check_splice(network, edge_id, spec, spec.defaults())
    add = AddNodeCommand(network, type_id, position)
    macro = MacroCommand(f"Insert {spec.display_name}")
    macro.add(add)
    macro.add(SpliceCommand(network, splice, lambda: add.node_id))
    return macro, add


def insert_moved_node_command(network: Network, node_id: str, moves: dict[str, Any], edge_id: str) -> MacroCommand:
    """A loose node dragged onto a wire: its move and its insertion are one undo step."""
    node = network.node(node_id)
    splice = check_splice(network, edge_id, node.spec, node.params, node_id=node_id)
    macro = MacroCommand(f"Insert {node.name}")
    if moves:
        macro.add(MoveNodesCommand(network, moves))
    macro.add(SpliceCommand(network, splice, node_id))
    return macro


def edge_under(scene: CanvasScene, scene_pos: QPointF, skip_node: str | None = None) -> EdgeItem | None:
    """The wire under the cursor (within its hit stroke), ignoring wires of ``skip_node``."""
    r = 6.0
    near = QRectF(scene_pos.x() - r, scene_pos.y() - r, 2 * r, 2 * r)
    for item in scene.items(near, Qt.ItemSelectionMode.IntersectsItemShape, Qt.SortOrder.DescendingOrder):
        if not isinstance(item, EdgeItem) or not item.isVisible():
            continue
        if skip_node is not None and skip_node in (item.source_item.node_id, item.target_item.node_id):
            continue
        return item
    return None
