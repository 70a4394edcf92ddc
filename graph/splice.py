"""The rules behind two wiring habits of node editors (Blender, ComfyUI), kept Qt-free so that the
canvas, the tests and any other front end judge them the same way:

- a wire dropped on an input that already has one *replaces* it (:func:`check_replace`);
- a loose node dropped on a wire is *spliced* into it, ``A -> B`` becoming ``A -> node -> B``, but
  only when the shapes fit on both sides (:func:`check_splice`), so a drop never leaves a red badge
  the person did not ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph.document import Edge, Network
from graph.errors import ConnectionRefused, PortError, ShapeError
from graph.layers import LayerSpec
from graph.shapes import analyze
from graph.tensor_type import TensorType


def check_replace(network: Network, source: str, target: str, source_port: str = "out",
                  target_port: str | None = None) -> tuple[str, Edge | None]:
    """The input port a new wire ``source -> target`` would feed and the edge it would replace
    there (None when the port is free or takes many edges). Raises the reason when the wire is not
    allowed for anything other than the input being taken (a loop, a missing port, the same wire)."""
    port = network.check_connect(source, target, source_port, target_port, replacing=True)
    spec = network.node(target).spec.input_port(port)
    if spec is None or spec.multi:
        return port, None
    fed = network.in_edges(target, port)
    return port, (fed[0] if fed else None)


@dataclass(frozen=True)
class Splice:
    """How a node goes into a wire: the wire's tensor enters ``in_port`` and ``out_port`` feeds
    the wire's old target, at the same input as before."""

    edge: Edge
    in_port: str
    out_port: str


def check_splice(network: Network, edge_id: str, spec: LayerSpec, params: Mapping[str, Any],
                 node_id: str | None = None) -> Splice:
    """How a node of ``spec`` (a new one, or the loose node ``node_id``) would go into the wire
    ``edge_id``; raises the reason it cannot (a GraphError whose text is a sentence to show)."""
    edge = network.edge(edge_id)
    name = spec.display_name
    if node_id is not None:
        node = network.node(node_id)
        name = node.label()
        if node_id in (edge.source, edge.target):
            raise ConnectionRefused(f"{name} is already at one end of that wire")
        if network.in_edges(node_id) or network.out_edges(node_id):
            raise ConnectionRefused(f"{name} is already wired; only a loose node drops into a wire")
    if not spec.inputs or not spec.outputs:
        raise PortError(f"{name} has no {'input' if not spec.inputs else 'output'}, so it cannot sit in a wire")
    needed = [p.name for p in spec.inputs[1:] if not p.multi and not p.optional]
    if needed:
        raise PortError(f"{name} also needs its '{needed[0]}' input, so it cannot simply sit in a wire")
    analysis = analyze(network)
    carried = analysis.edges.get(edge_id)
    if carried is None:       # something upstream is already wrong: the structure is all we can check
        return Splice(edge, spec.inputs[0].name, spec.outputs[0])
    ins: list[TensorType | None] = [carried]
    ins += [None for p in spec.inputs[1:] if not p.multi]
    try:
        out = spec.infer(dict(params), ins)
    except ShapeError as exc:
        raise ShapeError(f"{name} cannot take the {carried} this wire carries: {exc}") from None
    _check_target(network, edge, out, name, {k: v.output for k, v in analysis.nodes.items()})
    return Splice(edge, spec.inputs[0].name, spec.outputs[0])


def _check_target(network: Network, edge: Edge, out: TensorType, name: str,
                  outputs: Mapping[str, TensorType | None]) -> None:
    """Would the wire's old target still take its inputs with ``out`` in place of the wire's?"""
    target = network.node(edge.target)
    types: list[TensorType | None] = []
    unknown = False
    for port in target.spec.inputs:
        fed = [out if e.id == edge.id else outputs.get(e.source) for e in network.in_edges(target.id, port.name)]
        unknown = unknown or any(t is None for t in fed) or (not fed and not port.multi and not port.optional)
        if port.multi:
            types.extend(fed)
        else:
            types.append(fed[0] if fed else None)
    if unknown:       # another input of the target is unknown or missing: nothing more can be said
        return
    try:
        target.spec.infer(dict(target.params), types)
    except ShapeError as exc:
        raise ShapeError(f"{target.label()} cannot take the {out} that {name} gives: {exc}") from None
