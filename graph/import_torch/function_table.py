"""torch functions, Tensor methods and operators -> registry layers (F.relu -> ReLU, torch.cat ->
Concat, view/reshape -> Reshape, ``x[:, -1]`` -> SequencePool, ``x * 0.5`` -> Scale, ...).

Every mapping is checked before it is drawn: the layer's own shape rule must give exactly the
traced output type, or the call stays an imported op. So a mapping can only be wrong about the
values a layer computes, never leave a network whose shapes disagree; the import's final output
check covers the values.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from graph.errors import GraphError
from graph.import_torch.fx_calls import function_name, has_node, is_getitem
from graph.import_torch.module_table import feature_dim
from graph.import_torch.records import Source
from graph.layers import get_layer
from graph.tensor_type import FLOAT, TensorType

if TYPE_CHECKING:
    from graph.import_torch.converter import Converter

#: single-tensor activations whose functional and method forms take no settings (bar ``inplace``)
SIMPLE = {"relu": "ReLU", "silu": "SiLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "relu6": "ReLU6",
          "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid", "mish": "Mish", "exp": "Exp"}
#: calls that only give the same values another shape (the traced output says which)
VIEWS = ("flatten", "view", "reshape", "squeeze", "unsqueeze", "unflatten", "view_as", "reshape_as")
#: positional parameter names of the pooling functions, after the input
_MAX_POOL = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
_AVG_POOL = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
_INTERPOLATE = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias")
_UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear")


def checked(conv: Converter, n: Any, type_id: str, inputs: list[Source], params: dict[str, Any],
            out: TensorType) -> Source | None:
    """The mapped node, when the layer's shape rule gives exactly the traced output for these
    params; None (the call stays an imported op) when the params are out of range or disagree."""
    spec = get_layer(type_id)
    try:
        clean = spec.defaults() | {k: spec.param(k).coerce(v) for k, v in params.items()}
        types: list[TensorType | None] = [s.type for s in inputs]
        if not spec.is_merge:
            types += [None] * (len(spec.inputs) - len(types))
        if spec.infer(clean, types) != out:
            return None
    except (GraphError, KeyError):
        return None
    return conv.mapped(n, type_id, inputs, clean)


def _number(conv: Converter, value: Any) -> float | None:
    """A constant argument (a literal, or a traced value that is a literal) as a finite number."""
    if hasattr(value, "op"):
        value = conv.env.get(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _ints(value: Any, nd: int) -> tuple[int, ...] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * nd
    if isinstance(value, list | tuple) and len(value) == nd and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return None


def _call_args(conv: Converter, n: Any, names: tuple[str, ...], defaults: dict[str, Any]) -> dict[str, Any] | None:
    """The arguments after the input by name (positional ones named in order), as literals; None
    when one is a tensor or an unknown keyword."""
    values = dict(defaults)
    rest = list(n.args[1:])
    if len(rest) > len(names) or not set(n.kwargs) <= set(names):
        return None
    for key, value in [*zip(names, rest, strict=False), *n.kwargs.items()]:
        if has_node(value):
            # a size computed in the model (``x.size(-1)``) is already a literal; a tensor is not
            resolved = conv.env.get(value) if hasattr(value, "op") else None
            if resolved is None or isinstance(resolved, Source):
                return None
            values[key] = resolved
        else:
            values[key] = conv.literal(n, value, value)
    return values


def _arithmetic(conv: Converter, n: Any, name: str, out: TensorType) -> Source | None:
    """``x * c``, ``c * x``, ``x / c``, ``x + c``, ``x - c``, ``c - x``, ``-x``, ``x ** c`` -> Scale or Pow."""
    if n.kwargs or out.dtype != FLOAT:
        return None
    args = list(n.args)
    if name == "neg" and len(args) == 1 and conv.is_tensor_arg(args[0]):
        return checked(conv, n, "Scale", [conv.env[args[0]]], {"factor": -1.0}, out)
    if len(args) != 2:
        return None
    tensor_first = conv.is_tensor_arg(args[0])
    x, c = (args[0], args[1]) if tensor_first else (args[1], args[0])
    if not conv.is_tensor_arg(x):
        return None
    value = _number(conv, c)
    if value is None:
        return None
    src = conv.env[x]
    if name == "mul":
        return checked(conv, n, "Scale", [src], {"factor": float(value)}, out)
    if name == "div" and tensor_first and value != 0:
        return checked(conv, n, "Scale", [src], {"factor": float(value), "divide": True}, out)
    if name == "add":
        return checked(conv, n, "Scale", [src], {"offset": float(value)}, out)
    if name == "sub":
        params = {"offset": -float(value)} if tensor_first else {"factor": -1.0, "offset": float(value)}
        return checked(conv, n, "Scale", [src], params, out)
    if name == "pow" and tensor_first:
        return checked(conv, n, "Pow", [src], {"exponent": float(value)}, out)
    return None


def _concat(conv: Converter, n: Any, out: TensorType) -> Source | None:
    """torch.cat / concat / concatenate of batched tensors along a feature dimension, or the
    class-token pattern ``torch.cat([token.expand(n, -1, -1), x], dim=1)`` -> ClassToken."""
    if not isinstance(n.args[0], list | tuple) or len(n.args) > 2 or not set(n.kwargs) <= {"dim", "axis"}:
        return None
    items = list(n.args[0])
    dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", n.kwargs.get("axis", 0))
    dim = _number(conv, dim)
    if len(items) < 2 or not isinstance(dim, int) or not all(conv.is_tensor_arg(x) for x in items):
        return None
    if len(items) == 2 and dim in (1, -2):
        token = class_token(conv, n, items[0], conv.env[items[1]], out)
        if token is not None:
            return token
    srcs = [conv.env[x] for x in items]
    if not all(s.type.shape[:1] == (None,) for s in srcs) or not feature_dim(srcs[0].type, dim):
        return None
    return checked(conv, n, "Concat", srcs, {"dim": dim}, out)


def _stored(conv: Converter, fx_node: Any) -> tuple[str, Any] | None:
    """(node id, value) when a traced value is one of the model's own learned tensors, read once."""
    import torch

    src = conv.env.get(fx_node)
    if fx_node.op != "get_attr" or not isinstance(src, Source) or len(fx_node.users) != 1:
        return None
    owner_path, _, attr = fx_node.target.rpartition(".")
    owner = conv.model.get_submodule(owner_path) if owner_path else conv.model
    if not isinstance(getattr(owner, attr, None), torch.nn.Parameter):
        return None
    state = conv.states.get(src.node_id)
    return (src.node_id, state[1]["value"]) if state else None


