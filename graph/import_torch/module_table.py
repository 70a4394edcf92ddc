"""torch.nn modules -> registry layers: which module settings a DeepCanvas layer builds exactly,
and reading a module's constructor arguments back for an imported op."""

from __future__ import annotations

import inspect
import math
from typing import Any

from graph.tensor_type import TensorType


def feature_dim(t: TensorType, dim: int) -> bool:
    d = dim if dim >= 0 else t.rank + dim
    return 1 <= d < t.rank


def maps_recurrent(m: Any) -> bool:
    return bool(m.batch_first and m.bias and getattr(m, "proj_size", 0) == 0
                and (type(m).__name__ != "RNN" or m.nonlinearity == "tanh"))


def encoder_params(layer: Any, sequence_first: bool = False) -> dict[str, Any] | None:
    """A Transformer layer's settings in TransformerEncoder/Decoder params, or None when DeepCanvas
    builds its layers differently. ``sequence_first``: the layer may read (L, N, D) input, which
    the import turns batch-first around it (the weights are the same either way)."""
    import torch.nn.functional as F
    from torch import nn

    attn = layer.self_attn
    act = layer.activation
    code = 1 if act is F.relu or isinstance(act, nn.ReLU) else \
        2 if act is F.gelu or (isinstance(act, nn.GELU) and act.approximate == "none") else 0
    norms = [m for name, m in layer.named_children() if name.startswith("norm")]
    if (attn.batch_first == sequence_first or code not in (1, 2) or layer.linear1.bias is None or attn.in_proj_bias is None
            or any(abs(m.eps - 1e-5) > 1e-12 or m.bias is None for m in norms)):
        return None
    return {"num_heads": attn.num_heads, "dim_feedforward": layer.linear1.out_features,
            "dropout": float(layer.dropout.p), "activation": "relu" if code == 1 else "gelu",
            "norm_first": bool(layer.norm_first), "causal": False}


def _ints(value: Any, nd: int) -> tuple[int, ...] | None:
    if isinstance(value, int):
        return (value,) * nd
    if isinstance(value, tuple | list) and len(value) == nd and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def module_layer(m: Any, out: TensorType, inp: TensorType) -> tuple[str, dict[str, Any], bool] | None:
    """(layer type, params, carries weights) for a torch.nn module that a registry layer builds
    exactly, else None. The layer's shape rule must give the traced output with those params, so a
    module in a form the table misreads becomes an imported op instead of a broken node."""
    from graph.errors import GraphError
    from graph.layers import get_layer

    found = _module_layer(m, out, inp)
    if found is None:
        return None
    type_id, params, with_state = found
    spec = get_layer(type_id)
    try:
        clean = spec.defaults() | {k: spec.param(k).coerce(v) for k, v in params.items()}
        if spec.infer(clean, [inp]) != out:
            return None
    except (GraphError, KeyError):
        return None
    return type_id, clean, with_state


