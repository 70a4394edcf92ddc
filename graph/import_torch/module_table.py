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


def encoder_params(layer: Any) -> dict[str, Any] | None:
    """A Transformer layer's settings in TransformerEncoder/Decoder params, or None when DeepCanvas
    builds its layers differently."""
    import torch.nn.functional as F
    from torch import nn

    attn = layer.self_attn
    act = layer.activation
    code = 1 if act is F.relu or isinstance(act, nn.ReLU) else \
        2 if act is F.gelu or (isinstance(act, nn.GELU) and act.approximate == "none") else 0
    norms = [m for name, m in layer.named_children() if name.startswith("norm")]
    if (not attn.batch_first or code not in (1, 2) or layer.linear1.bias is None or attn.in_proj_bias is None
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
    exactly, else None."""
    kind = type(m).__name__
    if inp.shape[:1] != (None,) or out.shape[:1] != (None,):
        return None
    if kind == "Linear":
        return "Dense", {"units": m.out_features, "bias": m.bias is not None}, True
    if kind in ("Conv1d", "Conv2d", "ConvTranspose2d"):
        nd = 1 if kind == "Conv1d" else 2
        padding = _ints(m.padding, nd)
        if padding is None or m.padding_mode != "zeros":
            return None
        params = {"filters": m.out_channels, "kernel_size": tuple(m.kernel_size), "stride": tuple(m.stride),
                  "padding": padding, "dilation": tuple(m.dilation), "groups": m.groups, "bias": m.bias is not None}
        if kind == "ConvTranspose2d":
            params["output_padding"] = tuple(m.output_padding)
        return kind, params, True
    if kind in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        nd = int(kind[-2])
        k, s, p = _ints(m.kernel_size, nd), _ints(m.stride if m.stride is not None else m.kernel_size, nd), \
            _ints(m.padding, nd)
        if None in (k, s, p) or m.ceil_mode:
            return None
        if kind.startswith("Max") and (_ints(m.dilation, nd) != (1,) * nd or m.return_indices):
            return None
        if kind.startswith("Avg") and (not m.count_include_pad or getattr(m, "divisor_override", None)):
            return None
        return kind, {"kernel_size": k, "stride": s, "padding": p}, False
    if kind in ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d"):
        size = _ints(m.output_size, int(kind[-2]))
        return (kind, {"output_size": size}, False) if size else None
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        if m.momentum is None or not m.track_running_stats:
            return None
        return kind, {"momentum": float(m.momentum), "eps": float(m.eps), "affine": bool(m.affine)}, True
    if kind == "LayerNorm":
        if len(m.normalized_shape) != 1 or (m.elementwise_affine and m.bias is None):
            return None
        return "LayerNorm", {"eps": float(m.eps), "elementwise_affine": bool(m.elementwise_affine)}, True
    if kind == "Dropout":
        return ("Dropout", {"p": float(m.p)}, False) if m.p <= 0.99 else None
    if kind in ("ReLU", "SiLU", "Sigmoid", "Tanh"):
        return kind, {}, False
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
    if kind == "Embedding":
        if m.max_norm is not None or m.scale_grad_by_freq or m.sparse:
            return None
        return "Embedding", {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}, True
    return None


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
