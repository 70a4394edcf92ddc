"""Activation functions: shape-preserving, parameter-free (apart from their settings)."""

from __future__ import annotations

from graph.layers.spec import LayerSpec, ModuleCall, TensorType, check_dim, first, need_float
from graph.params import Float, Int


def _same(p, ins):
    t = first(ins)
    need_float(t)
    return t


def _with_dim(p, ins):
    t = _same(p, ins)
    check_dim(t, p["dim"], "dim")
    return t


def _activation(type_id: str, description: str, torch_name: str | None = None, params=(), kwargs=None,
                infer=_same) -> LayerSpec:
    return LayerSpec(
        type_id=type_id,
        display_name=type_id,
        category="Activation",
        description=description,
        params=params,
        infer=infer,
        build=lambda p, ins: ModuleCall(f"nn.{torch_name or type_id}", kwargs(p) if kwargs else {}),
        sample_inputs=(TensorType((None, 6, 5)),),
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
)