def _module_layer(m: Any, out: TensorType, inp: TensorType) -> tuple[str, dict[str, Any], bool] | None:
    kind = type(m).__name__
    if inp.shape[:1] != (None,) or out.shape[:1] != (None,):
        return None
    if kind == "Linear":
        return "Dense", {"units": m.out_features, "bias": m.bias is not None}, True
    if kind in ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d"):
        nd = 2 if kind == "ConvTranspose2d" else int(kind[-2])
        padding = _ints(m.padding, nd)
        if padding is None or m.padding_mode != "zeros":
            return None
        params = {"filters": m.out_channels, "kernel_size": tuple(m.kernel_size), "stride": tuple(m.stride),
                  "padding": padding, "dilation": tuple(m.dilation), "groups": m.groups, "bias": m.bias is not None}
        if kind == "ConvTranspose2d":
            params["output_padding"] = tuple(m.output_padding)
        return kind, params, True
    if kind in ("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d"):
        nd = int(kind[-2])
        k, s, p = _ints(m.kernel_size, nd), _ints(m.stride if m.stride else m.kernel_size, nd), \
            _ints(m.padding, nd)
        if None in (k, s, p):
            return None
        if kind.startswith("Max") and (_ints(m.dilation, nd) != (1,) * nd or m.return_indices):
            return None
        if kind.startswith("Avg") and (not m.count_include_pad or getattr(m, "divisor_override", None)):
            return None
        return kind, {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": bool(m.ceil_mode)}, False
    if kind in ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"):
        size = _ints(m.output_size, int(kind[-2]))
        return (kind, {"output_size": size}, False) if size else None
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        if m.momentum is None or not m.track_running_stats:
            return None
        return kind, {"momentum": float(m.momentum), "eps": float(m.eps), "affine": bool(m.affine)}, True
    if kind == "GroupNorm":
        return "GroupNorm", {"num_groups": m.num_groups, "eps": float(m.eps), "affine": bool(m.affine)}, True
    if kind in ("InstanceNorm1d", "InstanceNorm2d"):
        if m.momentum is None:
            return None
        return kind, {"eps": float(m.eps), "momentum": float(m.momentum), "affine": bool(m.affine),
                      "track_running_stats": bool(m.track_running_stats)}, True
    if kind in ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"):
        return _upsample(m, inp)
    if kind == "PixelShuffle":
        return "PixelShuffle", {"upscale_factor": m.upscale_factor}, False
    if kind == "LayerNorm":
        if len(m.normalized_shape) != 1 or (m.elementwise_affine and m.bias is None):
            return None
        return "LayerNorm", {"eps": float(m.eps), "elementwise_affine": bool(m.elementwise_affine)}, True
    if kind == "Dropout":
        return ("Dropout", {"p": float(m.p)}, False) if m.p <= 0.99 else None
    if kind in ("ReLU", "SiLU", "Sigmoid", "Tanh", "ReLU6", "Hardswish", "Hardsigmoid", "Mish"):
        return kind, {}, False
    if kind == "Hardtanh" and m.min_val == 0 and m.max_val == 6:
        return "ReLU6", {}, False
    if kind == "ELU":
        return "ELU", {"alpha": float(m.alpha)}, False
    if kind == "PReLU":
        count = m.num_parameters
        if count != 1 and (inp.rank < 2 or count != inp.shape[1]):
            return None
        # the learned slopes come with the weights; init only matters for a fresh start
        return "PReLU", {"per_channel": count != 1, "init": min(10.0, max(-10.0, float(m.init)))}, True
    if kind == "GELU":
        return ("GELU", {}, False) if m.approximate == "none" else None
    if kind == "LeakyReLU":
        return ("LeakyReLU", {"negative_slope": float(m.negative_slope)}, False) if 0 <= m.negative_slope <= 1 else None
    if kind in ("Softmax", "LogSoftmax"):
        return (kind, {"dim": m.dim}, False) if isinstance(m.dim, int) and feature_dim(inp, m.dim) else None
    if kind == "Flatten":
        if m.start_dim == 1 and m.end_dim in (-1, inp.rank - 1):
            return "Flatten", {}, False
        if 1 <= out.rank - 1 <= 8:
            return "Reshape", {"shape": tuple(out.shape[1:])}, False
        return None
    if kind == "Unflatten":
        if 1 <= out.rank - 1 <= 8 and m.dim not in (0, -inp.rank):
            return "Reshape", {"shape": tuple(out.shape[1:])}, False
        return None
    if kind == "Embedding":
        if m.max_norm is not None or m.scale_grad_by_freq or m.sparse:
            return None
        return "Embedding", {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}, True
    return None


def _upsample(m: Any, inp: TensorType) -> tuple[str, dict[str, Any], bool] | None:
    """nn.Upsample (and its UpsamplingNearest2d / UpsamplingBilinear2d subclasses) as Upsample."""
    spatial = inp.rank - 2
    if m.mode not in ("nearest", "linear", "bilinear", "bicubic", "trilinear") or m.recompute_scale_factor:
        return None
    params: dict[str, Any] = {"mode": m.mode, "align_corners": bool(m.align_corners)}
    if m.size is not None:
        size = _ints(m.size, spatial)
        if size is None:
            return None
        params["size"] = size
    else:
        scale = m.scale_factor
        if isinstance(scale, tuple | list):
            scale = scale[0] if len(set(scale)) == 1 and len(scale) == spatial else None
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.01 <= scale <= 64:
            return None
        params["scale_factor"] = float(scale)
    return "Upsample", params, False


def module_init(m: Any) -> dict[str, Any] | None:
    """Constructor arguments that rebuild a torch.nn module, read back from its attributes
    (torch.nn modules keep most of them under the same names); None when one cannot be found."""
    import torch

    cls = type(m)
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return None
    init: dict[str, Any] = {}
    for name, p in list(signature.parameters.items())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in ("device", "dtype", "inplace"):
            continue
        if hasattr(m, name) and not isinstance(getattr(m, name), torch.Tensor | torch.nn.Module):
            value = getattr(m, name)
            value = list(value) if isinstance(value, tuple | torch.Size) else value
            if not _plain(value):
                return None
            if p.default is inspect.Parameter.empty or _differs(value, p.default):
                init[name] = value
        elif p.default is inspect.Parameter.empty:
            return None
    try:
        rebuilt = cls(**init)
    except Exception:
        return None
    own = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    if {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} != own:
        return None
    return init


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def _differs(value: Any, default: Any) -> bool:
    try:
        return bool(value != (list(default) if isinstance(default, tuple) else default))
    except Exception:
        return True
