"""Graph endpoints and the basic layers: Input, Output, Dense, Flatten, Reshape, Dropout."""

from __future__ import annotations

from graph.layers.spec import (
    FLOAT,
    LONG,
    Cost,
    LayerSpec,
    ModuleCall,
    ShapeError,
    TensorType,
    first,
    format_shape,
    need_float,
)
from graph.params import Bool, Choice, Float, Int, Ints
from graph.tensor_type import numel

#: values per sample beyond which a "sample" is surely a typo (it could not be allocated)
MAX_SAMPLE_VALUES = 1 << 28


def _input_infer(p, ins):
    if numel(p["shape"]) > MAX_SAMPLE_VALUES:
        raise ShapeError(f"has {numel(p['shape']):,} values per sample, more than any batch could hold: "
                         f"check its shape.")
    return TensorType((None, *p["shape"]), p["dtype"])


INPUT = LayerSpec(
    type_id="Input",
    display_name="Input",
    category="Input / Output",
    description="Where data enters the network. Its shape is per sample: the batch dimension N is added.",
    role="input",
    inputs=(),
    params=(
        Ints("shape", (1, 8, 8), "Shape of one sample, without the batch dimension (e.g. 1×28×28 "
             "for grey images, 20 for a vector, 50 for a sequence of 50 token ids).", min_length=1,
             maximum=1_000_000),
        Choice("dtype", FLOAT, (FLOAT, LONG), "float32 for measurements and images, int64 for token ids "
               "that feed an Embedding."),
    ),
    infer=_input_infer,
    build=None,
    examples=({"shape": (20,), "dtype": FLOAT}, {"shape": (12,), "dtype": LONG}),
)

OUTPUT = LayerSpec(
    type_id="Output",
    display_name="Output",
    category="Input / Output",
    description="What the network returns. A network may have several outputs.",
    role="output",
    outputs=(),
    infer=lambda p, ins: first(ins),
    build=None,
    sample_inputs=(TensorType((None, 10)),),
)


def _dense_infer(p, ins):
    t = first(ins)
    need_float(t)
    if t.rank > 3:
        raise ShapeError(
            f"receives a {format_shape(t.shape)} tensor but works on vectors (N×features) or "
            f"sequences (N×L×features): put a Flatten before it."
        )
    if t.rank < 2:
        raise ShapeError(f"receives {format_shape(t.shape)}, which has no feature dimension.")
    return t.with_last(p["units"])


def _dense_cost(p, ins, out):
    t = ins[0]
    weights = t.shape[-1] * p["units"]
    steps = numel(t.shape[1:-1])
    return Cost(weights + (p["units"] if p["bias"] else 0), weights * steps)


DENSE = LayerSpec(
    type_id="Dense",
    display_name="Dense",
    category="Core",
    description="Fully connected layer (torch.nn.Linear) acting on the last dimension.",
    params=(
        Int("units", 64, "Number of output features.", 1, 1_000_000),
        Bool("bias", True, "Learn an additive bias."),
    ),
    infer=_dense_infer,
    build=lambda p, ins: ModuleCall("nn.Linear", {"in_features": ins[0].shape[-1],
                                                  "out_features": p["units"], "bias": p["bias"]}),
    cost=_dense_cost,
    legacy_ids=("Linear",),
    sample_inputs=(TensorType((None, 20)),),
    examples=({"units": 7, "bias": False},),
)


def _flatten_infer(p, ins):
    t = first(ins)
    return TensorType((None, numel(t.shape[1:])), t.dtype)


FLATTEN = LayerSpec(
    type_id="Flatten",
    display_name="Flatten",
    category="Core",
    description="Turn each sample into one vector (keeps the batch dimension).",
    infer=_flatten_infer,
    build=lambda p, ins: ModuleCall("nn.Flatten", {}),
    sample_inputs=(TensorType((None, 3, 4, 5)),),
    tags=("view",),  # no new memory: the memory estimate does not count its output again
)


def _reshape_infer(p, ins):
    t = first(ins)
    target = list(p["shape"])
    total = numel(t.shape[1:])
    known = numel(tuple(d for d in target if d != -1))
    if -1 in target:
        if total % known:
            raise ShapeError(
                f"cannot reshape {format_shape(t.shape)} ({total} values per sample) to "
                f"N×{format_shape(tuple(target))}: {total} is not divisible by {known}."
            )
        target[target.index(-1)] = total // known
    elif not target and total != 1:
        raise ShapeError(
            f"cannot make {format_shape(t.shape)} ({total} values per sample) a per-sample scalar: that needs "
            f"exactly one value per sample; reduce it first (e.g. Mean over its dimensions).")
    elif known != total:
        raise ShapeError(
            f"cannot reshape {format_shape(t.shape)} ({total} values per sample) to "
            f"N×{format_shape(tuple(target))} ({known} values): the sizes must multiply to {total}."
        )
    return TensorType((None, *target), t.dtype)


RESHAPE = LayerSpec(
    type_id="Reshape",
    display_name="Reshape",
    category="Core",
    description="Give each sample a new shape with the same number of values; -1 infers one dimension, "
                "and an empty shape turns one value per sample into a per-sample scalar (shape N).",
    params=(Ints("shape", (-1,), "Target shape of one sample; one entry may be -1; empty for a single value "
                 "per sample (output N).", allow_minus_one=True, maximum=1_000_000, min_length=0),),
    infer=_reshape_infer,
    build=lambda p, ins: ModuleCall("dc.Reshape", {"shape": tuple(p["shape"])}),
    sample_inputs=(TensorType((None, 64)),),
    examples=({"shape": (1, 8, 8)}, {"shape": (4, -1)}),
    tags=("view",),
)

def _dropout_infer(p, ins):
    t = first(ins)
    # in eval mode dropout is the identity, but training draws a float mask: int64 ids fail there
    need_float(t, "dropout works on features, not token ids; put an Embedding before it")
    return t


DROPOUT = LayerSpec(
    type_id="Dropout",
    display_name="Dropout",
    category="Regularization",
    description="Randomly zero a fraction of values during training to reduce over-fitting.",
    params=(Float("p", 0.5, "Fraction of values dropped while training.", 0.0, 0.99),),
    infer=_dropout_infer,
    build=lambda p, ins: ModuleCall("nn.Dropout", {"p": p["p"]}),
    sample_inputs=(TensorType((None, 16)),),
)

LAYERS = (INPUT, OUTPUT, DENSE, FLATTEN, RESHAPE, DROPOUT)
