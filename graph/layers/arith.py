"""Arithmetic: reductions over dimensions, matrix products, and element-wise maths with constants.

These are the small tensor expressions models write inline (``x.mean(dim=(2, 3))``, ``q @ k``,
``x * 0.5``, ``torch.exp(logvar / 2)``); as layers they keep their shapes known on every edit and
import as drawn nodes instead of imported code.
"""

from __future__ import annotations

from graph.layers.spec import (
    Cost,
    LayerSpec,
    ModuleCall,
    PortSpec,
    ShapeError,
    TensorType,
    check_dim,
    first,
    format_shape,
    need_float,
)
from graph.params import Bool, Float, Ints
from graph.tensor_type import numel

CATEGORY = "Math"
_SAMPLE = (TensorType((None, 4, 3, 5)),)


def _reduce(type_id: str, verb: str) -> LayerSpec:
    def infer(p, ins):
        t = first(ins)
        if type_id == "Mean":
            need_float(t, "a mean of token ids is not a feature; put an Embedding before it")
        dims = sorted(check_dim(t, d, "dim") for d in p["dims"])
        if len(set(dims)) != len(dims):
            raise ShapeError(f"names dimension {format_shape(tuple(p['dims']))} twice: list each once.")
        if p["keepdim"]:
            shape = tuple(1 if i in dims else d for i, d in enumerate(t.shape))
        else:
            shape = tuple(d for i, d in enumerate(t.shape) if i not in dims)
        return TensorType(shape, t.dtype)

    return LayerSpec(
        type_id=type_id,
        display_name=type_id,
        category=CATEGORY,
        description=f"{verb.capitalize()} over one or more dimensions of each sample (x.{type_id.lower()}(dim)); "
                    f"over all of them it gives one number per sample (shape N).",
        params=(
            Ints("dims", (-1,), "Dimensions to reduce (the batch is 0 and cannot be reduced; -1 the last).",
                 minimum=-8, maximum=8),
            Bool("keepdim", False, "Keep each reduced dimension with size 1 (handy to broadcast back)."),
        ),
        infer=infer,
        build=lambda p, ins: ModuleCall("dc.Reduce", {"op": type_id.lower(), "dims": tuple(p["dims"]),
                                                      "keepdim": p["keepdim"]}),
        cost=lambda p, ins, out: Cost(0, numel(ins[0].shape[1:])),
        sample_inputs=_SAMPLE,
        examples=({"dims": (2, 3), "keepdim": True}, {"dims": (1, 2, 3), "keepdim": False}),
    )


def _matmul_infer(p, ins):
    a, b = ins
    assert a is not None and b is not None
    for t in (a, b):
        need_float(t)
    if a.rank < 3 or b.rank != a.rank:
        raise ShapeError(f"multiplies batches of matrices (N×…×n×k by N×…×k×m of the same rank) but receives "
                         f"{format_shape(a.shape)} and {format_shape(b.shape)}: Reshape or Unsqueeze them to "
                         f"matrices per sample.")
    if a.shape[1:-2] != b.shape[1:-2]:
        raise ShapeError(f"needs the same leading dimensions on both sides but receives {format_shape(a.shape)} "
                         f"and {format_shape(b.shape)}.")
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"cannot multiply {format_shape(a.shape)} by {format_shape(b.shape)}: the last size of "
                         f"'a' ({a.shape[-1]}) must equal the second-to-last of 'b' ({b.shape[-2]}); a Transpose "
                         f"of 'b' is often what is meant.")
    return TensorType((*a.shape[:-1], b.shape[-1]))


MATMUL = LayerSpec(
    type_id="MatMul",
    display_name="MatMul",
    category=CATEGORY,
    description="Matrix product of two inputs per sample (a @ b): N×n×k times N×k×m gives N×n×m "
                "(attention scores, bilinear pooling).",
    inputs=(PortSpec("a", help="left matrices N×…×n×k"), PortSpec("b", help="right matrices N×…×k×m")),
    infer=_matmul_infer,
    build=lambda p, ins: ModuleCall("dc.MatMul", {}),
    cost=lambda p, ins, out: Cost(0, numel(out.shape[1:]) * ins[0].shape[-1]),
    sample_inputs=(TensorType((None, 4, 3)), TensorType((None, 3, 5))),
)


def _float_same(p, ins):
    t = first(ins)
    need_float(t)
    return t


SCALE = LayerSpec(
    type_id="Scale",
    display_name="Scale",
    category=CATEGORY,
    description="Multiply (or divide) by a constant, then add a constant: x·factor + offset, or "
                "x / factor + offset (e.g. pixel values / 255, or 1 - x).",
    params=(
        Float("factor", 1.0, "Constant to multiply (or divide) by.", -1e12, 1e12),
        Bool("divide", False, "Divide by the factor instead of multiplying (exactly as x / factor)."),
        Float("offset", 0.0, "Constant added afterwards.", -1e12, 1e12),
    ),
    infer=lambda p, ins: _scale_infer(p, ins),
    build=lambda p, ins: ModuleCall("dc.Scale", {"factor": p["factor"], "divide": p["divide"],
                                                 "offset": p["offset"]}),
    cost=lambda p, ins, out: Cost(0, numel(out.shape[1:])),
    sample_inputs=(TensorType((None, 6, 5)),),
    examples=({"factor": 0.5, "divide": False, "offset": 0.0}, {"factor": 8.0, "divide": True, "offset": -1.0},
              {"factor": -1.0, "divide": False, "offset": 1.0}),
)


def _scale_infer(p, ins):
    if p["divide"] and p["factor"] == 0:
        raise ShapeError("divides by zero: give it a non-zero factor.")
    return _float_same(p, ins)


EXP = LayerSpec(
    type_id="Exp",
    display_name="Exp",
    category=CATEGORY,
    description="e to the power of each value (torch.exp): a log-variance to a variance, log-scales to scales.",
    infer=_float_same,
    build=lambda p, ins: ModuleCall("dc.Exp", {}),
    cost=lambda p, ins, out: Cost(0, numel(out.shape[1:])),
    sample_inputs=(TensorType((None, 6, 5)),),
)

POW = LayerSpec(
    type_id="Pow",
    display_name="Pow",
    category=CATEGORY,
    description="Raise each value to a constant power (x ** exponent): 2 squares, 0.5 is the square root "
                "(negative values give NaN there), -0.5 the reciprocal square root.",
    params=(Float("exponent", 2.0, "The constant power.", -64.0, 64.0),),
    infer=_float_same,
    build=lambda p, ins: ModuleCall("dc.Pow", {"exponent": p["exponent"]}),
    cost=lambda p, ins, out: Cost(0, numel(out.shape[1:])),
    sample_inputs=(TensorType((None, 6, 5)),),
    examples=({"exponent": 3.0}, {"exponent": -1.0}),
)

LAYERS = (_reduce("Mean", "average"), _reduce("Sum", "add up"), MATMUL, SCALE, EXP, POW)
