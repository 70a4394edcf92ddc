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


def _elementwise(type_id: str, verb: str) -> LayerSpec:
    def infer(p, ins):
        return same_shapes(_need_two(ins), f"{verb}s")

    return LayerSpec(
        type_id=type_id,
        display_name=type_id,
        category="Merge",
        description=f"{verb.capitalize()} equally shaped tensors element by element.",
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
