"""Normalisation layers."""

from __future__ import annotations

from graph.layers.spec import (
    Cost,
    LayerSpec,
    ModuleCall,
    ShapeError,
    TensorType,
    first,
    need_float,
    need_rank,
)
from graph.params import Bool, Float, Int
from graph.tensor_type import format_shape, numel


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

def _groupnorm_infer(p, ins):
    t = first(ins)
    need_float(t)
    need_rank(t, (2, 3, 4, 5), "N×C or N×C×... (channels in dimension 1)", "it needs a channel dimension")
    channels, groups = t.shape[1], p["num_groups"]
    if channels % groups:
        raise ShapeError(f"has {groups} groups, which must divide its {channels} channels: pick a number of "
                         f"groups that divides {channels} (1 is LayerNorm-like, {channels} InstanceNorm-like).")
    return t


GROUP_NORM = LayerSpec(
    type_id="GroupNorm",
    display_name="GroupNorm",
    category="Normalization",
    description="Normalise groups of channels within each sample; works with any batch size (detection, "
                "diffusion U-Nets).",
    params=(
        Int("num_groups", 2, "Number of channel groups; must divide the channels.", 1, 65536),
        Float("eps", 1e-5, "Added to the variance for numerical stability.", 0.0, 1.0),
        Bool("affine", True, "Learn a scale and shift per channel."),
    ),
    infer=_groupnorm_infer,
    build=lambda p, ins: ModuleCall("nn.GroupNorm", {
        "num_groups": p["num_groups"], "num_channels": ins[0].shape[1], "eps": p["eps"], "affine": p["affine"]}),
    cost=lambda p, ins, out: Cost(2 * ins[0].shape[1] if p["affine"] else 0, numel(ins[0].shape[1:])),
    sample_inputs=(TensorType((None, 6, 4, 5)),),
    examples=({"num_groups": 3, "eps": 1e-3, "affine": False},),
)


def _instancenorm(nd: int) -> LayerSpec:
    layout = "signals shaped N×C×L" if nd == 1 else "images shaped N×C×H×W"
    fix = "use InstanceNorm2d for images" if nd == 1 else "use InstanceNorm1d for signals"

    def infer(p, ins):
        t = first(ins)
        need_float(t)
        need_rank(t, (nd + 2,), layout, fix)
        if numel(t.shape[2:]) < 2:
            raise ShapeError(f"normalises each channel over its positions, but {format_shape(t.shape)} has a "
                             f"single position per channel: use it on larger feature maps.")
        return t

    return LayerSpec(
        type_id=f"InstanceNorm{nd}d",
        display_name=f"InstanceNorm{nd}d",
        category="Normalization",
        description="Normalise each channel of each sample over its positions (style transfer, GANs).",
        params=(
            Float("eps", 1e-5, "Added to the variance for numerical stability.", 0.0, 1.0),
            Float("momentum", 0.1, "How fast running statistics follow (when tracked).", 0.0, 1.0),
            Bool("affine", False, "Learn a scale and shift per channel."),
            Bool("track_running_stats", False, "Keep running statistics and use them in eval mode."),
        ),
        infer=infer,
        build=lambda p, ins: ModuleCall(f"nn.InstanceNorm{nd}d", {
            "num_features": ins[0].shape[1], "eps": p["eps"], "momentum": p["momentum"], "affine": p["affine"],
            "track_running_stats": p["track_running_stats"]}),
        cost=lambda p, ins, out: Cost(2 * ins[0].shape[1] if p["affine"] else 0, numel(ins[0].shape[1:])),
        sample_inputs=(TensorType((None, 4, 7)) if nd == 1 else TensorType((None, 3, 4, 5)),),
        examples=({"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True},),
    )


LAYERS = (_batchnorm(1), _batchnorm(2), LAYER_NORM, GROUP_NORM, _instancenorm(1), _instancenorm(2))
