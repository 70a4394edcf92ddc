"""Convolution and pooling layers over 1-D signals (N×C×L) and 2-D images (N×C×H×W)."""

from __future__ import annotations

import math

from graph.layers.spec import (
    Cost,
    LayerSpec,
    ModuleCall,
    ShapeError,
    TensorType,
    first,
    format_shape,
    need_float,
    need_rank,
    spatial_out,
)
from graph.params import Bool, Choice, Float, Int, Ints
from graph.tensor_type import numel

_LAYOUT = {1: "signals shaped N×C×L", 2: "images shaped N×C×H×W", 3: "volumes shaped N×C×D×H×W"}
_FIX = {
    1: "use a Reshape to N×channels×length (e.g. channels 1)",
    2: "use a Reshape to N×channels×height×width (e.g. 1×8×8 for flat 64-pixel images)",
    3: "use a Reshape to N×channels×depth×height×width (volumes or video clips)",
}
_SAMPLE = {1: (None, 3, 17), 2: (None, 3, 9, 8), 3: (None, 3, 7, 6, 5)}


def _spatial_input(t: TensorType, nd: int) -> None:
    need_float(t)
    need_rank(t, (nd + 2,), _LAYOUT[nd], _FIX[nd])


def _conv_params(nd: int, kernel_default: int, padding_default: int, stride_default: int = 1) -> tuple:
    return (
        Int("filters", 32, "Number of output channels (feature maps).", 1, 65536),
        Ints("kernel_size", (kernel_default,) * nd, "Size of the sliding window.", length=nd, minimum=1, maximum=255),
        Ints("stride", (stride_default,) * nd, "Step of the window; 2 halves (or, transposed, doubles) the resolution.", length=nd, minimum=1, maximum=64),
        Ints("padding", (padding_default,) * nd, "Zeros added on each side; (kernel-1)/2 keeps the size.",
             length=nd, minimum=0, maximum=255),
        Ints("dilation", (1,) * nd, "Spacing between kernel taps.", length=nd, minimum=1, maximum=64),
        Int("groups", 1, "Split channels into independent groups (channels for depthwise).", 1, 65536),
        Bool("bias", True, "Learn an additive bias per filter."),
    )


def _check_groups(in_channels: int, p) -> None:
    g = p["groups"]
    if in_channels % g or p["filters"] % g:
        raise ShapeError(
            f"has groups={g}, but both its {in_channels} input channels and its {p['filters']} filters must "
            f"be divisible by it: change groups or filters."
        )


def _conv(nd: int) -> LayerSpec:
    def infer(p, ins):
        t = first(ins)
        _spatial_input(t, nd)
        _check_groups(t.shape[1], p)
        out = spatial_out(t, p["kernel_size"], p["stride"], p["padding"], p["dilation"])
        return TensorType((None, p["filters"], *out))

    def cost(p, ins, out):
        cin = ins[0].shape[1]
        per_pos = cin // p["groups"] * numel(p["kernel_size"])
        weights = p["filters"] * per_pos
        return Cost(weights + (p["filters"] if p["bias"] else 0), weights * numel(out.shape[2:]))

    def build(p, ins):
        return ModuleCall(f"nn.Conv{nd}d", {
            "in_channels": ins[0].shape[1], "out_channels": p["filters"], "kernel_size": p["kernel_size"],
            "stride": p["stride"], "padding": p["padding"], "dilation": p["dilation"], "groups": p["groups"],
            "bias": p["bias"],
        })

    return LayerSpec(
        type_id=f"Conv{nd}d",
        display_name=f"Conv{nd}d",
        category="Convolution",
        description=f"{nd}-D convolution: learns local patterns in {_LAYOUT[nd]}.",
        params=_conv_params(nd, 3, 1),
        infer=infer,
        build=build,
        cost=cost,
        sample_inputs=(TensorType({1: (None, 3, 16), 2: (None, 3, 12, 10), 3: (None, 3, 7, 6, 5)}[nd]),),
        examples=({"filters": 8, "kernel_size": (5,) * nd, "stride": (2,) * nd, "padding": (0,) * nd,
                   "dilation": (1,) * nd, "groups": 1, "bias": False},
                  {"filters": 6, "kernel_size": (3,) * nd, "stride": (1,) * nd, "padding": (2,) * nd,
                   "dilation": (2,) * nd, "groups": 3, "bias": True}),
    )


