"""Composite blocks: a node that holds a sub-network.

A :class:`BlockDefinition` is a small network of its own whose Input nodes become the block's input
ports (named after them) and whose Output node is its output (``out``); with several Output nodes (an
encoder giving a mean and a log-variance) each becomes an output port named after it. A project keeps its definitions in
a :class:`BlockLibrary`; a Block node only names its definition (``params["block"]``) plus values for
the params the definition *exposes*. So every use of a definition follows it when it changes: the
library listens to each definition's network and hands the nodes that use it a fresh spec.

A Block node's spec is made here, not declared in the registry, because its ports, params and shape
rule depend on the definition. Shape inference runs the inside on the shapes that actually arrive
(the inner Input nodes' own shapes only serve for editing the inside on its own), so one definition
works wherever its layers allow. The compiler and exporter get the inside as a plan of its own
(:func:`graph.plan.build_plan` asks :meth:`BlockLibrary.instantiate`), so a block becomes one nested
module whose ``state_dict`` keys read ``encoder.dense_1.weight``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx

from graph.document import BLOCK_TYPE, Network, Node, Project, clean_name, fit_name
from graph.errors import CycleError, GraphError, ParamError, ShapeError
from graph.events import GraphEvent, LibraryChanged, NodeMoved, Observable
from graph.layers.spec import Cost, LayerSpec, ModuleCall, PortSpec
from graph.memory import node_memory
from graph.params import ParamSpec
from graph.tensor_type import TensorType

log = logging.getLogger(__name__)

_EXPOSED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: instance analyses kept per library (one per distinct use: params and input shapes)
_CACHE_LIMIT = 512
#: outputs a block may have (an encoder's mean and log-variance, a multi-task trunk's heads)
MAX_BLOCK_OUTPUTS = 8


@dataclass(frozen=True)
class Exposed:
    """An inner node's param shown on every Block node of the definition under ``name``."""

    node_id: str
    param: str
    name: str


class BlockDefinition:
    """A named sub-network with the params it exposes. ``origin`` names the built-in block it was
    made from ("" for a user's own), so a second drop of a built-in reuses the first definition."""

    def __init__(self, name: str, network: Network, exposed: Iterable[Exposed] = (), description: str = "",
                 origin: str = "") -> None:
        self.name = clean_name(name)
        self.network = network
        network.name = self.name
        self.exposed: list[Exposed] = list(exposed)
        self.description = description
        self.origin = origin

    def input_nodes(self) -> list[Node]:
        return self.network.inputs()

    def output_node(self) -> Node | None:
        outs = self.network.outputs()
        return outs[0] if len(outs) == 1 else None

    def output_port_names(self) -> list[str]:
        """The block's output ports: ``out`` for one Output node inside; with several (an encoder
        giving a mean and a log-variance), one port per Output node, named after it."""
        outs = self.network.outputs()
        return ["out"] if len(outs) <= 1 else [n.name for n in outs]

    def port_names(self) -> list[str]:
        return [n.name for n in self.input_nodes()]

    def exposed_param(self, name: str) -> Exposed:
        for e in self.exposed:
            if e.name == name:
                return e
        raise GraphError(f"block '{self.name}' exposes no parameter {name!r}")

    def used_blocks(self) -> set[str]:
        return {n.params["block"] for n in self.network.block_nodes()}


