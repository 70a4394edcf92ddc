"""The imported model's own module tree, kept as nested blocks.

The converter builds one flat network (each traced step a node). Here the nodes that ran inside one
submodule (``layer1.0`` of a ResNet) are folded into a Block node whose definition holds them, the
innermost submodules first, so ``layer1`` becomes a block of two ``BasicBlock`` blocks and a
ResNet-18 opens as about ten nodes instead of seventy.

Submodules whose insides are identical (same class, same layers and params, same wiring, same
shapes arriving) share one definition, so editing that definition changes every use, as it would
in the Python class. A submodule is left flat, with the reason logged, when its steps cannot form a
block: more than one value leaves it, a path leaves it and comes back, or a value enters without a
batch dimension. Tiny ones (one layer, or a plain two-layer ``downsample``) stay flat because a
block around them would hide more than it shows, and so does one that holds nearly all of its
parent (the one ``main`` Sequential of a DCGAN), which would leave one node to look at. The
reasons other than size go into the import report (:attr:`Nesting.notes`).

Each flat node's place after nesting is kept (:attr:`Nesting.locations`: the Block node ids from
the top down and the node's id inside the innermost definition), so the imported weights can be
put under their nested ``state_dict`` keys.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from graph.blocks import library_of
from graph.document import BLOCK_TYPE, Network
from graph.tensor_type import FLOAT, LONG, TensorType

log = logging.getLogger(__name__)

#: a submodule becomes a block when it holds at least this many nodes (a nested block counts one) ...
MIN_NODES = 3
#: ... or at least this many when one of them is a block already (``layer1`` = two BasicBlocks)
MIN_NODES_WITH_BLOCK = 2


@dataclass
class Nesting:
    """What :func:`nest_modules` did."""

    #: flat node id -> [Block node id in the network, ..., node id inside the innermost definition]
    locations: dict[str, list[str]]
    #: (Block node name, definition name), in the order they were made
    blocks: list[tuple[str, str]] = field(default_factory=list)
    #: submodules left flat and why, for the log and the report
    kept_flat: list[tuple[str, str]] = field(default_factory=list)
    #: of those, the ones left flat only for being small (not worth a note in the report)
    small: set[str] = field(default_factory=set)
    #: submodule path -> class name
    classes: dict[str, str] = field(default_factory=dict)

    @property
    def notes(self) -> list[str]:
        """One line per submodule that could not become a block for a reason other than its size."""
        return [f"{path} ({self.classes.get(path, 'submodule')}) stays flat: {why}"
                for path, why in self.kept_flat if path not in self.small]

    @property
    def definitions(self) -> list[str]:
        return list(dict.fromkeys(d for _, d in self.blocks))


def module_scopes(converter: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(network node id -> path of the submodule it ran in, submodule path -> class name), from the
    module stack torch.fx records on each traced step. A node whose step has no stack, or whose
    stack does not name submodules of the model, sits at the top."""
    scopes: dict[str, str] = {}
    classes: dict[str, str] = {}
    model = converter.model
    seen: set[str] = set()
    for n in converter.gm.graph.nodes:
        held = converter.env.get(n)
        node_id = getattr(held, "node_id", None)
        if not isinstance(node_id, str) or node_id in seen or node_id not in converter.net:
            continue
        seen.add(node_id)
        stack = n.meta.get("nn_module_stack") or {}
        paths = [entry[0] for entry in stack.values() if isinstance(entry, tuple) and entry and isinstance(entry[0], str)]
        if n.op == "call_module" and paths and paths[-1] == n.target:
            paths = paths[:-1]          # a leaf module's own entry: the node sits in its parent
        scope = ""
        for path in paths:
            try:
                module = model.get_submodule(path)
            except AttributeError:      # not a submodule path (another tracer's naming)
                break
            classes[path] = type(module).__name__
            scope = path
        scopes[node_id] = scope
    return scopes, classes


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _within(scope: str, path: str) -> bool:
    """Whether a node whose step ran in ``scope`` is inside submodule ``path`` ("" the model)."""
    return not path or scope == path or scope.startswith(path + ".")


def _depth(path: str) -> int:
    return path.count(".") + 1 if path else 0


#: container classes whose name says nothing about what they hold: their definitions take the
#: submodule's attribute name instead (ResNet's ``layer1``, not ``Sequential 3``)
CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


def _definition_name(path: str, class_name: str) -> str:
    """The class name; for a container held by a named attribute, that name (``layer1``). A
    container at a position (``features.3``) keeps its class name: a definition shared with
    ``features.5`` would be misnamed by either path."""
    attribute = path.rpartition(".")[2]
    if class_name in CONTAINERS and attribute and not attribute.isdigit():
        return attribute
    return class_name or attribute or "Block"