def _drop(conv: Converter, node_id: str) -> None:
    """Take back an imported op that a layer now does (its tensor moved into that layer)."""
    name = conv.net.node(node_id).name
    conv.net.remove_node(node_id)
    conv.states.pop(node_id, None)
    conv.report_opaque[:] = [r for r in conv.report_opaque if r[0] != name]


def class_token(conv: Converter, n: Any, expanded: Any, x: Source, out: TensorType) -> Source | None:
    """``torch.cat([self.token.expand(n, -1, -1), x], dim=1)`` with a learned 1×1×D token."""
    if not (expanded.op == "call_method" and expanded.target == "expand" and len(expanded.users) == 1
            and expanded.args and hasattr(expanded.args[0], "op")):
        return None
    stored = _stored(conv, expanded.args[0])
    held = conv.env.get(expanded)
    if stored is None or not isinstance(held, Source) or held.type.shape[:1] != (None,):
        return None
    token_id, value = stored
    if tuple(value.shape) != (1, 1, x.type.shape[-1]) or x.type.rank != 3:
        return None
    found = checked(conv, n, "ClassToken", [x], {}, out)
    if found is not None:
        conv.states[found.node_id] = ("", {"token": value})
        _drop(conv, held.node_id)
        _drop(conv, token_id)
    return found


def positional_embedding(conv: Converter, n: Any, out: TensorType) -> Source | None:
    """``x + self.pos_embedding`` with a learned 1×L×D table -> PositionalEmbedding."""
    if len(n.args) != 2 or n.kwargs or not all(conv.is_tensor_arg(a) for a in n.args):
        return None
    for table, x in (n.args, n.args[::-1]):
        stored = _stored(conv, table)
        src = conv.env[x]
        if stored is None or src.type.rank != 3 or src.type.shape[:1] != (None,):
            continue
        table_id, value = stored
        if tuple(value.shape) != (1, *src.type.shape[1:]):
            continue
        found = checked(conv, n, "PositionalEmbedding", [src], {}, out)
        if found is not None:
            conv.states[found.node_id] = ("", {"weight": value})
            _drop(conv, table_id)
            return found
    return None


