"""Reading a traced torch.fx step: which function or method it calls, under which plain name."""

from __future__ import annotations

import operator
from typing import Any

INPLACE = {"iadd": "add", "isub": "sub", "imul": "mul", "itruediv": "truediv", "ifloordiv": "floordiv",
            "imod": "mod", "ipow": "pow", "imatmul": "matmul", "iand": "and_", "ior": "or_", "ixor": "xor"}


def describe(n: Any) -> str:
    if n.op == "call_method":
        return f".{n.target}()"
    if n.op == "call_module":
        return f"module {n.target}"
    target = n.target
    return f"{getattr(target, '__module__', '') or ''}.{getattr(target, '__name__', target)}".lstrip(".")


def is_getitem(n: Any) -> bool:
    return (n.op == "call_function" and n.target is operator.getitem) or (
        n.op == "call_method" and n.target == "__getitem__")


def function_name(n: Any) -> str | None:
    """The plain name a call_function / call_method is known by (relu, add, cat, view, ...)."""
    op = qualified(n)
    if op is None:
        return None
    name = op.split(".", 1)[1]
    return {"truediv": "div", "and_": "and", "concatenate": "cat", "concat": "cat"}.get(name, name)


def qualified(n: Any) -> str | None:
    """``torch.cat``, ``F.relu``, ``Tensor.view``, ``operator.add`` for a traced call, if it is one."""
    import torch
    import torch.nn.functional as F

    if n.op == "call_method":
        return f"Tensor.{n.target}" if isinstance(n.target, str) else None
    if n.op != "call_function":
        return None
    target = n.target
    name = getattr(target, "__name__", None)
    if not isinstance(name, str):
        return None
    if getattr(target, "__module__", None) in ("_operator", "operator") and getattr(operator, name, None) is target:
        return f"operator.{INPLACE.get(name, name)}"
    if getattr(F, name, None) is target:
        return f"F.{name}"
    if getattr(torch, name, None) is target:
        return f"torch.{name}"
    return None


def has_node(value: Any) -> bool:
    if hasattr(value, "op"):
        return True
    if isinstance(value, tuple | list):
        return any(has_node(v) for v in value)
    if isinstance(value, slice):
        return any(has_node(v) for v in (value.start, value.stop, value.step))
    return False