def _params_key(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=repr)


class _Nester:
    def __init__(self, network: Network, scopes: dict[str, str], classes: dict[str, str],
                 types: dict[str, TensorType | None]) -> None:
        self.net = network
        self.library = library_of(network)
        self.scope = {n.id: scopes.get(n.id, "") for n in network.nodes}
        self.classes = classes
        self.types = dict(types)
        self.order = {n.id: i for i, n in enumerate(network.nodes)}
        self.held: dict[str, list[str]] = {n.id: [n.id] for n in network.nodes}
        self.locations: dict[str, list[str]] = {n.id: [n.id] for n in network.nodes}
        #: fingerprint -> (definition name, its node ids in canonical order, its Input names)
        self.shared: dict[str, tuple[str, list[str], list[str]]] = {}
        self.result = Nesting(self.locations, classes=classes)

    def run(self) -> Nesting:
        paths: dict[str, int] = {}
        for node_id, scope in self.scope.items():
            path = scope
            while path:
                paths.setdefault(path, self.order[node_id])
                path = _parent(path)
        for path in sorted(paths, key=lambda p: (-_depth(p), paths[p])):
            members = [n for n in self.scope if self.scope[n] == path and n in self.net]
            if not members:
                continue
            why = self._fold(path, members)
            if why:
                self.result.kept_flat.append((path, why))
                log.info("imported submodule %s stays flat: %s", path, why)
                for m in members:
                    self.scope[m] = _parent(path)
        return self.result

    # -- one submodule ------------------------------------------------------------------------------
    def _fold(self, path: str, members: list[str]) -> str:
        net = self.net
        inside = set(members)
        blocks = sum(1 for m in members if net.node(m).is_block)
        if len(members) < MIN_NODES and not (blocks and len(members) >= MIN_NODES_WITH_BLOCK):
            self.result.small.add(path)
            return f"only {len(members)} node(s)"
        if any(net.node(m).spec.role != "layer" for m in members):
            return "it holds an input or output of the model"
        parent = _parent(path)
        rest = sum(len(self.held[n]) for n, scope in self.scope.items()
                   if n not in inside and net.node(n).spec.role == "layer" and _within(scope, parent))
        if rest < MIN_NODES:
            # a DCGAN's one ``main`` Sequential (and a reshape after it): a block around nearly
            # everything would leave nearly nothing to look at
            self.result.small.add(path)
            return f"it holds nearly all of {parent or 'the model'}"
        canonical = list(nx.lexicographical_topological_sort(net.graph.subgraph(members), key=self.order.__getitem__))
        feeds: list[tuple[str, str]] = []
        for m in canonical:
            for e in net.in_edges(m):
                if e.source not in inside and (e.source, e.source_port) not in feeds:
                    feeds.append((e.source, e.source_port))
        if not feeds:
            return "nothing flows into it"
        for source, _port in feeds:
            t = self.types.get(source)
            if t is None or t.shape[:1] != (None,) or t.rank < 2 or t.dtype not in (FLOAT, LONG):
                return f"a value without a batch dimension (or of type {getattr(t, 'dtype', '?')}) flows into it"
        leaving = list(dict.fromkeys((e.source, e.source_port) for m in canonical for e in net.out_edges(m)
                                     if e.target not in inside))
        if len(leaving) != 1:
            return f"{len(leaving)} values leave it (a block has one output)"
        after = set().union(*(nx.descendants(net.graph, m) for m in members)) - inside
        before = set().union(*(nx.ancestors(net.graph, m) for m in members)) - inside
        if after & before:
            return "a path leaves it and comes back"
        index = {m: i for i, m in enumerate(canonical)}
        wiring: list[Any] = []
        for m in canonical:
            node = net.node(m)
            ins = []
            for e in net.in_edges(m):
                ref = ["n", index[e.source], e.source_port] if e.source in inside else \
                    ["x", feeds.index((e.source, e.source_port))]
                ins.append([e.target_port, ref])
            wiring.append([node.type_id, _params_key(node.params), ins])
        out_source, out_port = leaving[0]
        arriving = [self.types[s] for s, _ in feeds]
        fingerprint = json.dumps([self.classes.get(path, ""), [[list(t.shape[1:]), t.dtype] for t in arriving],  # type: ignore[union-attr]
                                  wiring, [index[out_source], out_port]])
        found = self.shared.get(fingerprint)
        if found is None:
            found = self._define(path, canonical, feeds, arriving, out_source, out_port)
            self.shared[fingerprint] = found
        definition, inner_ids, port_names = found
        self._replace(path, canonical, feeds, definition, inner_ids, port_names, out_source, out_port)
        return ""

    def _define(self, path: str, canonical: list[str], feeds: list[tuple[str, str]], arriving: list[Any],
                out_source: str, out_port: str) -> tuple[str, list[str], list[str]]:
        """A new definition holding copies of ``canonical`` (named without the submodule's path)."""
        net = self.net
        name = self.library.unique_name(_definition_name(path, self.classes.get(path, "")))
        inner = Network(name)
        inner.library = self.library
        port_names = ["x"] if len(feeds) == 1 else [f"x{i + 1}" for i in range(len(feeds))]
        inputs = [inner.add_node("Input", {"shape": tuple(t.shape[1:]), "dtype": t.dtype}, port).id
                  for port, t in zip(port_names, arriving, strict=True)]
        ids: dict[str, str] = {}
        prefix = path + "."
        for m in canonical:
            node = net.node(m)
            if node.name.startswith(prefix) and len(node.name) > len(prefix):
                short = node.name[len(prefix):]
            else:   # a traced function (``out += identity``): fx numbered it across the whole model
                short = re.sub(r"_\d+$", "", node.name) or node.name
            ids[m] = inner.add_node(node.type_id, dict(node.params), inner.unique_name(short)).id
        for m in canonical:
            for e in net.in_edges(m):
                if e.source in ids:
                    inner.connect(ids[e.source], ids[m], e.source_port, e.target_port)
                else:
                    inner.connect(inputs[feeds.index((e.source, e.source_port))], ids[m], "out", e.target_port)
        out = inner.add_node("Output", {}, "out")
        inner.connect(ids[out_source], out.id, out_port)
        from graph.layout import apply_layout

        apply_layout(inner)
        self.library.create(name, inner, description=f"Imported from the model's {self.classes.get(path, 'submodule')} "
                                                     f"'{path}'.")
        return name, [ids[m] for m in canonical], port_names

    def _replace(self, path: str, canonical: list[str], feeds: list[tuple[str, str]], definition: str,
                 inner_ids: list[str], port_names: list[str], out_source: str, out_port: str) -> None:
        net = self.net
        inside = set(canonical)
        # every outside node fed from the selection gets all its edges back in their order (a
        # Concat's inputs are ordered by edge)
        fed = list(dict.fromkeys(e.target for m in canonical for e in net.out_edges(m) if e.target not in inside))
        rewire = {t: [(e.source, e.source_port, e.target_port) for e in net.in_edges(t)] for t in fed}
        x = sum(net.node(m).position[0] for m in canonical) / len(canonical)
        y = sum(net.node(m).position[1] for m in canonical) / len(canonical)
        for m in canonical:
            net.remove_node(m)
        for t in fed:
            for e in net.in_edges(t):
                net.disconnect(e.id)
        block = net.add_node(BLOCK_TYPE, {"block": definition}, net.unique_name(path), (x, y))
        for (source, port), name in zip(feeds, port_names, strict=True):
            net.connect(source, block.id, port, name)
        for t, edges in rewire.items():
            for source, source_port, target_port in edges:
                if source in inside:
                    if (source, source_port) != (out_source, out_port):
                        raise AssertionError("a second value leaves the block")  # checked in _fold
                    source, source_port = block.id, "out"
                net.connect(source, t, source_port, target_port)
        self.scope[block.id] = _parent(path)
        self.order[block.id] = min(self.order[m] for m in canonical)
        self.types[block.id] = self.types.get(out_source)
        held: list[str] = []
        for m, inner_id in zip(canonical, inner_ids, strict=True):
            for flat in self.held.pop(m):
                self.locations[flat] = [block.id, inner_id, *self.locations[flat][1:]]
                held.append(flat)
            self.scope.pop(m, None)
        self.held[block.id] = held
        self.result.blocks.append((block.name, definition))


def nest_modules(network: Network, scopes: dict[str, str], classes: dict[str, str],
                 types: dict[str, TensorType | None]) -> Nesting:
    """Fold the nodes of each submodule of ``network`` into Block nodes, innermost first.

    ``scopes``: node id -> the dotted path of the submodule its step ran in ("" at the top);
    ``classes``: path -> class name (the definitions' names); ``types``: node id -> output type."""
    return _Nester(network, scopes, classes, types).run()


def nested_key_prefix(compiled: Any, location: list[str]) -> str:
    """The ``state_dict`` prefix (``layer1.layer1_0.conv1``) of the node at ``location`` in a
    compiled network whose Block nodes are nested modules."""
    module = compiled
    codes = []
    for node_id in location:
        code = module.node_names[node_id]
        codes.append(code)
        module = getattr(module, code)
    return ".".join(codes)
