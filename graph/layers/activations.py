"""Activation functions: shape-preserving, parameter-free (apart from their settings)."""

from __future__ import annotations

from graph.layers.spec import Cost, LayerSpec, ModuleCall, TensorType, check_dim, first, need_float, need_rank
from graph.params import Bool, Float, Int


def _same(p, ins):
    t = first(ins)
    need_float(t)
    return t


def _with_dim(p, ins):
    t = _same(p, ins)
    check_dim(t, p["dim"], "dim")
    return t


def _activation(type_id: str, description: str, torch_name: str | None = None, params=(), kwargs=None,
                infer=_same, examples: tuple = ()) -> LayerSpec:
    return LayerSpec(
        type_id=type_id,
        display_name=type_id,
        category="Activation",
        description=description,
        params=params,
        infer=infer,
        build=lambda p, ins: ModuleCall(f"nn.{torch_name or type_id}", kwargs(p) if kwargs else {}),
        sample_inputs=(TensorType((None, 6, 5)),),
        examples=examples,
    )


def _prelu_infer(p, ins):
    t = _same(p, ins)
    if p["per_channel"]:
        need_rank(t, (2, 3, 4, 5), "N×C or N×C×... (one slope per channel C)",
                  "turn per-channel slopes off, or Reshape so that dimension 1 holds the channels")
    return t


def _prelu_count(p, ins) -> int:
    return ins[0].shape[1] if p["per_channel"] else 1


PRELU = LayerSpec(
    type_id="PReLU",
    display_name="PReLU",
    category="Activation",
    description="Leaky ReLU whose negative slope is learned (one for all values, or one per channel).",
    params=(
        Bool("per_channel", False, "Learn one slope per channel (dimension 1) instead of one in all."),
        Float("init", 0.25, "Starting value of the learned slope.", -10.0, 10.0),
    ),
    infer=_prelu_infer,
    build=lambda p, ins: ModuleCall("nn.PReLU", {"num_parameters": _prelu_count(p, ins), "init": p["init"]}),
    cost=lambda p, ins, out: Cost(_prelu_count(p, ins), 0),
    sample_inputs=(TensorType((None, 6, 5)),),
    examples=({"per_channel": True, "init": 0.1},),
)


LAYERS = (
    _activation("ReLU", "max(0, x): the default choice for hidden layers."),
    _activation("LeakyReLU", "Like ReLU but lets a small slope through for negative values.",
                params=(Float("negative_slope", 0.01, "Slope for negative inputs.", 0.0, 1.0),),
                kwargs=lambda p: {"negative_slope": p["negative_slope"]}),
    _activation("GELU", "Smooth ReLU used by Transformers."),
    _activation("SiLU", "x·sigmoid(x) (Swish)."),
    _activation("Sigmoid", "Squash to (0, 1): binary probabilities and gates."),
    _activation("Tanh", "Squash to (-1, 1)."),
    _activation("Softmax", "Probabilities that sum to 1 along one dimension. Leave it out before a "
                "cross-entropy loss, which expects raw scores.",
                params=(Int("dim", -1, "Dimension that sums to one (-1: the last)."),),
                kwargs=lambda p: {"dim": p["dim"]}, infer=_with_dim),
    _activation("LogSoftmax", "Log-probabilities along one dimension (pair with an NLL loss).",
                params=(Int("dim", -1, "Dimension to normalise (-1: the last)."),),
                kwargs=lambda p: {"dim": p["dim"]}, infer=_with_dim),
    _activation("ReLU6", "min(max(0, x), 6): ReLU capped at 6 (MobileNet)."),
    _activation("Hardswish", "x·ReLU6(x+3)/6: a cheap Swish (MobileNetV3)."),
    _activation("Hardsigmoid", "ReLU6(x+3)/6: a cheap sigmoid for gates (squeeze-excitation)."),
    _activation("ELU", "x for positive values, alpha·(exp(x)-1) for negative ones.",
                params=(Float("alpha", 1.0, "Value the output approaches for large negative inputs (-alpha).",
                              0.0, 100.0),),
                kwargs=lambda p: {"alpha": p["alpha"]}, examples=({"alpha": 0.5},)),
    PRELU,
    _activation("Mish", "x·tanh(softplus(x)): a smooth self-gated activation (YOLOv4)."),
)
