"""Normalisation layers."""

from __future__ import annotations

from graph.layers.spec import Cost, LayerSpec, ModuleCall, TensorType, first, need_float, need_rank
from graph.params import Bool, Float
from graph.tensor_type import numel


def _batchnorm(nd: int) -> LayerSpec:
    ranks = (2, 3) if nd == 1 else (4,)
    layout = "N×C or N×C×L" if nd == 1 else "images shaped N×C×H×W"
    fix = "use BatchNorm2d for images" if nd == 1 else "use BatchNorm1d for vectors and signals"

    def infer(p, ins):
        t = first(ins)
        need_float(t)
        need_rank(t, ranks, layout, fix)
        return t

    return LayerSpec(
        type_id=f"BatchNorm{nd}d",
        display_name=f"BatchNorm{nd}d",
        category="Normalization",
        description="Normalise each channel over the batch; speeds up and stabilises training.",
        params=(
            Float("momentum", 0.1, "How fast the running statistics follow the batches.", 0.0, 1.0),
            Float("eps", 1e-5, "Added to the variance for numerical stability.", 0.0, 1.0),
            Bool("affine", True, "Learn a scale and shift per channel."),
        ),
        infer=infer,
        build=lambda p, ins: ModuleCall(f"nn.BatchNorm{nd}d", {
            "num_features": ins[0].shape[1], "eps": p["eps"], "momentum": p["momentum"], "affine": p["affine"]}),
        cost=lambda p, ins, out: Cost(2 * ins[0].shape[1] if p["affine"] else 0, numel(ins[0].shape[1:])),
        sample_inputs=(TensorType((None, 6, 5)) if nd == 1 else TensorType((None, 4, 3, 5)),),
    )


def _layernorm_infer(p, ins):
    t = first(ins)
    need_float(t)
    need_rank(t, (2, 3, 4, 5), "at least N×features", "it needs a feature dimension")
    return t


LAYER_NORM = LayerSpec(
    type_id="LayerNorm",
    display_name="LayerNorm",
    category="Normalization",
    description="Normalise the last dimension of each sample (Transformers, RNNs).",
    params=(
        Float("eps", 1e-5, "Added to the variance for numerical stability.", 0.0, 1.0),
        Bool("elementwise_affine", True, "Learn a scale and shift per feature."),
    ),
    infer=_layernorm_infer,
    build=lambda p, ins: ModuleCall("nn.LayerNorm", {
        "normalized_shape": ins[0].shape[-1], "eps": p["eps"], "elementwise_affine": p["elementwise_affine"]}),
    cost=lambda p, ins, out: Cost(2 * ins[0].shape[-1] if p["elementwise_affine"] else 0, numel(ins[0].shape[1:])),
    sample_inputs=(TensorType((None, 7, 12)),),
)

LAYERS = (_batchnorm(1), _batchnorm(2), LAYER_NORM)
