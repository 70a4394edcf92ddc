"""Live shape inference: per-edge tensor types, per-node costs and per-node problems.

The pass walks the DAG once in topological order and calls each layer's pure-Python shape rule,
so a 1000-node network is analysed in milliseconds and the result can be recomputed on every edit.
Results are cached on the network's revision (moves and renames do not invalidate them) and on the
memory budget (batch size, optimizer, how much memory there is: see :mod:`graph.memory`), because
the pass also estimates what each node needs to train and refuses a network that cannot fit.
A node whose inputs are unknown because something upstream is wrong gets no shape and no message
of its own: the problems list then points at the cause, not at everything downstream of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from graph.document import Edge, Network, Node
from graph.errors import GraphError, ShapeError
from graph.layers.spec import Cost
from graph.memory import MemoryBudget, NodeMemory, budget_for, check_memory, node_memory
from graph.tensor_type import TensorType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    message: str
    node_id: str | None = None  # None: about the network as a whole
    #: "shape" (the node cannot take its input) or "memory" (the network cannot fit the machine)
    kind: str = "shape"


@dataclass
class NodeInfo:
    inputs: list[TensorType | None]
    output: TensorType | None = None
    cost: Cost = field(default_factory=Cost)
    error: str | None = None
    #: what the node keeps alive while training (see graph.memory)
    memory: NodeMemory = field(default_factory=NodeMemory)
    #: for a node with several output ports: the type leaving each (``output`` is the first's)
    ports: dict[str, TensorType] = field(default_factory=dict)


@dataclass
class Analysis:
    revision: int
    nodes: dict[str, NodeInfo]
    edges: dict[str, TensorType | None]
    problems: list[Problem]
    #: the budget the memory check used (None only for analyses made by hand)
    budget: MemoryBudget | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def total_params(self) -> int:
        return sum(info.cost.params for info in self.nodes.values())

    @property
    def total_mult_adds(self) -> int:
        return sum(info.cost.mult_adds for info in self.nodes.values())

    @property
    def too_big(self) -> bool:
        """The network cannot fit the memory of the machine (or GPU) that would train it."""
        return any(p.kind == "memory" for p in self.problems)

    def value_types(self) -> ValueTypes:
        """What every node sends out, for :func:`gather_inputs` (several-output ports included)."""
        types: ValueTypes = {k: v.output for k, v in self.nodes.items()}
        for node_id, info in self.nodes.items():
            for port, t in info.ports.items():
                types[(node_id, port)] = t
        return types

    def node_errors(self, node_id: str) -> list[str]:
        return [p.message for p in self.problems if p.node_id == node_id]


#: node id -> the type it sends out, plus (node id, port) -> the type leaving that port for nodes
#: with several output ports
ValueTypes = dict[str | tuple[str, str], TensorType | None]


def edge_type(outputs: ValueTypes, edge: Edge) -> TensorType | None:
    """The type a wire carries: its source port's, for a node with several outputs."""
    key = (edge.source, edge.source_port)
    return outputs[key] if key in outputs else outputs.get(edge.source)


def gather_inputs(network: Network, node: Node, outputs: ValueTypes
                  ) -> tuple[list[TensorType | None], list[str]]:
    """The input types in port order (all edges of a merge port, oldest first) and the
    required ports left unwired."""
    spec = node.spec
    types: list[TensorType | None] = []
    missing: list[str] = []
    for port in spec.inputs:
        edges = network.in_edges(node.id, port.name)
        if port.multi:
            types.extend(edge_type(outputs, e) for e in edges)
            continue
        if not edges:
            if not port.optional:
                missing.append(port.name)
            types.append(None)
        else:
            types.append(edge_type(outputs, edges[0]))
    return types, missing