class BlockLibrary(Observable):
    """The block definitions of one project, and the specs of the nodes that use them."""

    def __init__(self, project: Project | None = None) -> None:
        super().__init__()
        self.project = project
        self._defs: dict[str, BlockDefinition] = {}
        self._specs: dict[str, LayerSpec] = {}
        self._listeners_by_name: dict[str, Any] = {}
        #: the definition a file is being read into (its inside may not use it)
        self.reading: str | None = None
        #: bumps whenever any definition changes; instance analyses key on it
        self.generation = 0
        self._instances: dict[Any, tuple[Network, Any]] = {}

    # -- reading ------------------------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return name in self._defs

    def __iter__(self) -> Iterator[BlockDefinition]:
        return iter(self._defs.values())

    def __len__(self) -> int:
        return len(self._defs)

    @property
    def names(self) -> list[str]:
        return list(self._defs)

    def get(self, name: Any) -> BlockDefinition:
        if name is None:
            raise GraphError("a Block node needs the name of its block definition (its 'block' param)")
        if name is not None and name == self.reading:
            raise CycleError(f"block '{name}' cannot contain itself")
        if not isinstance(name, str) or name not in self._defs:
            known = ", ".join(repr(n) for n in self._defs) or "none"
            raise GraphError(f"the project has no block definition named {name!r} (it has {known})")
        return self._defs[name]

    def by_origin(self, origin: str) -> BlockDefinition | None:
        for defn in self._defs.values():
            if origin and defn.origin == origin:
                return defn
        return None

    def definition_of(self, network: Network) -> BlockDefinition | None:
        for defn in self._defs.values():
            if defn.network is network:
                return defn
        return None

    def spec(self, name: Any) -> LayerSpec:
        defn = self.get(name)
        spec = self._specs.get(defn.name)
        if spec is None:
            spec = self._specs[defn.name] = self._make_spec(defn)
        return spec

    def unique_name(self, base: str) -> str:
        """``base`` or, when taken, ``base 2``, ``base 3``...; a long base is shortened to leave
        room for the number (``"<100 characters> copy"`` must not be refused)."""
        if not isinstance(base, str):
            clean_name(base)        # raises the usual error for what is not text
        base = clean_name(fit_name(" ".join(base.split())))
        if base not in self._defs:
            return base
        stem = re.sub(r"[ _]?\d+$", "", base) or base
        k = 2
        while fit_name(stem, f" {k}") in self._defs:
            k += 1
        return fit_name(stem, f" {k}")

    def dependencies(self, name: str) -> set[str]:
        """Every definition ``name`` uses, directly or through other blocks."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            for used in self.get(todo.pop()).used_blocks():
                if used not in seen and used in self._defs:
                    seen.add(used)
                    todo.append(used)
        return seen

    def networks(self) -> list[Network]:
        """Every network that may hold Block nodes: the project's and the definitions' own."""
        nets = list(self.project.networks) if self.project is not None else []
        return nets + [d.network for d in self._defs.values()]

    def users(self, name: str) -> list[tuple[Network, Node]]:
        return [(net, node) for net in self.networks() for node in net.block_nodes(name)]

    def check_use(self, network: Network, block: str) -> None:
        """Refuse a Block node that would put a definition inside itself."""
        owner = self.definition_of(network)
        if owner is None:
            return
        if block == owner.name or owner.name in self.dependencies(block):
            raise CycleError(f"block '{owner.name}' cannot contain '{block}': "
                             f"{'it is the block itself' if block == owner.name else f'{block} already contains it'}")

    # -- editing ------------------------------------------------------------------------------
    def add(self, defn: BlockDefinition) -> BlockDefinition:
        if defn.name in self._defs:
            raise GraphError(f"a block definition named '{defn.name}' already exists")
        defn.network.library = self
        self._defs[defn.name] = defn

        def listener(event: GraphEvent, d: BlockDefinition = defn) -> None:
            if not isinstance(event, NodeMoved):
                self._definition_changed(d.name)    # by the definition, so a rename keeps it working

        self._listeners_by_name[defn.name] = listener
        defn.network.subscribe(listener)
        self._emit(LibraryChanged(None, defn.name, "added"))
        return defn

    def create(self, name: str, network: Network, exposed: Iterable[Exposed] = (), description: str = "",
               origin: str = "") -> BlockDefinition:
        return self.add(BlockDefinition(name, network, exposed, description, origin))

    def remove(self, name: str) -> BlockDefinition:
        defn = self.get(name)
        users = self.users(name)
        if users:
            where = ", ".join(f"{node.label()} in '{net.name}'" for net, node in users[:3])
            raise GraphError(f"block '{name}' is still used ({where}{', ...' if len(users) > 3 else ''}): "
                             f"delete or expand those nodes first")
        defn.network.unsubscribe(self._listeners_by_name.pop(name))
        del self._defs[name]
        self._specs.pop(name, None)
        self._bump()
        self._emit(LibraryChanged(None, name, "removed"))
        return defn

    def rename(self, old: str, new: str) -> str:
        defn = self.get(old)
        new = clean_name(new)
        if new == old:
            return new
        if new in self._defs:
            raise GraphError(f"a block definition named '{new}' already exists")
        listener = self._listeners_by_name.pop(old)
        self._defs = {(new if k == old else k): v for k, v in self._defs.items()}
        self._listeners_by_name[new] = listener
        defn.name = new
        defn.network.name = new
        self._specs.pop(old, None)
        self._bump()
        spec = self.spec(new)
        for net in self.networks():
            net.refresh_blocks(old, spec, rename_to=new)
        self._emit(LibraryChanged(None, new, "renamed", old))
        return new

    def expose(self, block: str, node_id: str, param: str, name: str | None = None) -> Exposed:
        """Show an inner node's param on every use of the block (each use keeps its own value)."""
        defn = self.get(block)
        node = defn.network.node(node_id)
        if node.spec.role != "layer":
            raise GraphError(f"the params of {node.label()} are set by what is wired into the block; "
                             f"expose a layer's params instead")
        try:
            node.spec.param(param)
        except KeyError:
            raise ParamError(f"{node.label()} has no parameter {param!r}") from None
        if any(e.node_id == node_id and e.param == param for e in defn.exposed):
            raise GraphError(f"{param!r} of {node.label()} is already exposed")
        if name is None:
            stem = re.sub(r"\W+", "_", f"{node.name}_{param}").strip("_") or param
            stem = stem if stem[0].isalpha() or stem[0] == "_" else f"p_{stem}"
            taken = {e.name for e in defn.exposed} | {"block"}
            name, k = stem[:60], 2
            while name in taken:
                name, k = f"{stem[:56]}_{k}", k + 1
        if not _EXPOSED_NAME.match(name) or name == "block":
            raise GraphError(f"an exposed parameter needs a name made of letters, digits and underscores "
                             f"(not 'block'), not {name!r}")
        if any(e.name == name for e in defn.exposed):
            raise GraphError(f"block '{block}' already exposes a parameter named {name!r}")
        exposed = Exposed(node_id, param, name)
        defn.exposed.append(exposed)
        self._definition_changed(block)
        self._emit(LibraryChanged(None, block, "exposed"))
        return exposed

    def unexpose(self, block: str, name: str) -> tuple[Exposed, int]:
        defn = self.get(block)
        exposed = defn.exposed_param(name)
        index = defn.exposed.index(exposed)
        defn.exposed.remove(exposed)
        self._definition_changed(block)
        self._emit(LibraryChanged(None, block, "exposed"))
        return exposed, index

    def set_exposed(self, block: str, exposed: Iterable[Exposed]) -> None:
        """Replace the exposed list as a whole (undo of expose/unexpose)."""
        self.get(block).exposed = list(exposed)
        self._definition_changed(block)
        self._emit(LibraryChanged(None, block, "exposed"))

    def duplicate(self, block: str, name: str | None = None) -> BlockDefinition:
        """An independent copy of a definition (to change one use without changing the others)."""
        defn = self.get(block)
        new = self.unique_name(name or f"{defn.name} copy")
        return self.create(new, defn.network.copy(new), defn.exposed, defn.description)

    # -- undo support -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {name: {"network": d.network.state(), "exposed": list(d.exposed), "description": d.description,
                       "origin": d.origin} for name, d in self._defs.items()}

    def restore(self, state: dict[str, Any], stage: str) -> None:
        """Put definitions back as in ``state`` in two stages around restoring the project's networks:
        ``"before"`` adds missing definitions and restores every definition's inside, ``"after"``
        removes those ``state`` does not have (no node uses them any more by then)."""
        if stage == "before":
            for name, data in state.items():
                if name not in self._defs:
                    self.create(name, Network(name), data["exposed"], data["description"], data["origin"])
            # insides may use each other: restore the ones others depend on first
            pending = list(state)
            for _ in range(len(pending) + 1):
                if not pending:
                    break
                for name in list(pending):
                    wanted = {n[3].get("block") for n in state[name]["network"]["nodes"] if n[1] == BLOCK_TYPE}
                    if wanted & set(pending) - {name}:
                        continue
                    defn = self._defs[name]
                    defn.network.restore(state[name]["network"])
                    if defn.exposed != state[name]["exposed"]:
                        self.set_exposed(name, state[name]["exposed"])
                    defn.description = state[name]["description"]
                    pending.remove(name)
            return
        for name in [n for n in self._defs if n not in state]:
            self.remove(name)

    # -- the inside of one use ----------------------------------------------------------------
    def instantiate(self, block: str, params: dict[str, Any], inputs: list[TensorType | None]) -> Network:
        """The inside of one use: a copy of the definition with the arriving shapes on its Input
        nodes and this node's values on the exposed params."""
        defn = self.get(block)
        net = defn.network.copy()
        for node, arriving in zip(defn.input_nodes(), inputs, strict=False):
            if arriving is None:
                continue
            if arriving.rank < 2:
                raise ShapeError("receives a tensor with no feature dimension; a block's inputs need "
                                 "at least one dimension besides the batch")
            try:
                net.set_param(node.id, "shape", tuple(arriving.shape[1:]))
                net.set_param(node.id, "dtype", arriving.dtype)
            except ParamError as exc:
                raise ShapeError(f"cannot take its '{node.name}' input: {exc}") from None
        for exposed in defn.exposed:
            if exposed.name in params and exposed.node_id in net:
                net.set_param(exposed.node_id, exposed.param, params[exposed.name])
        return net

    def instance(self, block: str, params: dict[str, Any], inputs: list[TensorType | None]) -> tuple[Network, Any]:
        """The inside of one use with its shape analysis (cached per definition state, values and shapes)."""
        from graph.shapes import analyze

        key = (block, self.generation, tuple(sorted((k, _hashable(v)) for k, v in params.items())), tuple(inputs))
        hit = self._instances.get(key)
        if hit is not None:
            return hit
        net = self.instantiate(block, params, inputs)
        # the memory check belongs to the network that uses the block: it counts the inside as a part
        net.meta["inside_block"] = True
        result = (net, analyze(net))
        if len(self._instances) >= _CACHE_LIMIT:
            self._instances.clear()
        self._instances[key] = result
        return result

    # -- internals ----------------------------------------------------------------------------
    def _bump(self) -> None:
        self.generation += 1
        self._instances.clear()

    def _definition_changed(self, name: str) -> None:
        if name not in self._defs:
            return
        self._bump()
        old = self._specs.pop(name, None)
        spec = self.spec(name)
        # an inner Input renamed: the edges into that port follow it (same count, same order)
        ports: dict[str, str] = {}
        if old is not None and len(old.inputs) == len(spec.inputs):
            ports = {a.name: b.name for a, b in zip(old.inputs, spec.inputs, strict=True) if a.name != b.name}
        outs = self._defs[name].network.outputs()
        out_ports = _output_moves(old.outputs if old is not None else (), spec.outputs,
                                  outs[0].name if len(outs) == 1 else "")
        for net in self.networks():
            net.refresh_blocks(name, spec, ports=ports, out_ports=out_ports)

    def _make_spec(self, defn: BlockDefinition) -> LayerSpec:
        name = defn.name
        params: list[ParamSpec] = [ParamSpec(
            "block", "str", name, "The block definition this node uses; every node using it changes "
            "when it changes.", label="Definition", extra={"readonly": True})]
        for exposed in defn.exposed:
            try:
                inner = defn.network.node(exposed.node_id)
                base = inner.spec.param(exposed.param)
            except (GraphError, KeyError):
                log.warning("block %r exposes %s.%s, which no longer exists", name, exposed.node_id, exposed.param)
                continue
            help_text = f"{base.help} (sets {base.title.lower()} of {inner.label()} inside the block)".strip()
            params.append(replace(base, name=exposed.name, default=inner.params[exposed.param], label="",
                                  help=help_text))
        library = self

        def infer_ports(p: Any, ins: list[TensorType | None]) -> dict[str, TensorType]:
            d = library.get(name)
            if not d.input_nodes():
                raise ShapeError(f"uses block '{name}', which has no Input node inside: add one to "
                                 f"say what the block takes")
            outs = d.network.outputs()
            if not outs:
                raise ShapeError(f"uses block '{name}', which has no Output node inside: add one and wire "
                                 f"the block's result into it")
            _net, analysis = library.instance(name, dict(p), list(ins))
            if analysis.problems:
                raise ShapeError(f"does not work inside: {analysis.problems[0].message}")
            types = {port: analysis.nodes[o.id].output for port, o in zip(d.output_port_names(), outs, strict=True)}
            return {port: t for port, t in types.items() if t is not None}

        def infer(p: Any, ins: list[TensorType | None]) -> TensorType:
            return next(iter(infer_ports(p, ins).values()))

        def cost(p: Any, ins: list[TensorType], out: TensorType) -> Cost:
            net, analysis = library.instance(name, dict(p), list(ins))
            # what the inside keeps for backward, less the block's first output (the shape pass adds that)
            inside = sum(info.memory.per_sample for node_id, info in analysis.nodes.items()
                         if net.node(node_id).spec.role == "layer")
            output = node_memory(out, 0).per_sample
            return Cost(analysis.total_params, analysis.total_mult_adds, max(0, inside - output))

        def build(p: Any, ins: list[TensorType]) -> ModuleCall:
            return ModuleCall("block", {"block": name})

        ports = tuple(PortSpec(n, help=f"feeds the block's Input '{n}'") for n in defn.port_names())
        return LayerSpec(
            type_id=BLOCK_TYPE, display_name=name, category="Blocks",
            description=defn.description or f"Block '{name}': a sub-network you can open and edit.",
            infer=infer, build=build, params=tuple(params), inputs=ports, cost=cost,
            outputs=tuple(defn.output_port_names()),
            infer_ports=infer_ports if len(defn.network.outputs()) > 1 else None)


