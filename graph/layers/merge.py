"""Merge layers: join several branches (residual sums, gates, concatenation)."""

from __future__ import annotations

from graph.layers.spec import (
    LayerSpec,
    ModuleCall,
    PortSpec,
    ShapeError,
    TensorType,
    check_dim,
    format_shape,
    same_shapes,
)
from graph.params import Int

_MULTI = (PortSpec("in", multi=True, help="any number of branches"),)


def _need_two(ins) -> list[TensorType]:
    present = [t for t in ins if t is not None]
    if len(present) < 2:
        raise ShapeError("needs at least two inputs: wire another branch into it.")
    return present


def broadcast_shapes(ins: list[TensorType], what: str) -> TensorType:
    """The shape of an element-wise product whose inputs have one rank and, in each dimension,
    one size or 1 (a gate of N×C×1×1 scales every position of N×C×H×W, as squeeze-excitation does)."""
    ranks = {t.rank for t in ins}
    dtypes = {t.dtype for t in ins}
    if len(ranks) == 1 and len(dtypes) == 1:
        shape = []
        for sizes in zip(*(t.shape for t in ins), strict=True):
            stretched = {d for d in sizes if d != 1}
            if len(stretched) > 1:
                break
            shape.append(stretched.pop() if stretched else 1)
        else:
            return TensorType(tuple(shape), ins[0].dtype)
    if len(dtypes) > 1:
        raise ShapeError(f"{what} tensors of one dtype but receives {', '.join(sorted(dtypes))}.")
    listed = ", ".join(format_shape(t.shape) for t in ins)
    raise ShapeError(f"{what} tensors whose sizes agree (or are 1, to stretch) in every dimension, but receives "
                     f"{listed}: make the branches agree.")


def _elementwise(type_id: str, verb: str) -> LayerSpec:
    broadcast = type_id == "Multiply"
    verbs = verb[:-1] + "ies" if verb.endswith("y") else verb + "s"

    def infer(p, ins):
        present = _need_two(ins)
        if broadcast:
            return broadcast_shapes(present, verbs)
        return same_shapes(present, verbs)

    return LayerSpec(
        type_id=type_id,
        display_name=type_id,
        category="Merge",
        description=f"{verb.capitalize()} equally shaped tensors element by element" + (
            "; a size of 1 stretches to the other's (a gate N×C×1×1 scales every position of N×C×H×W)."
            if broadcast else "."),
        inputs=_MULTI,
        infer=infer,
        build=lambda p, ins: ModuleCall(f"dc.{type_id}", {}),
        sample_inputs=(TensorType((None, 3, 4)), TensorType((None, 3, 4))),
    )


def _concat_infer(p, ins):
    present = _need_two(ins)
    ref = present[0]
    dim = check_dim(ref, p["dim"], "dim")
    for t in present[1:]:
        same_rank = t.rank == ref.rank
        others_match = same_rank and all(a == b for i, (a, b) in enumerate(zip(t.shape, ref.shape, strict=True))
                                         if i != dim)
        if not others_match or t.dtype != ref.dtype:
            listed = ", ".join(format_shape(x.shape) for x in present)
            raise ShapeError(f"joins along dim {p['dim']}, so all other dimensions must agree, but receives "
                             f"{listed}.")
    size = sum(t.shape[dim] for t in present)
    return TensorType(ref.shape[:dim] + (size,) + ref.shape[dim + 1:], ref.dtype)


CONCAT = LayerSpec(
    type_id="Concat",
    display_name="Concat",
    category="Merge",
    description="Join tensors along one dimension (1: channels/features; -1: the last).",
    inputs=_MULTI,
    params=(Int("dim", 1, "Dimension to join along (counting the batch as 0)."),),
    infer=_concat_infer,
    build=lambda p, ins: ModuleCall("dc.Concat", {"dim": p["dim"]}),
    sample_inputs=(TensorType((None, 3, 4)), TensorType((None, 5, 4))),
)

LAYERS = (_elementwise("Add", "add"), _elementwise("Multiply", "multiply"), CONCAT)