def _infer_node(network: Network, node: Node, outputs: ValueTypes) -> NodeInfo:
    spec = node.spec
    ins, missing = gather_inputs(network, node, outputs)
    info = NodeInfo(ins)
    if missing:
        if len(spec.inputs) == 1:
            info.error = f"{node.label()} has nothing wired into it: connect a layer to its input."
        else:
            info.error = (f"{node.label()} has nothing wired into its '{missing[0]}' input: "
                          f"connect a layer to it.")
        return info
    connected_edges = network.in_edges(node.id)
    stale = [e for e in connected_edges if spec.input_port(e.target_port) is None]
    if stale:
        info.error = (f"{node.label()} is wired into an input '{stale[0].target_port}' it no longer has "
                      f"(its block changed): remove that edge and wire one of "
                      f"{', '.join(repr(p.name) for p in spec.inputs) or 'no inputs'}.")
        return info
    gone = [e for e in connected_edges if e.source_port not in network.node(e.source).spec.outputs]
    if gone:
        source = network.node(gone[0].source)
        info.error = (f"{node.label()} is wired from an output '{gone[0].source_port}' that {source.label()} no "
                      f"longer has (its block changed): wire it from one of "
                      f"{', '.join(repr(p) for p in source.spec.outputs) or 'no outputs'}.")
        return info
    if any(edge_type(outputs, e) is None for e in connected_edges):
        return info  # something upstream is wrong; that node carries the message
    try:
        if spec.infer_ports is not None:
            info.ports = spec.infer_ports(node.params, ins)
            out = info.ports[spec.outputs[0]]
        else:
            out = spec.infer(node.params, ins)
        info.output = out
        info.cost = spec.cost(node.params, [t for t in ins if t is not None] if spec.is_merge else ins, out)
        info.memory = node_memory(out, info.cost.params, info.cost.activation_bytes,
                                  keeps_output=spec.role == "layer" and "view" not in spec.tags
                                  or spec.role == "input")
    except ShapeError as exc:
        info.error = f"{node.label()} {exc}"
    except Exception:  # a bug in a shape rule must not take the editor down
        log.exception("shape rule of %s failed", spec.type_id)
        info.error = f"{node.label()}: its shape could not be worked out (internal error, see the log)."
    return info


def analyze(network: Network) -> Analysis:
    budget = budget_for(network)
    cached = network.meta.get("analysis")
    if cached is not None and cached.revision == network.revision and cached.budget.key == budget.key:
        return cached
    outputs: ValueTypes = {}
    nodes: dict[str, NodeInfo] = {}
    problems: list[Problem] = []
    for node in network.topological_order():
        info = _infer_node(network, node, outputs)
        nodes[node.id] = info
        outputs[node.id] = info.output
        for port, t in info.ports.items():
            outputs[(node.id, port)] = t
        if info.error:
            problems.append(Problem(info.error, node.id))
    edges = {e.id: edge_type(outputs, e) for e in network.edges}
    too_big = check_memory({k: v.memory for k, v in nodes.items()}, budget,
                           lambda node_id: network.node(node_id).label())
    if too_big is not None:
        node_id, message = too_big
        problems.append(Problem(message, node_id, "memory"))
        if nodes[node_id].error is None:  # the canvas badge and the summary read the node's error
            nodes[node_id].error = message
    if not network.inputs():
        problems.insert(0, Problem("The network has no Input node: add one from the palette (Input / Output)."))
    if not network.outputs():
        problems.insert(0, Problem("The network has no Output node: add one and wire the last layer into it."))
    result = Analysis(network.revision, nodes, edges, problems, budget)
    network.meta["analysis"] = result
    return result


def output_type(network: Network, node_id: str) -> TensorType | None:
    return analyze(network).nodes[node_id].output


def require_valid(network: Network) -> Analysis:
    """The analysis, or a GraphError listing every problem (compile and export need a clean graph)."""
    result = analyze(network)
    if result.problems:
        listed = "\n".join(f"- {p.message}" for p in result.problems)
        raise GraphError(f"network '{network.name}' has {len(result.problems)} problem(s):\n{listed}")
    return result