def _conv_transpose_infer(p, ins):
    t = first(ins)
    _spatial_input(t, 2)
    _check_groups(t.shape[1], p)
    out = []
    for size, k, s, pad, op, d in zip(t.shape[2:], p["kernel_size"], p["stride"], p["padding"],
                                      p["output_padding"], p["dilation"], strict=True):
        if op >= max(s, d):
            raise ShapeError(f"has output padding {op}, which must be smaller than its stride or dilation.")
        o = (size - 1) * s - 2 * pad + d * (k - 1) + op + 1
        if o < 1:
            raise ShapeError(f"would produce an empty output from {format_shape(t.shape)}: reduce its padding.")
        out.append(o)
    return TensorType((None, p["filters"], *out))


def _conv_transpose_cost(p, ins, out):
    cin = ins[0].shape[1]
    weights = cin * (p["filters"] // p["groups"]) * numel(p["kernel_size"])
    return Cost(weights + (p["filters"] if p["bias"] else 0), weights * numel(ins[0].shape[2:]))


CONV_TRANSPOSE_2D = LayerSpec(
    type_id="ConvTranspose2d",
    display_name="ConvTranspose2d",
    category="Convolution",
    description="Transposed convolution: up-samples images (decoders, generators).",
    params=(
        *_conv_params(2, 4, 1, 2)[:4],
        Ints("output_padding", (0, 0), "Extra size added to one side of the output.", length=2, minimum=0, maximum=63),
        *_conv_params(2, 4, 1, 2)[4:],
    ),
    infer=_conv_transpose_infer,
    build=lambda p, ins: ModuleCall("nn.ConvTranspose2d", {
        "in_channels": ins[0].shape[1], "out_channels": p["filters"], "kernel_size": p["kernel_size"],
        "stride": p["stride"], "padding": p["padding"], "output_padding": p["output_padding"],
        "groups": p["groups"], "bias": p["bias"], "dilation": p["dilation"],
    }),
    cost=_conv_transpose_cost,
    sample_inputs=(TensorType((None, 4, 5, 6)),),
    examples=({"filters": 3, "kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 1), "output_padding": (1, 1),
               "dilation": (1, 1), "groups": 1, "bias": True},),
)


def pool_out(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """One pooled size as PyTorch computes it: with ``ceil_mode`` a last, partial window counts,
    unless it would start in the right padding."""
    span = size + 2 * padding - kernel
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool(kind: str, nd: int) -> LayerSpec:
    def infer(p, ins):
        t = first(ins)
        _spatial_input(t, nd)
        for k, pad in zip(p["kernel_size"], p["padding"], strict=True):
            if pad * 2 > k:
                raise ShapeError(f"has padding {pad}, which must be at most half its kernel size {k}.")
        out = tuple(pool_out(size, k, s, pad, p["ceil_mode"]) for size, k, s, pad
                    in zip(t.shape[2:], p["kernel_size"], p["stride"], p["padding"], strict=True))
        if min(out) < 1:
            raise ShapeError(f"would produce an empty output: its input {format_shape(t.shape[2:])} is smaller "
                             f"than the kernel {format_shape(p['kernel_size'])}; use a smaller kernel or fewer "
                             f"down-sampling layers before it.")
        return TensorType((None, t.shape[1], *out))

    def cost(p, ins, out):
        return Cost(0, numel(out.shape[1:]) * numel(p["kernel_size"]))

    return LayerSpec(
        type_id=f"{kind}Pool{nd}d",
        display_name=f"{kind}Pool{nd}d",
        category="Pooling",
        description=f"{'Maximum' if kind == 'Max' else 'Average'} over each window: shrinks {_LAYOUT[nd]}.",
        params=(
            Ints("kernel_size", (2,) * nd, "Size of the window.", length=nd, minimum=1, maximum=255),
            Ints("stride", (2,) * nd, "Step of the window (usually equal to the kernel).", length=nd,
                 minimum=1, maximum=255),
            Ints("padding", (0,) * nd, "Padding on each side (at most half the kernel).", length=nd,
                 minimum=0, maximum=127),
            Bool("ceil_mode", False, "Round the output size up, so a last partial window also counts "
                 "(odd sizes keep their border)."),
        ),
        infer=infer,
        build=lambda p, ins: ModuleCall(f"nn.{kind}Pool{nd}d", {
            "kernel_size": p["kernel_size"], "stride": p["stride"], "padding": p["padding"],
            "ceil_mode": p["ceil_mode"]}),
        cost=cost,
        sample_inputs=(TensorType(_SAMPLE[nd]),),
        examples=({"kernel_size": (3,) * nd, "stride": (1,) * nd, "padding": (1,) * nd, "ceil_mode": False},
                  {"kernel_size": (3,) * nd, "stride": (2,) * nd, "padding": (0,) * nd, "ceil_mode": True}),
    )


def _adaptive(nd: int) -> LayerSpec:
    def infer(p, ins):
        t = first(ins)
        _spatial_input(t, nd)
        return TensorType((None, t.shape[1], *p["output_size"]))

    return LayerSpec(
        type_id=f"AdaptiveAvgPool{nd}d",
        display_name=f"AdaptiveAvgPool{nd}d",
        category="Pooling",
        description="Average-pool to a fixed output size whatever the input size.",
        params=(Ints("output_size", (1,) * nd, "Size of the output.", length=nd, minimum=1, maximum=4096),),
        infer=infer,
        build=lambda p, ins: ModuleCall(f"nn.AdaptiveAvgPool{nd}d", {"output_size": p["output_size"]}),
        cost=lambda p, ins, out: Cost(0, numel(ins[0].shape[1:])),
        sample_inputs=(TensorType(_SAMPLE[nd]),),
        examples=({"output_size": (3,) * nd},),
    )


def _global_infer(p, ins):
    t = first(ins)
    need_float(t)
    need_rank(t, (3, 4, 5), "feature maps shaped N×C×L or N×C×H×W",
              "for sequences shaped N×L×D use a SequencePool instead")
    return TensorType((None, t.shape[1]))


GLOBAL_AVG_POOL = LayerSpec(
    type_id="GlobalAvgPool",
    display_name="GlobalAvgPool",
    category="Pooling",
    description="Average each channel over all positions: N×C×H×W -> N×C (replaces Flatten in modern CNNs).",
    infer=_global_infer,
    build=lambda p, ins: ModuleCall("dc.GlobalAvgPool", {}),
    cost=lambda p, ins, out: Cost(0, numel(ins[0].shape[1:])),
    sample_inputs=(TensorType((None, 5, 4, 3)),),
)

#: interpolation modes and the input rank each needs (None: any of 3, 4, 5)
_MODES = {"nearest": None, "linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def _upsample_infer(p, ins):
    t = first(ins)
    need_float(t)
    need_rank(t, (3, 4, 5), "feature maps N×C×L, N×C×H×W or N×C×D×H×W", "Reshape to channels first")
    rank = _MODES[p["mode"]]
    if rank is not None and t.rank != rank:
        fits = [m for m, r in _MODES.items() if r in (None, t.rank)]
        raise ShapeError(f"uses {p['mode']} interpolation, which needs {_LAYOUT[rank - 2]}, but receives "
                         f"{format_shape(t.shape)}: pick {' or '.join(fits)}.")
    spatial = t.shape[2:]
    if p["size"]:
        if len(p["size"]) != len(spatial):
            raise ShapeError(f"has a target size of {len(p['size'])} numbers but its input "
                             f"{format_shape(t.shape)} has {len(spatial)} spatial dimensions: give "
                             f"{len(spatial)} numbers, or leave the size empty to scale.")
        return TensorType((None, t.shape[1], *p["size"]))
    out = tuple(int(math.floor(size * p["scale_factor"])) for size in spatial)
    if min(out) < 1:
        raise ShapeError(f"would shrink {format_shape(t.shape)} to nothing: raise its scale factor.")
    return TensorType((None, t.shape[1], *out))


def _upsample_build(p, ins):
    interpolating = p["mode"] != "nearest"
    return ModuleCall("nn.Upsample", {
        "size": tuple(p["size"]) if p["size"] else None,
        "scale_factor": None if p["size"] else p["scale_factor"],
        "mode": p["mode"], "align_corners": p["align_corners"] if interpolating else None})


UPSAMPLE = LayerSpec(
    type_id="Upsample",
    display_name="Upsample",
    category="Upsampling",
    description="Resize feature maps by a scale factor or to a fixed size (nearest, bilinear, ...): the "
                "parameter-free way decoders and U-Nets grow their resolution.",
    params=(
        Float("scale_factor", 2.0, "Multiply each spatial size by this (ignored when a size is given).",
              0.01, 64.0),
        Choice("mode", "nearest", tuple(_MODES), "nearest copies values; linear (signals), bilinear/bicubic "
               "(images) and trilinear (volumes) interpolate."),
        Bool("align_corners", False, "For interpolating modes: align the corner pixels of input and output."),
        Ints("size", (), "Fixed output size per spatial dimension; empty to scale instead.", min_length=0,
             minimum=1, maximum=65536),
    ),
    infer=_upsample_infer,
    build=_upsample_build,
    cost=lambda p, ins, out: Cost(0, numel(out.shape[1:])),
    sample_inputs=(TensorType((None, 3, 4, 5)),),
    examples=({"scale_factor": 2.0, "mode": "bilinear", "align_corners": False, "size": ()},
              {"scale_factor": 1.5, "mode": "bicubic", "align_corners": True, "size": ()},
              {"scale_factor": 2.0, "mode": "nearest", "align_corners": False, "size": (7, 9)}),
)


def _pixel_shuffle_infer(p, ins):
    t = first(ins)
    need_float(t)
    need_rank(t, (4,), _LAYOUT[2], _FIX[2])
    r = p["upscale_factor"]
    if t.shape[1] % (r * r):
        raise ShapeError(f"has upscale factor {r}, so its {t.shape[1]} input channels must be divisible by "
                         f"{r * r}: give the convolution before it a multiple of {r * r} filters.")
    return TensorType((None, t.shape[1] // (r * r), t.shape[2] * r, t.shape[3] * r))


PIXEL_SHUFFLE = LayerSpec(
    type_id="PixelShuffle",
    display_name="PixelShuffle",
    category="Upsampling",
    description="Rearrange channels into space: N×C·r²×H×W -> N×C×H·r×W·r (sub-pixel convolution, "
                "super-resolution).",
    params=(Int("upscale_factor", 2, "How much each spatial size grows (r).", 1, 64),),
    infer=_pixel_shuffle_infer,
    build=lambda p, ins: ModuleCall("nn.PixelShuffle", {"upscale_factor": p["upscale_factor"]}),
    sample_inputs=(TensorType((None, 8, 3, 5)),),
    examples=({"upscale_factor": 1},),
)

LAYERS = (
    _conv(1), _conv(2), _conv(3), CONV_TRANSPOSE_2D,
    _pool("Max", 1), _pool("Max", 2), _pool("Max", 3), _pool("Avg", 1), _pool("Avg", 2), _pool("Avg", 3),
    _adaptive(1), _adaptive(2), _adaptive(3), GLOBAL_AVG_POOL, UPSAMPLE, PIXEL_SHUFFLE,
)