def _output_moves(old: tuple[str, ...], new: tuple[str, ...], remaining: str) -> dict[str, str]:
    """Where wires from a block's outputs go when its definition changes: a renamed Output node's
    wires follow it; a second Output added keeps the old wires on the first; back to one Output,
    the wires of the port that remains go to ``out``."""
    if old == new or not old or not new:
        return {}
    if len(old) == len(new):
        return {a: b for a, b in zip(old, new, strict=True) if a != b}
    if old == ("out",):
        return {"out": new[0]}
    if new == ("out",) and remaining in old:
        return {remaining: "out"}               # the wires of the removed Outputs have nothing to carry
    return {}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def nodes_within(network: Network) -> Iterator[Node]:
    """Every node of ``network`` and, for each Block node, of its definition's inside (as often as
    the block is used), outermost first: what the compiled module holds."""
    for node in network.nodes:
        yield node
        if node.is_block:
            yield from nodes_within(library_of(network).get(node.params["block"]).network)


def library_of(network: Network) -> BlockLibrary:
    if network.library is None:
        raise GraphError(f"network '{network.name}' belongs to no project, so it has no blocks")
    library: BlockLibrary = network.library
    return library


# -- grouping and expanding -----------------------------------------------------------------------
def group_into_block(network: Network, node_ids: Iterable[str], name: str = "Block") -> Node:
    """Replace the selected nodes with one Block node whose new definition holds them.

    Each distinct value flowing into the selection becomes an inner Input (named after the node it
    comes from); each value flowing out becomes an Output (named after its layer when there are
    several, so the block's output ports say what they carry). Refused, with the reason, when the
    selection holds Input/Output nodes, sends nothing out, or has a path that leaves it and comes
    back (the block would feed itself)."""
    from graph.shapes import analyze

    library = library_of(network)
    chosen = list(dict.fromkeys(node_ids))
    if not chosen:
        raise GraphError("select the layers to put in the block first")
    nodes = [network.node(n) for n in chosen]
    inside = set(chosen)
    for node in nodes:
        if node.spec.role != "layer":
            raise GraphError(f"{node.label()} cannot go inside a block: leave Input and Output nodes outside "
                             f"(the block gets its own)")
    incoming = [e for n in chosen for e in network.in_edges(n) if e.source not in inside]
    outgoing = [e for n in chosen for e in network.out_edges(n) if e.target not in inside]
    outside_after = set().union(*(nx.descendants(network.graph, n) for n in chosen)) - inside
    outside_before = set().union(*(nx.ancestors(network.graph, n) for n in chosen)) - inside
    loop = outside_after & outside_before
    if loop:
        via = network.node(sorted(loop)[0]).label()
        raise GraphError(f"a path leaves the selection and comes back through {via}: include it in the "
                         f"selection or leave out the layers after it")
    sources_out = list(dict.fromkeys((e.source, e.source_port) for e in outgoing))
    if len(sources_out) > MAX_BLOCK_OUTPUTS:
        raise GraphError(f"values leave the selection from {len(sources_out)} places, more than a block's "
                         f"{MAX_BLOCK_OUTPUTS} outputs: select fewer layers or merge those branches inside")
    if not sources_out:
        raise GraphError("nothing leaves the selection: wire its last layer onward first, so the block "
                         "has an output")
    analysis = analyze(network)
    inner = Network(library.unique_name(name))
    inner.library = library
    feeds: dict[tuple[str, str], str] = {}
    xs = [n.position[0] for n in nodes]
    ys = [n.position[1] for n in nodes]
    left, mid_y = min(xs), sum(ys) / len(ys)
    for edge in incoming:
        key = (edge.source, edge.source_port)
        if key in feeds:
            continue
        arriving = analysis.nodes[edge.source].output
        if arriving is None or arriving.rank < 2:
            raise GraphError(f"the shape coming from {network.node(edge.source).label()} is unknown: fix the "
                             f"problems shown on the canvas before grouping")
        src = network.node(edge.source)
        port_name = inner.unique_name(re.sub(r"\W+", "_", src.name).strip("_") or "x")
        feeds[key] = inner.add_node("Input", {"shape": arriving.shape[1:], "dtype": arriving.dtype},
                                    port_name, (left - 220, mid_y + 120 * len(feeds))).id
    ids: dict[str, str] = {}
    for node in nodes:
        ids[node.id] = inner.add_node(node.type_id, dict(node.params), node.name, node.position).id
    # one Output per value leaving the selection; with several, each is named after the layer it
    # comes from, and that name is the block's output port
    out_nodes: dict[tuple[str, str], Node] = {}
    for k, (source, source_port) in enumerate(sources_out):
        label = "out" if len(sources_out) == 1 else inner.unique_name(f"{network.node(source).name}_out")
        out_nodes[(source, source_port)] = inner.add_node("Output", {}, label,
                                                          (max(xs) + 220, mid_y + 120 * k))
    for node in nodes:
        for edge in network.in_edges(node.id):
            src = ids.get(edge.source) or feeds[(edge.source, edge.source_port)]
            port = edge.source_port if edge.source in ids else "out"
            inner.connect(src, ids[node.id], port, edge.target_port)
    for (out_src, out_port), out_node in out_nodes.items():
        inner.connect(ids[out_src], out_node.id, out_port)
    defn = library.create(inner.name, inner)
    block_ports = dict(zip(out_nodes, defn.output_port_names(), strict=True))
    outer_targets = [(e.target, e.target_port, block_ports[(e.source, e.source_port)]) for e in outgoing]
    for node_id in chosen:
        network.remove_node(node_id)
    block = network.add_node(BLOCK_TYPE, {"block": defn.name}, position=(sum(xs) / len(xs), mid_y))
    inner_inputs = {node_id: inner.node(node_id).name for node_id in feeds.values()}
    for (source, source_port), input_id in feeds.items():
        network.connect(source, block.id, source_port, inner_inputs[input_id])
    for target, target_port, block_port in outer_targets:
        network.connect(block.id, target, block_port, target_port)
    return block