def _pool(conv: Converter, n: Any, name: str, first: Source, out: TensorType) -> Source | None:
    kind, nd = ("Max" if name.startswith("max") else "Avg"), int(name[-2])
    names = _MAX_POOL if kind == "Max" else _AVG_POOL
    a = _call_args(conv, n, names, {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                                    "return_indices": False, "count_include_pad": True,
                                    "divisor_override": None})
    if a is None or "kernel_size" not in a:
        return None
    kernel = _ints(a["kernel_size"], nd)
    stride = kernel if a["stride"] in (None, []) else _ints(a["stride"], nd)
    padding = _ints(a["padding"], nd)
    if None in (kernel, stride, padding) or a["return_indices"] or a["divisor_override"] is not None \
            or not a["count_include_pad"] or _ints(a["dilation"], nd) != (1,) * nd:
        return None
    return checked(conv, n, f"{kind}Pool{nd}d", [first], {
        "kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": bool(a["ceil_mode"])}, out)


def _upsample(conv: Converter, n: Any, first: Source, out: TensorType) -> Source | None:
    a = _call_args(conv, n, _INTERPOLATE, {"size": None, "scale_factor": None, "mode": "nearest",
                                           "align_corners": None, "recompute_scale_factor": None,
                                           "antialias": False})
    if a is None or a["antialias"] or a["recompute_scale_factor"] or a["mode"] not in _UPSAMPLE_MODES:
        return None
    params: dict[str, Any] = {"mode": a["mode"], "align_corners": bool(a["align_corners"])}
    spatial = first.type.rank - 2
    if a["size"] is not None:
        size = _ints(a["size"], spatial)
        if size is None:
            return None
        params["size"] = size
    else:
        scale = a["scale_factor"]
        if isinstance(scale, list | tuple):
            scale = scale[0] if len(set(scale)) == 1 and len(scale) == spatial else None
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            return None
        params["scale_factor"] = float(scale)
    return checked(conv, n, "Upsample", [first], params, out)


def _reduce(conv: Converter, n: Any, name: str, first: Source, out: TensorType) -> Source | None:
    a = _call_args(conv, n, ("dim", "keepdim"), {"dim": None, "keepdim": False, "dtype": None})
    if a is None or a.get("dtype") is not None:
        return None
    dims = [a["dim"]] if isinstance(a["dim"], int) else a["dim"]
    if not isinstance(dims, list | tuple) or not dims or not isinstance(a["keepdim"], bool):
        return None
    rank = first.type.rank
    norm = sorted(d % rank for d in dims) if all(isinstance(d, int) for d in dims) else None
    if norm is None:
        return None
    if not a["keepdim"] and rank >= 3 and name in ("mean", "amax"):
        if norm == [1] and rank == 3:
            return checked(conv, n, "SequencePool", [first], {"mode": "mean" if name == "mean" else "max"}, out)
        if name == "mean" and norm == list(range(2, rank)):
            return checked(conv, n, "GlobalAvgPool", [first], {}, out)
    if name not in ("mean", "sum"):
        return None
    return checked(conv, n, name.capitalize(), [first], {"dims": tuple(dims), "keepdim": a["keepdim"]}, out)


def _shape_op(conv: Converter, n: Any, name: str, first: Source, out: TensorType) -> Source | None:
    rest = [conv.env.get(a) if hasattr(a, "op") else a for a in n.args[1:]]
    kw = {k: conv.env.get(v) if hasattr(v, "op") else v for k, v in n.kwargs.items()}
    if name == "permute":
        dims = rest[0] if len(rest) == 1 and isinstance(rest[0], list | tuple) else kw.get("dims", rest)
        if isinstance(dims, list | tuple) and dims and all(isinstance(d, int) for d in dims):
            return checked(conv, n, "Permute", [first], {"dims": tuple(d % first.type.rank for d in dims)}, out)
        return None
    if name in ("transpose", "swapaxes", "swapdims"):
        dims = rest if len(rest) == 2 else [kw.get("dim0"), kw.get("dim1")]
        if all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
            return checked(conv, n, "Transpose", [first], {"dim0": dims[0], "dim1": dims[1]}, out)
        return None
    if name in ("squeeze", "unsqueeze") and len(rest) + len(kw) == 1:
        dim = rest[0] if rest else kw.get("dim")
        if isinstance(dim, int) and not isinstance(dim, bool):
            found = checked(conv, n, name.capitalize(), [first], {"dim": dim}, out)
            if found is not None:
                return found
    return None


