"""The document: a project of named networks, each a networkx DAG of layer nodes.

This is the one truth the canvas, inspector, compiler, exporter and trainer read. Every rule of a
well-formed graph (ports exist, no cycles, one edge per input port except on merges, no duplicate
edges) is enforced here and raises a typed :class:`~graph.errors.GraphError`; ``can_connect``
answers the same question without raising so a view can light up valid targets while dragging.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from graph.errors import (
    ConnectionRefused,
    CycleError,
    DuplicateEdgeError,
    GraphError,
    NodeNotFoundError,
    ParamError,
    PortError,
)
from graph.events import (
    BlockUpdated,
    EdgeAdded,
    EdgeRemoved,
    GraphEvent,
    NetworkAdded,
    NetworkRemoved,
    NetworkRenamed,
    NodeAdded,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
    Observable,
    ParamChanged,
    SettingsChanged,
)
from graph.layers import LayerSpec, get_layer

MAX_NAME_LENGTH = 100
#: the type id of a node that holds a sub-network (a block definition of the project's library)
BLOCK_TYPE = "Block"
_ID_NUMBER = re.compile(r"(\d+)$")


MAX_ID_LENGTH = 100


def _id_number(ident: str) -> int:
    match = _ID_NUMBER.search(ident)
    return int(match.group(1)[-18:]) if match else 0


def _check_id(ident: Any, what: str) -> str:
    if not isinstance(ident, str) or not ident or len(ident) > MAX_ID_LENGTH:
        raise GraphError(f"a {what} id must be text of 1 to {MAX_ID_LENGTH} characters")
    return ident


def _point(position: Iterable[float]) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in position)
    except (TypeError, ValueError, OverflowError):
        raise GraphError("a position must be two numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise GraphError("a position must be two finite numbers")
    return x, y


@dataclass
class Node:
    id: str
    type_id: str
    name: str
    params: dict[str, Any]
    position: tuple[float, float] = (0.0, 0.0)
    #: a Block node's spec, made from its definition (ports, params, shape rule); None otherwise
    block_spec: LayerSpec | None = field(default=None, repr=False, compare=False)

    @property
    def spec(self) -> LayerSpec:
        return self.block_spec or get_layer(self.type_id)

    @property
    def is_block(self) -> bool:
        return self.type_id == BLOCK_TYPE

    def label(self) -> str:
        """How messages name the node: ``Dense 'fc1'``."""
        return f"{self.spec.display_name} '{self.name}'"


@dataclass(frozen=True)
class Edge:
    id: str
    source: str
    source_port: str
    target: str
    target_port: str


def clean_name(name: Any) -> str:
    if not isinstance(name, str):
        raise GraphError(f"a name must be text, not {name!r}")
    if any(unicodedata.category(ch) == "Cs" for ch in name):
        raise GraphError("a name may not contain lone surrogates (broken unicode text)")
    # whitespace of any kind becomes one space; other control characters are dropped (first, so
    # that a name cleaned once is cleaned to itself: "a\r\x1b" must not end in a space)
    name = " ".join("".join(ch for ch in name if ch.isspace() or unicodedata.category(ch) != "Cc").split())
    if not name:
        raise GraphError("a name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise GraphError(f"a name may have at most {MAX_NAME_LENGTH} characters")
    return name


def fit_name(stem: str, suffix: str = "") -> str:
    """``stem + suffix`` within :data:`MAX_NAME_LENGTH`: names the model makes up (a default name,
    a numbered copy) must obey the limit that :func:`clean_name` puts on names a person types, or
    the project saves but cannot be opened again. The stem is shortened, never the suffix (the
    number that makes the name unique), and no space is left dangling where it was cut."""
    if len(stem) + len(suffix) <= MAX_NAME_LENGTH:
        return stem + suffix
    return stem[:max(MAX_NAME_LENGTH - len(suffix), 0)].rstrip() + suffix


def coerce_params(spec: LayerSpec, params: dict[str, Any] | None) -> dict[str, Any]:
    values = spec.defaults()
    for key, value in (params or {}).items():
        try:
            p = spec.param(key)
        except KeyError:
            raise ParamError(f"{spec.display_name} has no parameter {key!r}") from None
        values[key] = p.coerce(value)
    return values


class Network(Observable):
    """One DAG of layer nodes. Its ``graph`` is a MultiDiGraph (two edges may join the same pair
    of nodes on different ports) whose edge keys are edge ids."""

    def __init__(self, name: str = "main") -> None:
        super().__init__()
        self.name = clean_name(name)
        self.graph: nx.MultiDiGraph = nx.MultiDiGraph()
        self._nodes: dict[str, Node] = {}
        self._edges: dict[str, Edge] = {}
        self._next_node = 1
        self._next_edge = 1
        #: bumps on every change; analysis caches key on it
        self.revision = 0
        #: derived data (shape analysis); never saved
        self.meta: dict[str, Any] = {}
        #: the project's block library (a :class:`graph.blocks.BlockLibrary`); Block nodes need it
        self.library: Any = None

    # -- reading ------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        return sorted(self._nodes.values(), key=lambda n: _id_number(n.id))

    @property
    def edges(self) -> list[Edge]:
        return sorted(self._edges.values(), key=lambda e: _id_number(e.id))

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise NodeNotFoundError(f"no node with id {node_id!r} in network '{self.name}'") from None

    def edge(self, edge_id: str) -> Edge:
        try:
            return self._edges[edge_id]
        except KeyError:
            raise NodeNotFoundError(f"no edge with id {edge_id!r} in network '{self.name}'") from None

    def has_edge(self, edge_id: str) -> bool:
        return edge_id in self._edges

    def find(self, name: str) -> Node:
        """The node with this display name (the builder and tests address nodes by name)."""
        for node in self._nodes.values():
            if node.name == name:
                return node
        raise NodeNotFoundError(f"no node named {name!r} in network '{self.name}'")

    def in_edges(self, node_id: str, port: str | None = None) -> list[Edge]:
        edges = [self._edges[k] for _, _, k in self.graph.in_edges(node_id, keys=True)]
        if port is not None:
            edges = [e for e in edges if e.target_port == port]
        return sorted(edges, key=lambda e: _id_number(e.id))

    def out_edges(self, node_id: str) -> list[Edge]:
        edges = [self._edges[k] for _, _, k in self.graph.out_edges(node_id, keys=True)]
        return sorted(edges, key=lambda e: _id_number(e.id))

    def topological_order(self) -> list[Node]:
        """Deterministic: among ready nodes the oldest goes first, so compiling twice with one
        seed creates (and initialises) modules in the same order."""
        order = nx.lexicographical_topological_sort(self.graph, key=_id_number)
        return [self._nodes[n] for n in order]

    def inputs(self) -> list[Node]:
        return [n for n in self.nodes if n.spec.role == "input"]

    def outputs(self) -> list[Node]:
        return [n for n in self.nodes if n.spec.role == "output"]

    def unique_name(self, base: str, exclude: str | None = None) -> str:
        base = fit_name(base)
        taken = {n.name for n in self._nodes.values() if n.id != exclude}
        if base not in taken:
            return base
        stem = re.sub(r"[_ ]?\d+$", "", base) or base
        k = 2
        while fit_name(stem, f"_{k}") in taken:
            k += 1
        return fit_name(stem, f"_{k}")

    def default_name(self, type_id: str, params: dict[str, Any] | None = None) -> str:
        spec = self.spec_for(type_id, params)
        if spec.role in ("input", "output"):
            return self.unique_name(spec.role)
        base = spec.display_name if type_id == BLOCK_TYPE else spec.type_id
        stem = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", base)
        stem = re.sub(r"\W+", "_", stem).strip("_").lower() or "block"
        return self.unique_name(fit_name(stem, "_1"))

    def spec_for(self, type_id: str, params: dict[str, Any] | None = None) -> LayerSpec:
        """The spec a new node of this type gets: a Block's comes from its definition in the library."""
        if type_id != BLOCK_TYPE:
            return get_layer(type_id)
        if self.library is None:
            raise GraphError("a Block node needs a project whose block library holds its definition")
        block = (params or {}).get("block")
        spec: LayerSpec = self.library.spec(block)
        self.library.check_use(self, block)
        return spec

    def block_nodes(self, block: str | None = None) -> list[Node]:
        return [n for n in self.nodes if n.is_block and (block is None or n.params.get("block") == block)]

    # -- editing ------------------------------------------------------------------------------
    def add_node(self, type_id: str, params: dict[str, Any] | None = None, name: str | None = None,
                 position: Iterable[float] = (0.0, 0.0), node_id: str | None = None) -> Node:
        spec = self.spec_for(type_id, params)
        values = coerce_params(spec, params)
        if node_id is None:
            node_id = f"n{self._next_node}"
        elif _check_id(node_id, "node") in self._nodes:
            raise GraphError(f"node id {node_id!r} is already used")
        x, y = _point(position)
        self._next_node = max(self._next_node, _id_number(node_id) + 1)
        node = Node(node_id, spec.type_id,
                    clean_name(name) if name is not None else self.default_name(type_id, params),
                    values, (x, y), block_spec=spec if type_id == BLOCK_TYPE else None)
        self._nodes[node_id] = node
        self.graph.add_node(node_id)
        self._changed(NodeAdded(self, node))
        return node

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node with its edges; returns both so an undo can put them back as they were."""
        node = self.node(node_id)
        edges = sorted({*self.in_edges(node_id), *self.out_edges(node_id)}, key=lambda e: _id_number(e.id))
        for edge in edges:
            self.disconnect(edge.id)
        del self._nodes[node_id]
        self.graph.remove_node(node_id)
        self._changed(NodeRemoved(self, node))
        return node, edges

    def check_connect(self, source: str, target: str, source_port: str = "out",
                      target_port: str | None = None, replacing: bool = False) -> str:
        """Raise the reason the edge is not allowed, or return the target port it would use.
        ``replacing``: the edge would take the place of the one feeding a single input (the caller
        removes that one first), so an occupied input is no reason to refuse."""
        src, dst = self.node(source), self.node(target)
        if source_port not in src.spec.outputs:
            if not src.spec.outputs:
                raise PortError(f"{src.label()} is an end point and has no output to connect from")
            raise PortError(f"{src.label()} has no output port {source_port!r}")
        if not dst.spec.inputs:
            raise PortError(f"{dst.label()} is a start point and takes no inputs")
        if target_port is None:
            # all taken: name the first port so the message says what feeds it
            target_port = self.free_input_port(target) or dst.spec.inputs[0].name
        port = dst.spec.input_port(target_port)
        if port is None:
            raise PortError(f"{dst.label()} has no input port {target_port!r}")
        if source == target:
            raise CycleError(f"cannot connect {src.label()} to itself: networks may not contain loops")
        if nx.has_path(self.graph, target, source):
            raise CycleError(f"connecting {src.label()} to {dst.label()} would create a loop; "
                             f"networks must flow one way")
        for edge in self.in_edges(target, target_port):
            if edge.source == source and edge.source_port == source_port:
                raise DuplicateEdgeError(f"{src.label()} is already connected to {dst.label()}")
            if not port.multi and not replacing:
                other = self.node(edge.source)
                raise PortError(f"input '{target_port}' of {dst.label()} is already fed by {other.label()}; "
                                f"remove that edge first, or use an Add or Concat to merge branches")
        return target_port

    def can_connect(self, source: str, target: str, source_port: str = "out",
                    target_port: str | None = None) -> tuple[bool, str]:
        try:
            self.check_connect(source, target, source_port, target_port)
        except (ConnectionRefused, NodeNotFoundError) as exc:
            return False, str(exc)
        return True, ""

    def free_input_port(self, node_id: str) -> str | None:
        for port in self.node(node_id).spec.inputs:
            if port.multi or not self.in_edges(node_id, port.name):
                return port.name
        return None

    def connect(self, source: str, target: str, source_port: str = "out", target_port: str | None = None,
                edge_id: str | None = None) -> Edge:
        target_port = self.check_connect(source, target, source_port, target_port)
        if edge_id is None:
            edge_id = f"e{self._next_edge}"
        elif _check_id(edge_id, "edge") in self._edges:
            raise GraphError(f"edge id {edge_id!r} is already used")
        self._next_edge = max(self._next_edge, _id_number(edge_id) + 1)
        edge = Edge(edge_id, source, source_port, target, target_port)
        self._edges[edge_id] = edge
        self.graph.add_edge(source, target, key=edge_id)
        self._changed(EdgeAdded(self, edge))
        return edge

    def disconnect(self, edge_id: str) -> Edge:
        edge = self.edge(edge_id)
        del self._edges[edge_id]
        self.graph.remove_edge(edge.source, edge.target, key=edge_id)
        self._changed(EdgeRemoved(self, edge))
        return edge

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        node = self.node(node_id)
        try:
            spec = node.spec.param(name)
        except KeyError:
            raise ParamError(f"{node.label()} has no parameter {name!r}") from None
        new = spec.coerce(value)
        old = node.params[name]
        if new != old:
            node.params[name] = new
            self._changed(ParamChanged(self, node_id, name, old, new))
        return new

    def rename_node(self, node_id: str, name: str) -> str:
        node = self.node(node_id)
        new = clean_name(name)
        old = node.name
        if new != old:
            node.name = new
            self._changed(NodeRenamed(self, node_id, old, new))
        return new

    def move_node(self, node_id: str, position: Iterable[float]) -> None:
        node = self.node(node_id)
        x, y = _point(position)
        old = node.position
        if (x, y) != old:
            node.position = (x, y)
            self._changed(NodeMoved(self, node_id, old, (x, y)))

    def refresh_blocks(self, block: str, spec: LayerSpec, rename_to: str | None = None,
                       ports: dict[str, str] | None = None, out_ports: dict[str, str] | None = None) -> None:
        """Give every node using block definition ``block`` its definition's new spec: params
        still exposed keep their values (when still valid), new ones take their defaults. Edges
        into a renamed input port (``ports``: old name -> new) follow it, and edges out of a renamed
        output port (``out_ports``) too; edges at a port the block no longer has are removed (a file
        cannot hold them: the reader would refuse it)."""
        nodes = self.block_nodes(block)
        if not nodes:
            return
        names = {p.name for p in spec.inputs}
        stale = [e for n in nodes for e in self.in_edges(n.id) if e.target_port not in names]
        stale_out = [e for n in nodes for e in self.out_edges(n.id) if e.source_port not in spec.outputs]
        for edge in stale + stale_out:
            self.disconnect(edge.id)
        for node in nodes:
            values = spec.defaults()
            for key, value in node.params.items():
                if key == "block":
                    continue
                try:
                    values[key] = spec.param(key).coerce(value)
                except (KeyError, ParamError):
                    pass
            values["block"] = rename_to or block
            node.params = values
            node.block_spec = spec
        for edge in stale:
            port = (ports or {}).get(edge.target_port)
            if port is not None and self.can_connect(edge.source, edge.target, edge.source_port, port)[0]:
                self.connect(edge.source, edge.target, edge.source_port, port, edge_id=edge.id)
        for edge in stale_out:
            port = (out_ports or {}).get(edge.source_port)
            if port is not None and self.can_connect(edge.source, edge.target, port, edge.target_port)[0]:
                self.connect(edge.source, edge.target, port, edge.target_port, edge_id=edge.id)
        self._changed(BlockUpdated(self, tuple(n.id for n in nodes), rename_to or block))

    def copy(self, name: str | None = None) -> Network:
        """An independent copy with the same ids, names, params and positions (the block library
        is shared: a copy is a view of the same project)."""
        twin = Network(self.name if name is None else name)
        twin.library = self.library
        for node in self.nodes:
            twin.add_node(node.type_id, dict(node.params), node.name, node.position, node_id=node.id)
        for edge in self.edges:
            twin.connect(edge.source, edge.target, edge.source_port, edge.target_port, edge_id=edge.id)
        twin._next_node, twin._next_edge = self._next_node, self._next_edge
        return twin

    def state(self) -> dict[str, Any]:
        """Everything :meth:`restore` needs to put the network back as it is now (for undo)."""
        return {"nodes": [(n.id, n.type_id, n.name, dict(n.params), n.position) for n in self.nodes],
                "edges": [(e.id, e.source, e.source_port, e.target, e.target_port) for e in self.edges]}

    def restore(self, state: dict[str, Any]) -> None:
        """Make the network equal to ``state`` in place, with the fewest edits (views and
        listeners see ordinary node and edge events, so nothing needs rebuilding)."""
        nodes = {n[0]: n for n in state["nodes"]}
        edges = {e[0]: e for e in state["edges"]}
        for edge in self.edges:
            if edges.get(edge.id) != (edge.id, edge.source, edge.source_port, edge.target, edge.target_port):
                self.disconnect(edge.id)
        for node in self.nodes:
            want = nodes.get(node.id)
            if want is None or want[1] != node.type_id or (node.is_block and want[3].get("block") != node.params.get("block")):
                self.remove_node(node.id)
        for node_id, type_id, name, params, position in state["nodes"]:
            if node_id not in self._nodes:
                self.add_node(type_id, params, name, position, node_id=node_id)
                continue
            for key, value in params.items():
                self.set_param(node_id, key, value)
            self.rename_node(node_id, name)
            self.move_node(node_id, position)
        for edge_id, source, source_port, target, target_port in state["edges"]:
            if edge_id not in self._edges:
                self.connect(source, target, source_port, target_port, edge_id=edge_id)

    def _changed(self, event: GraphEvent) -> None:
        # moving a node changes nothing a shape or message depends on (a rename does: messages quote names)
        if not isinstance(event, NodeMoved):
            self.revision += 1
        self._emit(event)


@dataclass
class Project(Observable):
    """The whole document: named networks plus the data-set and training settings of later stages."""

    name: str = "Untitled"
    networks: list[Network] = field(default_factory=list)
    #: JSON-safe settings owned by other packages (``"dataset"``, ``"training"``, ...)
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Observable.__init__(self)
        from graph.blocks import BlockLibrary

        #: the project's block definitions (Block nodes name one of them)
        self.blocks = BlockLibrary(self)
        self.blocks.subscribe(self._relay)
        for net in self.networks:
            self._adopt(net)
            net.subscribe(self._relay)

    def _adopt(self, net: Network) -> None:
        if net.library is not None and net.library is not self.blocks and net.block_nodes():
            raise GraphError(f"network '{net.name}' uses the blocks of another project")
        net.library = self.blocks

    def __hash__(self) -> int:  # observers are compared by identity
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def _relay(self, event: GraphEvent) -> None:
        self._emit(event)

    def __iter__(self) -> Iterator[Network]:
        return iter(self.networks)

    @property
    def main(self) -> Network:
        if not self.networks:
            raise GraphError("the project has no network")
        return self.networks[0]

    def network(self, name: str | None = None) -> Network:
        if name is None:
            return self.main
        for net in self.networks:
            if net.name == name:
                return net
        raise GraphError(f"the project has no network named {name!r} "
                         f"(it has {', '.join(repr(n.name) for n in self.networks) or 'none'})")

    def add_network(self, network: Network | str = "main", index: int | None = None) -> Network:
        net = network if isinstance(network, Network) else Network(network)
        if any(n.name == net.name for n in self.networks):
            raise GraphError(f"a network named {net.name!r} already exists")
        index = len(self.networks) if index is None else index
        self._adopt(net)
        self.networks.insert(index, net)
        net.subscribe(self._relay)
        self._emit(NetworkAdded(net, index))
        return net

    def remove_network(self, name: str) -> tuple[Network, int]:
        net = self.network(name)
        index = self.networks.index(net)
        self.networks.remove(net)
        net.unsubscribe(self._relay)
        self._emit(NetworkRemoved(net, index))
        return net, index

    def rename_network(self, old: str, new: str) -> None:
        net = self.network(old)
        new = clean_name(new)
        if new == old:
            return
        if any(n.name == new for n in self.networks):
            raise GraphError(f"a network named {new!r} already exists")
        net.name = new
        self._emit(NetworkRenamed(net, old, new))

    def unique_network_name(self, base: str = "network") -> str:
        base = fit_name(base)
        names = {n.name for n in self.networks}
        if base not in names:
            return base
        k = 2
        while fit_name(base, f"_{k}") in names:
            k += 1
        return fit_name(base, f"_{k}")

    def set_setting(self, key: str, value: Any) -> None:
        self.settings[key] = value
        self._emit(SettingsChanged(None, key))

    def remove_setting(self, key: str) -> None:
        if self.settings.pop(key, None) is not None:
            self._emit(SettingsChanged(None, key))
