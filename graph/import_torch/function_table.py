"""torch functions, Tensor methods and operators -> registry layers (F.relu -> ReLU, torch.cat ->
Concat, view/reshape -> Reshape, ``x[:, -1]`` -> SequencePool, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graph.import_torch.fx_calls import function_name, has_node
from graph.import_torch.module_table import feature_dim
from graph.import_torch.records import Source

if TYPE_CHECKING:
    from graph.import_torch.converter import Converter


def map_function(conv: Converter, n: Any) -> Source | None:
    """The registry layer a torch function or Tensor method call becomes, or None when it has
    none in this form (it then becomes an imported op)."""
    name = function_name(n)
    if name is None:
        return None
    tensors = [a for a in n.args if conv.is_tensor_arg(a)]
    out = conv.tensor_type(n)
    if out.shape[:1] != (None,) or not tensors:
        return None
    first = conv.env[n.args[0]] if conv.is_tensor_arg(n.args[0]) else None
    kw = dict(n.kwargs)
    rest = list(n.args[1:])

    def arg(i: int, key: str, default: Any) -> Any:
        value = rest[i] if i < len(rest) else kw.get(key, default)
        return conv.literal(n, value, value) if not hasattr(value, "op") else conv.env.get(value)

    if first is None or first.type.shape[:1] != (None,):
        return None
    simple = {"relu": "ReLU", "silu": "SiLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}
    if name in simple and len(n.args) == 1 and set(kw) <= {"inplace"}:
        return conv.mapped(n, simple[name], [first], {})
    if name == "gelu" and len(n.args) == 1 and kw.get("approximate", "none") == "none" and set(kw) <= {"approximate"}:
        return conv.mapped(n, "GELU", [first], {})
    if name == "leaky_relu" and set(kw) <= {"negative_slope", "inplace"}:
        slope = arg(0, "negative_slope", 0.01)
        if isinstance(slope, float | int) and 0 <= slope <= 1:
            return conv.mapped(n, "LeakyReLU", [first], {"negative_slope": float(slope)})
    if name in ("softmax", "log_softmax") and set(kw) <= {"dim"} and len(rest) <= 1:
        dim = arg(0, "dim", None)
        if isinstance(dim, int) and feature_dim(first.type, dim):
            return conv.mapped(n, "Softmax" if name == "softmax" else "LogSoftmax", [first], {"dim": dim})
    if name == "dropout" and set(kw) <= {"p", "training", "inplace"}:
        p = arg(0, "p", 0.5)
        if isinstance(p, float | int) and 0 <= p <= 0.99:
            return conv.mapped(n, "Dropout", [first], {"p": float(p)})
    if name in ("add", "mul") and len(n.args) == 2 and not kw and len(tensors) == 2:
        a, b = (conv.env[x] for x in n.args)
        if a.type == b.type == out:
            return conv.mapped(n, "Add" if name == "add" else "Multiply", [a, b], {})
    if name in ("cat", "concat", "concatenate") and isinstance(n.args[0], list | tuple):
        items = list(n.args[0])
        dim = arg(0, "dim", 0)
        if (len(items) >= 2 and all(conv.is_tensor_arg(x) for x in items) and isinstance(dim, int)
                and set(kw) <= {"dim"}):
            srcs = [conv.env[x] for x in items]
            if all(s.type.shape[:1] == (None,) for s in srcs) and feature_dim(srcs[0].type, dim):
                return conv.mapped(n, "Concat", srcs, {"dim": dim})
    if name in ("flatten", "view", "reshape") and len(tensors) == 1:
        if name == "flatten" and arg(0, "start_dim", 0) == 1 and arg(1, "end_dim", -1) in (-1, first.type.rank - 1):
            return conv.mapped(n, "Flatten", [first], {})
        if 1 <= out.rank - 1 <= 8 and all(d >= 1 for d in out.shape[1:]) and out.dtype == first.type.dtype:
            return conv.mapped(n, "Reshape", [first], {"shape": tuple(out.shape[1:])})
    if name in ("mean", "amax") and len(tensors) == 1 and first.type.rank >= 3:
        dims = arg(0, "dim", None)
        dims = [dims] if isinstance(dims, int) else dims
        if isinstance(dims, list) and not arg(1, "keepdim", False) and set(kw) <= {"dim", "keepdim"}:
            rank = first.type.rank
            norm = sorted(d % rank for d in dims)
            if norm == [1] and rank == 3:
                return conv.mapped(n, "SequencePool", [first], {"mode": "mean" if name == "mean" else "max"})
            if name == "mean" and norm == list(range(2, rank)):
                return conv.mapped(n, "GlobalAvgPool", [first], {})
    if name == "getitem" and first.type.rank == 3 and isinstance(n.args[1], tuple) and not has_node(n.args[1]):
        index = conv.literal(n, n.args[1], n.args[1])
        full = {"$slice": [None, None, None]}
        if index and index[0] == full and len(index) in (2, 3) and index[1] in (0, -1, first.type.shape[1] - 1) \
                and (len(index) == 2 or index[2] in (full, "$...")):
            return conv.mapped(n, "SequencePool", [first], {"mode": "first" if index[1] == 0 else "last"})
    return None