def map_function(conv: Converter, n: Any) -> Source | None:
    """The registry layer a torch function or Tensor method call becomes, or None when it has
    none in this form (it then becomes an imported op)."""
    name = function_name(n)
    if name is None:
        return None
    out = conv.tensor_type(n)
    if out.shape[:1] != (None,) or not n.args:
        return None
    if name == "cat":
        return _concat(conv, n, out)
    if name in ("add", "mul", "sub", "div", "neg", "pow"):
        found = _arithmetic(conv, n, name, out)
        if found is not None:
            return found
        if name == "add":
            found = positional_embedding(conv, n, out)
            if found is not None:
                return found
    tensors = [a for a in n.args if conv.is_tensor_arg(a)]
    if not tensors:
        return None
    first = conv.env[n.args[0]] if conv.is_tensor_arg(n.args[0]) else None
    kw = dict(n.kwargs)
    rest = list(n.args[1:])

    def arg(i: int, key: str, default: Any) -> Any:
        value = rest[i] if i < len(rest) else kw.get(key, default)
        return conv.literal(n, value, value) if not hasattr(value, "op") else conv.env.get(value)

    if first is None or first.type.shape[:1] != (None,):
        return None
    if name in SIMPLE and len(n.args) == 1 and set(kw) <= {"inplace"}:
        return checked(conv, n, SIMPLE[name], [first], {}, out)
    if name == "contiguous" and len(n.args) == 1 and not kw:
        return first  # the same values: no node
    if name in ("sqrt", "rsqrt") and len(n.args) == 1 and not kw and out.dtype == FLOAT:
        return checked(conv, n, "Pow", [first], {"exponent": 0.5 if name == "sqrt" else -0.5}, out)
    if name == "hardtanh" and arg(0, "min_val", -1.0) == 0 and arg(1, "max_val", 1.0) == 6 \
            and set(kw) <= {"min_val", "max_val", "inplace"}:
        return checked(conv, n, "ReLU6", [first], {}, out)
    if name == "elu" and set(kw) <= {"alpha", "inplace"}:
        alpha = arg(0, "alpha", 1.0)
        if isinstance(alpha, float | int) and not isinstance(alpha, bool):
            return checked(conv, n, "ELU", [first], {"alpha": float(alpha)}, out)
    if name == "gelu" and len(n.args) == 1 and kw.get("approximate", "none") == "none" and set(kw) <= {"approximate"}:
        return checked(conv, n, "GELU", [first], {}, out)
    if name == "leaky_relu" and set(kw) <= {"negative_slope", "inplace"}:
        slope = arg(0, "negative_slope", 0.01)
        if isinstance(slope, float | int) and 0 <= slope <= 1:
            return checked(conv, n, "LeakyReLU", [first], {"negative_slope": float(slope)}, out)
    # fx records F.softmax(x, dim=1) with its hidden `_stacklevel` and `dtype=None`
    if name in ("softmax", "log_softmax") and set(kw) <= {"dim", "_stacklevel", "dtype"} and len(rest) <= 2 \
            and kw.get("dtype") is None:
        dim = arg(0, "dim", None)
        if isinstance(dim, int) and feature_dim(first.type, dim):
            return checked(conv, n, "Softmax" if name == "softmax" else "LogSoftmax", [first], {"dim": dim}, out)
    if name == "dropout" and set(kw) <= {"p", "training", "inplace"}:
        p = arg(0, "p", 0.5)
        if isinstance(p, float | int) and 0 <= p <= 0.99:
            return checked(conv, n, "Dropout", [first], {"p": float(p)}, out)
    if name == "randn_like" and len(n.args) == 1 and all(kw.get(k) is None for k in kw) \
            and set(kw) <= {"dtype", "layout", "device", "memory_format"} and out == first.type:
        # noise from the global generator, drawn where the model draws it: equal under one seed
        return checked(conv, n, "RandnLike", [first], {}, out)
    if name in ("add", "mul") and len(n.args) == 2 and not kw and len(tensors) == 2:
        a, b = (conv.env[x] for x in n.args)
        if b.type.shape[:1] == (None,):  # Multiply stretches sizes of 1 (gates); Add takes equal shapes
            return checked(conv, n, "Add" if name == "add" else "Multiply", [a, b], {}, out)
    if name in ("matmul", "bmm") and len(n.args) == 2 and not kw and len(tensors) == 2:
        a, b = (conv.env[x] for x in n.args)
        if b.type.shape[:1] == (None,):
            return checked(conv, n, "MatMul", [a, b], {}, out)
    if name in ("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"):
        return _pool(conv, n, name, first, out)
    if name in ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d") and len(tensors) == 1:
        nd = int(name[-2])
        size = _ints(arg(0, "output_size", None), nd)
        return checked(conv, n, f"AdaptiveAvgPool{nd}d", [first], {"output_size": size}, out) if size else None
    if name in ("interpolate", "upsample") and len(tensors) == 1:
        return _upsample(conv, n, first, out)
    if name == "pixel_shuffle" and len(n.args) == 2 and not kw:
        factor = arg(0, "upscale_factor", None)
        return checked(conv, n, "PixelShuffle", [first], {"upscale_factor": factor}, out) \
            if isinstance(factor, int) else None
    if name in ("mean", "sum", "amax") and len(tensors) == 1:
        found = _reduce(conv, n, name, first, out)
        if found is not None:
            return found
    if name in ("permute", "transpose", "swapaxes", "swapdims", "squeeze", "unsqueeze") and len(tensors) == 1:
        found = _shape_op(conv, n, name, first, out)
        if found is not None:
            return found
    if name in VIEWS:
        if name == "flatten" and len(tensors) == 1 and arg(0, "start_dim", 0) == 1 \
                and arg(1, "end_dim", -1) in (-1, first.type.rank - 1):
            return checked(conv, n, "Flatten", [first], {}, out)
        if name.endswith("_as") and (len(tensors) != 2 or conv.env[n.args[1]].type.shape[:1] != (None,)):
            return None
        if (name.endswith("_as") or len(tensors) == 1) and 0 <= out.rank - 1 <= 8 \
                and all(d >= 1 for d in out.shape[1:]) and out.dtype == first.type.dtype:
            # a per-sample scalar (x.view(-1) of N×1) is the empty shape
            return checked(conv, n, "Reshape", [first], {"shape": tuple(out.shape[1:])}, out)
    if is_getitem(n) and first.type.rank == 3 and isinstance(n.args[1], tuple) and not has_node(n.args[1]):
        index = conv.literal(n, n.args[1], n.args[1])
        full = {"$slice": [None, None, None]}
        if index and index[0] == full and len(index) in (2, 3) and index[1] in (0, -1, first.type.shape[1] - 1) \
                and (len(index) == 2 or index[2] in (full, "$...")):
            return checked(conv, n, "SequencePool", [first], {"mode": "first" if index[1] == 0 else "last"}, out)
    return None