def expand_block(network: Network, node_id: str) -> list[Node]:
    """Replace a Block node with plain copies of its inside (with this node's exposed values), wired
    as the block was. The definition stays in the library for its other uses."""
    library = library_of(network)
    block = network.node(node_id)
    if not block.is_block:
        raise GraphError(f"{block.label()} is not a block")
    defn = library.get(block.params["block"])
    if not defn.network.outputs():
        raise GraphError(f"block '{defn.name}' needs an Output node inside before it can be expanded")
    inner = library.instantiate(defn.name, block.params, [])
    # the inside's Output nodes by the block port each one is
    out_ports = dict(zip(defn.output_port_names(), inner.outputs(), strict=True))
    feeds_in: dict[str, list[tuple[str, str]]] = {}
    for edge in network.in_edges(node_id):
        feeds_in.setdefault(edge.target_port, []).append((edge.source, edge.source_port))
    targets = [(e.source_port, e.target, e.target_port) for e in network.out_edges(node_id)]
    layers = [n for n in inner.nodes if n.spec.role == "layer"]
    cx = sum(n.position[0] for n in layers) / len(layers) if layers else 0.0
    cy = sum(n.position[1] for n in layers) / len(layers) if layers else 0.0
    bx, by = block.position
    network.remove_node(node_id)
    ids: dict[str, str] = {}
    for node in layers:
        name = network.unique_name(node.name)
        pos = (bx + node.position[0] - cx, by + node.position[1] - cy)
        ids[node.id] = network.add_node(node.type_id, dict(node.params), name, pos).id

    def sources(edge_source: str, edge_port: str) -> list[tuple[str, str]]:
        if edge_source in ids:
            return [(ids[edge_source], edge_port)]
        return feeds_in.get(inner.node(edge_source).name, [])   # an inner Input: what fed that port

    for node in layers:
        for edge in inner.in_edges(node.id):
            for src, port in sources(edge.source, edge.source_port):
                network.connect(src, ids[node.id], port, edge.target_port)
    for block_port, target, target_port in targets:
        out_edge = inner.in_edges(out_ports[block_port].id)
        if out_edge:
            for src, port in sources(out_edge[0].source, out_edge[0].source_port):
                network.connect(src, target, port, target_port)
    return [network.node(i) for i in ids.values()]


def add_block_node(network: Network, block: str, position: Iterable[float] = (0.0, 0.0),
                   name: str | None = None) -> Node:
    return network.add_node(BLOCK_TYPE, {"block": block}, name, position)
