"""Every edit the editor can make, as a QUndoCommand that touches only the document.

Commands never reach into the scene: the canvas follows the document's events, so undo and redo
repaint correctly by construction. Ids are remembered on the first ``redo`` and reused afterwards,
which keeps later commands on the stack (that refer to those ids) valid through undo/redo cycles.
Arguments are validated in ``__init__`` (raising :class:`graph.GraphError`) so that a refused edit
never reaches the stack.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand

from graph import Edge, GraphError, Network, Node, Project, get_layer
from graph.document import BLOCK_TYPE, clean_name
from graph.layout import layered_positions
from graph.project_file import network_from_dict

Point = tuple[float, float]


class MacroCommand(QUndoCommand):
    """One undo step made of several commands: redo runs them in order, undo in reverse.

    The steps are plain Python objects rather than Qt child commands: PySide and Qt would otherwise
    both believe they own the children, and the stack crashes when it discards an undone macro.
    """

    def __init__(self, text: str, steps: Iterable[QUndoCommand] = ()) -> None:
        super().__init__(text)
        self.steps: list[QUndoCommand] = list(steps)

    def add(self, command: QUndoCommand) -> QUndoCommand:
        self.steps.append(command)
        return command

    def redo(self) -> None:
        for step in self.steps:
            step.redo()

    def undo(self) -> None:
        for step in reversed(self.steps):
            step.undo()


# -- nodes ----------------------------------------------------------------------------------------
class AddNodeCommand(QUndoCommand):
    def __init__(self, network: Network, type_id: str, position: Point = (0.0, 0.0),
                 params: Mapping[str, Any] | None = None, name: str | None = None,
                 connect_from: tuple[str, str] | None = None) -> None:
        # a Block's spec comes from its definition (and refuses a block inside itself)
        spec = network.spec_for(type_id, dict(params or {})) if type_id == BLOCK_TYPE else get_layer(type_id)
        super().__init__(f"Add {spec.display_name}")
        self.network = network
        self.type_id = spec.type_id
        self.position = (float(position[0]), float(position[1]))
        self.params = dict(params or {})
        self.name = clean_name(name) if name is not None else None
        #: (node id, output port) to wire into the new node when it has a free input
        self.connect_from = connect_from
        self.node_id: str | None = None
        self.edge_id: str | None = None
        self._connect_ok: bool | None = None

    def redo(self) -> None:
        node = self.network.add_node(self.type_id, self.params, self.name, self.position, node_id=self.node_id)
        self.node_id, self.name = node.id, node.name
        if self.connect_from is not None:
            source, port = self.connect_from
            if self._connect_ok is None:
                self._connect_ok = self.network.can_connect(source, node.id, port)[0]
            if self._connect_ok:
                edge = self.network.connect(source, node.id, port, edge_id=self.edge_id)
                self.edge_id = edge.id

    def undo(self) -> None:
        assert self.node_id is not None
        self.network.remove_node(self.node_id)


class RemoveNodeCommand(QUndoCommand):
    """Remove one node; its edges come back with the same ids on undo."""

    def __init__(self, network: Network, node_id: str) -> None:
        node = network.node(node_id)
        super().__init__(f"Remove {node.name}")
        self.network = network
        self.node_id = node_id
        self._node: Node | None = None
        self._edges: list[Edge] = []

    def redo(self) -> None:
        self._node, self._edges = self.network.remove_node(self.node_id)

    def undo(self) -> None:
        node = self._node
        assert node is not None
        self.network.add_node(node.type_id, dict(node.params), node.name, node.position, node_id=node.id)
        restore_edges(self.network, self._edges)


def restore_edges(network: Network, edges: Iterable[Edge]) -> None:
    for e in edges:
        network.connect(e.source, e.target, e.source_port, e.target_port, edge_id=e.id)


class ConnectCommand(QUndoCommand):
    def __init__(self, network: Network, source: str, target: str, source_port: str = "out",
                 target_port: str | None = None) -> None:
        self.target_port = network.check_connect(source, target, source_port, target_port)
        super().__init__(f"Connect {network.node(source).name} → {network.node(target).name}")
        self.network = network
        self.source, self.target, self.source_port = source, target, source_port
        self.edge_id: str | None = None

    def redo(self) -> None:
        edge = self.network.connect(self.source, self.target, self.source_port, self.target_port,
                                    edge_id=self.edge_id)
        self.edge_id = edge.id

    def undo(self) -> None:
        assert self.edge_id is not None
        self.network.disconnect(self.edge_id)


class DisconnectCommand(QUndoCommand):
    def __init__(self, network: Network, edge_id: str) -> None:
        self.edge = network.edge(edge_id)
        super().__init__(f"Disconnect {network.node(self.edge.source).name} → "
                         f"{network.node(self.edge.target).name}")
        self.network = network

    def redo(self) -> None:
        self.network.disconnect(self.edge.id)

    def undo(self) -> None:
        restore_edges(self.network, [self.edge])


def delete_command(network: Network, node_ids: Iterable[str] = (), edge_ids: Iterable[str] = (),
                   text: str | None = None) -> MacroCommand | None:
    """One undo step removing nodes (with every edge touching them) and loose edges: edges go first
    as steps of their own, so undo restores the nodes before the edges that need them."""
    nodes = [n for n in dict.fromkeys(node_ids) if n in network]
    edges: dict[str, None] = {e: None for e in edge_ids if network.has_edge(e)}
    for node_id in nodes:
        for e in (*network.in_edges(node_id), *network.out_edges(node_id)):
            edges[e.id] = None
    if not nodes and not edges:
        return None
    if text is None:
        if nodes:
            text = f"Delete {network.node(nodes[0]).name}" if len(nodes) == 1 else f"Delete {len(nodes)} nodes"
        else:
            text = "Delete edge" if len(edges) == 1 else f"Delete {len(edges)} edges"
    macro = MacroCommand(text)
    for edge_id in edges:
        macro.add(DisconnectCommand(network, edge_id))
    for node_id in nodes:
        macro.add(RemoveNodeCommand(network, node_id))
    return macro


def reconnect_command(network: Network, edge_id: str, target: str, target_port: str | None) -> MacroCommand:
    """Move the target end of an edge (a wire picked up from an input and dropped on another).
    The old edge cannot block its replacement (it leaves the source, so it closes no loop, and it
    feeds another port), so the ordinary connect check applies as is."""
    old = network.edge(edge_id)
    port = network.check_connect(old.source, target, old.source_port, target_port)
    macro = MacroCommand(f"Reconnect {network.node(old.source).name}")
    macro.add(DisconnectCommand(network, edge_id))
    macro.add(ConnectCommand(network, old.source, target, old.source_port, port))
    return macro


# -- params, names, positions -----------------------------------------------------------------
class SetParamCommand(QUndoCommand):
    """One parameter change. Consecutive changes of the same field with the same ``merge_key``
    (the inspector gives one per focus of an editor) merge, so typing "128" is one undo step."""

    ID = 0x0DC1

    def __init__(self, network: Network, node_id: str, name: str, value: Any,
                 merge_key: object | None = None) -> None:
        node = network.node(node_id)
        try:
            spec = node.spec.param(name)
        except KeyError:
            raise GraphError(f"{node.label()} has no parameter {name!r}") from None
        self.new = spec.coerce(value)
        self.old = node.params[name]
        super().__init__(f"Set {node.name}.{spec.title.lower()}")
        self.network, self.node_id, self.name, self.merge_key = network, node_id, name, merge_key

    @property
    def changes_anything(self) -> bool:
        return self.new != self.old

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if (not isinstance(other, SetParamCommand) or self.merge_key is None or other.merge_key != self.merge_key
                or other.network is not self.network or (other.node_id, other.name) != (self.node_id, self.name)):
            return False
        self.new = other.new
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.network.set_param(self.node_id, self.name, self.new)

    def undo(self) -> None:
        self.network.set_param(self.node_id, self.name, self.old)


class RenameNodeCommand(QUndoCommand):
    def __init__(self, network: Network, node_id: str, name: str) -> None:
        self.new = clean_name(name)
        self.old = network.node(node_id).name
        super().__init__(f"Rename {self.old} to {self.new}")
        self.network, self.node_id = network, node_id

    def redo(self) -> None:
        self.network.rename_node(self.node_id, self.new)

    def undo(self) -> None:
        self.network.rename_node(self.node_id, self.old)


class MoveNodesCommand(QUndoCommand):
    """One drag (or one layout) is one step, however many nodes it moved."""

    def __init__(self, network: Network, moves: Mapping[str, tuple[Point, Point]], text: str = "") -> None:
        self.moves = {k: (tuple(old), tuple(new)) for k, (old, new) in moves.items() if tuple(old) != tuple(new)}
        if not text:
            text = f"Move {network.node(next(iter(self.moves))).name}" if len(self.moves) == 1 \
                else f"Move {len(self.moves)} nodes"
        super().__init__(text)
        self.network = network

    def redo(self) -> None:
        for node_id, (_old, new) in self.moves.items():
            self.network.move_node(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _new) in self.moves.items():
            self.network.move_node(node_id, old)


def layout_command(network: Network, origin: Point = (0.0, 0.0)) -> MoveNodesCommand | None:
    moves = {nid: (network.node(nid).position, pos) for nid, pos in layered_positions(network, origin).items()}
    moves = {k: v for k, v in moves.items() if v[0] != v[1]}
    return MoveNodesCommand(network, moves, "Auto layout") if moves else None


# -- clipboard ------------------------------------------------------------------------------------
class PasteCommand(QUndoCommand):
    """Add a copied fragment (``network_to_dict`` form) under fresh ids, its top-left corner at
    ``anchor``; node names that are taken get a number. Edges inside the fragment come along."""

    def __init__(self, network: Network, fragment: Mapping[str, Any], anchor: Point,
                 text: str = "Paste") -> None:
        # Block nodes name definitions of the network's library (added beforehand when they came along)
        self.fragment = network_from_dict({k: v for k, v in fragment.items() if k != "blocks"}, "clipboard",
                                          network.library)
        if not len(self.fragment):
            raise GraphError("there is nothing to paste")
        super().__init__(text)
        self.network = network
        xs = [n.position[0] for n in self.fragment.nodes]
        ys = [n.position[1] for n in self.fragment.nodes]
        self.delta = (anchor[0] - min(xs), anchor[1] - min(ys))
        self.node_ids: dict[str, str] = {}   # fragment id -> id in the network
        self.names: dict[str, str] = {}
        self.edge_ids: dict[str, str] = {}

    def redo(self) -> None:
        net, dx, dy = self.network, *self.delta
        for node in self.fragment.nodes:
            name = self.names.get(node.id) or net.unique_name(node.name)
            added = net.add_node(node.type_id, dict(node.params), name,
                                 (node.position[0] + dx, node.position[1] + dy), node_id=self.node_ids.get(node.id))
            self.node_ids[node.id], self.names[node.id] = added.id, added.name
        for e in self.fragment.edges:
            edge = net.connect(self.node_ids[e.source], self.node_ids[e.target], e.source_port, e.target_port,
                               edge_id=self.edge_ids.get(e.id))
            self.edge_ids[e.id] = edge.id

    def undo(self) -> None:
        for node_id in reversed(list(self.node_ids.values())):
            self.network.remove_node(node_id)

    @property
    def pasted_ids(self) -> list[str]:
        return list(self.node_ids.values())


# -- whole-project snapshots (blocks) ---------------------------------------------------------------
class SnapshotCommand(QUndoCommand):
    """An edit made by a core function that changes several networks and the block library at once
    (group into a block, expand one, expose a param, drop or paste a block with its definition).

    The edit runs in ``__init__`` so that a refusal (a GraphError) raises before anything reaches the
    stack, with the document put back as it was. Undo and redo restore whole-project snapshots in
    the order the library needs: definitions first, then the networks using them, then definitions
    nobody uses any more are dropped. A definition that comes back is the very same object, so
    commands further up the stack that hold its network keep working."""

    def __init__(self, project: Project, text: str, edit: Callable[[], Any]) -> None:
        super().__init__(text)
        self.project = project
        library = project.blocks
        self._before = self._state()
        self._definitions = {id(d): d for d in library}
        try:
            #: what the edit returned (the new Block node, the expanded nodes, ...)
            self.result = edit()
        except Exception:
            self._restore(self._before)
            raise
        self._definitions.update({id(d): d for d in library})
        self._after = self._state()
        self._done = True

    @property
    def changes_anything(self) -> bool:
        return self._before != self._after

    def _state(self) -> tuple[dict[str, Any], list[tuple[Network, dict[str, Any]]]]:
        return self.project.blocks.state(), [(net, net.state()) for net in self.project.networks]

    def _restore(self, state: tuple[dict[str, Any], list[tuple[Network, dict[str, Any]]]]) -> None:
        library_state, networks = state
        library = self.project.blocks
        for defn in self._definitions.values():
            if defn.name in library_state and defn.name not in library:
                library.add(defn)
        library.restore(library_state, "before")
        for net, net_state in networks:
            if any(net is n for n in self.project.networks):
                net.restore(net_state)
        library.restore(library_state, "after")

    def redo(self) -> None:
        if self._done:         # the edit itself was the first redo
            self._done = False
            return
        self._restore(self._after)

    def undo(self) -> None:
        self._restore(self._before)


class RenameBlockCommand(QUndoCommand):
    """Rename a block definition; every Block node using it follows, and an open block tab keeps its
    network (a rename is not a remove and re-add)."""

    def __init__(self, project: Project, old: str, new: str) -> None:
        library = project.blocks
        library.get(old)
        self.new = clean_name(new)
        if self.new != old and self.new in library:
            raise GraphError(f"a block definition named '{self.new}' already exists")
        super().__init__(f"Rename block {old} to {self.new}")
        self.project, self.old = project, old

    def redo(self) -> None:
        self.project.blocks.rename(self.old, self.new)

    def undo(self) -> None:
        self.project.blocks.rename(self.new, self.old)


# -- networks -------------------------------------------------------------------------------------
class AddNetworkCommand(QUndoCommand):
    """Re-adds the very same Network object on redo, so commands further up the stack that hold
    it keep working."""

    def __init__(self, project: Project, name: str) -> None:
        self.network = Network(project.unique_network_name(clean_name(name)))
        super().__init__(f"Add network {self.network.name}")
        self.project = project

    def redo(self) -> None:
        self.project.add_network(self.network)

    def undo(self) -> None:
        self.project.remove_network(self.network.name)


class RemoveNetworkCommand(QUndoCommand):
    def __init__(self, project: Project, network: Network) -> None:
        if len(project.networks) <= 1:
            raise GraphError("a project keeps at least one network")
        super().__init__(f"Remove network {network.name}")
        self.project, self.network = project, network
        self.index = project.networks.index(network)

    def redo(self) -> None:
        self.project.remove_network(self.network.name)

    def undo(self) -> None:
        self.project.add_network(self.network, self.index)


class RenameNetworkCommand(QUndoCommand):
    def __init__(self, project: Project, network: Network, name: str) -> None:
        self.new = clean_name(name)
        self.old = network.name
        if self.new != self.old and any(n.name == self.new for n in project.networks):
            raise GraphError(f"a network named {self.new!r} already exists")
        super().__init__(f"Rename network {self.old} to {self.new}")
        self.project, self.network = project, network

    def redo(self) -> None:
        self.project.rename_network(self.old, self.new)

    def undo(self) -> None:
        self.project.rename_network(self.new, self.old)


# -- project settings (data set, training options) ----------------------------------------------------
class SetSettingCommand(QUndoCommand):
    """Replace one entry of ``project.settings`` (``"dataset"``, ``"training"``). Consecutive changes
    with the same ``merge_key`` merge into one undo step (typing "128" into a field is one step).
    Undo of a first setting removes the key again, so the document is exactly as it was."""

    ID = 0x0DC2
    _MISSING: Any = object()

    def __init__(self, project: Project, key: str, value: Any, text: str = "",
                 merge_key: object | None = None) -> None:
        super().__init__(text or f"Change {key} settings")
        self.project, self.key, self.merge_key = project, key, merge_key
        self.old = copy.deepcopy(project.settings[key]) if key in project.settings else self._MISSING
        self.new = copy.deepcopy(value)

    @property
    def changes_anything(self) -> bool:
        return self.old is self._MISSING or self.old != self.new

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if (not isinstance(other, SetSettingCommand) or self.merge_key is None or other.merge_key != self.merge_key
                or other.project is not self.project or other.key != self.key):
            return False
        self.new = other.new
        if not self.changes_anything:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.project.set_setting(self.key, copy.deepcopy(self.new))

    def undo(self) -> None:
        if self.old is self._MISSING:
            self.project.remove_setting(self.key)
        else:
            self.project.set_setting(self.key, copy.deepcopy(self.old))


# -- weights attached to the project -----------------------------------------------------------------
class SetWeightsCommand(QUndoCommand):
    """Attach trained weights (a state dict) to one network of the project, e.g. "Use these weights"
    of a past run. Weights are not part of the document; the session keeps them and saves them
    beside the project file. As an undo step it marks the project modified, so they get saved."""

    def __init__(self, session: Any, network: str, state: Mapping[str, Any] | None, source: str = "",
                 text: str = "") -> None:
        super().__init__(text or f"Use weights for {network}")
        self.session, self.network = session, network
        self.new = (dict(state) if state is not None else None, source)
        self.old = session.network_weights(network)

    def redo(self) -> None:
        self.session.set_network_weights(self.network, *self.new)

    def undo(self) -> None:
        self.session.set_network_weights(self.network, *self.old)
