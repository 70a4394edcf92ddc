"""The execution plan both the compiler and the exporter follow, so their semantics cannot drift:
one step per node in topological order, with the module to build and the variables it reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from graph.document import Edge, Network, Node
from graph.layers import ModuleCall
from graph.naming import code_names
from graph.shapes import Analysis, gather_inputs, require_valid
from graph.tensor_type import LONG, TensorType


class PortRef(str):
    """A value read from one output of a node with several (a block with several Output nodes):
    as text it is the expression exporters write (``encoder[1]``); :func:`value_of` reads it."""

    base: str
    index: int

    def __new__(cls, base: str, index: int) -> PortRef:
        ref = super().__new__(cls, f"{base}[{index}]")
        ref.base, ref.index = base, index
        return ref


def value_of(env: dict[str, Any], ref: str) -> Any:
    """The value a step argument names in an environment of computed values."""
    if isinstance(ref, PortRef):
        return env[ref.base][ref.index]
    return env[ref]


def _ref(names: dict[str, str], network: Network, edge: Edge) -> str:
    outputs = network.node(edge.source).spec.outputs
    base = names[edge.source]
    return PortRef(base, outputs.index(edge.source_port)) if len(outputs) > 1 else base


@dataclass(frozen=True)
class Step:
    node: Node
    name: str                       # identifier: module attribute and forward variable
    call: ModuleCall | None         # None for Input and Output nodes
    args: tuple[str | None, ...]    # identifiers of the values it reads, in port order
    output: TensorType
    #: a Block node's inside, planned on the shapes that reach it (its module is a nested network)
    block: Plan | None = None


@dataclass(frozen=True)
class Plan:
    network: Network
    steps: tuple[Step, ...]
    inputs: tuple[Step, ...]
    outputs: tuple[Step, ...]

    @property
    def layers(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.call is not None)


def build_plan(network: Network, analysis: Analysis | None = None) -> Plan:
    analysis = analysis or require_valid(network)
    names = code_names(network)
    values = analysis.value_types()
    steps: list[Step] = []
    for node in network.topological_order():
        spec = node.spec
        info = analysis.nodes[node.id]
        arg_names: list[str | None] = []
        for port in spec.inputs:
            edges = network.in_edges(node.id, port.name)
            if port.multi:
                arg_names.extend(_ref(names, network, e) for e in edges)
            else:
                arg_names.append(_ref(names, network, edges[0]) if edges else None)
        # trailing optional ports left unwired are simply not passed
        while arg_names and arg_names[-1] is None:
            arg_names.pop()
        ins, _ = gather_inputs(network, node, values)
        call = None
        block = None
        if spec.build is not None:
            present = [t for t in ins if t is not None] if spec.is_merge else ins
            call = spec.build(node.params, present)  # type: ignore[arg-type]
        if node.is_block:
            inside, inside_analysis = network.library.instance(node.params["block"], dict(node.params), ins)
            block = build_plan(inside, inside_analysis)
        assert info.output is not None
        steps.append(Step(node, names[node.id], call, tuple(arg_names), info.output, block))
    inputs = tuple(s for s in steps if s.node.spec.role == "input")
    outputs = tuple(s for s in steps if s.node.spec.role == "output")
    # inputs and outputs keep their creation order (the forward signature must not shuffle)
    creation = {node.id: i for i, node in enumerate(network.nodes)}
    inputs = tuple(sorted(inputs, key=lambda s: creation[s.node.id]))
    outputs = tuple(sorted(outputs, key=lambda s: creation[s.node.id]))
    return Plan(network, tuple(steps), inputs, outputs)


def token_range(network: Network, input_node: Node) -> int:
    """Exclusive upper bound for random token ids fed to an int64 input: every Embedding
    downstream must accept them."""
    bound = None
    for node_id in nx.descendants(network.graph, input_node.id):
        node = network.node(node_id)
        if node.type_id == "Embedding":
            size = node.params["num_embeddings"]
            bound = size if bound is None else min(bound, size)
    return bound or 2


def sample_shape(step: Step, batch_size: int) -> tuple[int, ...]:
    return (batch_size, *step.output.shape[1:])  # type: ignore[misc]


def is_token_input(step: Step) -> bool:
    return step.output.dtype == LONG