def map_pick(conv: Converter, n: Any, base: Any, path: tuple[int, ...]) -> Source | None:
    """One piece of ``x.chunk(k, dim)`` / ``x.split(size_or_sections, dim)`` (or the torch.
    functions), read with ``[i]`` or by unpacking, -> a Chunk or Split node passing on that piece."""
    name = function_name(base)
    if name not in ("chunk", "split") or len(path) != 1 or not base.args or not conv.is_tensor_arg(base.args[0]):
        return None
    first = conv.env[base.args[0]]
    out = conv.tensor_type(n)
    if first.type.shape[:1] != (None,) or out.shape[:1] != (None,):
        return None
    names = ("chunks", "dim") if name == "chunk" else ("split_size_or_sections", "dim")
    a = _call_args(conv, base, names, {"dim": 0})
    if a is None or names[0] not in a or not isinstance(a["dim"], int):
        return None
    index = path[0]
    if name == "chunk":
        params = {"chunks": a["chunks"], "dim": a["dim"], "index": index}
    else:
        sizes = a["split_size_or_sections"]
        params = {"sizes": (sizes,) if isinstance(sizes, int) else tuple(sizes), "dim": a["dim"], "index": index}
    return checked(conv, n, "Chunk" if name == "chunk" else "Split", [first], params, out)
