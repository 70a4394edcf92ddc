"""Typed layer parameters, declared once per layer and read by the inspector, loader and compiler.

A :class:`ParamSpec` both documents a parameter (label, help, range, choices) and normalises the
values people and files give it, so that every consumer sees the same clean Python value: ints are
ints, tuples are tuples, and nothing out of range ever reaches a shape rule or a torch builder.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from graph.errors import ParamError

ParamKind = Literal["int", "float", "bool", "choice", "ints", "str"]


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: ParamKind
    default: Any
    help: str = ""
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    #: for ``ints``: exact length, or ``None`` for any length >= ``min_length``
    length: int | None = None
    min_length: int = 1
    #: ints accept ``-1`` as "infer this dimension" (Reshape)
    allow_minus_one: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """Return the canonical value or raise :class:`ParamError` with a sentence a person reads."""
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ParamError(f"{self.title} must be true or false, not {value!r}")
        if kind == "int":
            return self._check_range(self._to_int(value))
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ParamError(f"{self.title} must be a number, not {value!r}")
            try:
                number = float(value)
            except (ValueError, OverflowError):
                raise ParamError(f"{self.title} must be a number, not {value!r}") from None
            if not math.isfinite(number):
                raise ParamError(f"{self.title} must be a finite number")
            return self._check_range(number)
        if kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ParamError(f"{self.title} must be one of {', '.join(self.choices)}; got {value!r}")
            return value
        if kind == "str":
            if not isinstance(value, str):
                raise ParamError(f"{self.title} must be text, not {value!r}")
            if len(value) > 200:
                raise ParamError(f"{self.title} is longer than 200 characters")
            return value
        if kind == "ints":
            return self._coerce_ints(value)
        raise ParamError(f"unknown parameter kind {kind!r}")  # pragma: no cover - declarations are fixed

    def _to_int(self, value: Any) -> int:
        if isinstance(value, bool):
            raise ParamError(f"{self.title} must be a whole number, not {value!r}")
        if isinstance(value, int):
            # what torch (and a project file) can hold; a param without a maximum must not take more
            if abs(value) > 2**63 - 1:
                raise ParamError(f"{self.title} is out of range (whole numbers up to ±(2^63 - 1))")
            return value
        if isinstance(value, float) and value.is_integer():
            return self._to_int(int(value))
        if isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                pass
            else:
                return self._to_int(number)
        raise ParamError(f"{self.title} must be a whole number, not {value!r}")

    def _check_range(self, number: Any) -> Any:
        if self.minimum is not None and number < self.minimum:
            raise ParamError(f"{self.title} must be at least {_fmt(self.minimum)}; got {_fmt(number)}")
        if self.maximum is not None and number > self.maximum:
            raise ParamError(f"{self.title} must be at most {_fmt(self.maximum)}; got {_fmt(number)}")
        return number

    def _coerce_ints(self, value: Any) -> tuple[int, ...]:
        if isinstance(value, str):
            # "1, 28, 28", "28x28", "1 28 28" (one trailing comma is fine); an empty place between
            # separators ("1, 8, x", "1,,8") is a typo, refused rather than silently dropped
            text = value.strip()
            text = text[:-1].rstrip() if text.endswith(",") else text
            parts = re.split(r"\s*[,×xX]\s*|\s+", text) if text else []
            if any(not p for p in parts):
                raise ParamError(f"{self.title} must be whole numbers separated by commas (e.g. 1, 28, 28); "
                                 f"{value.strip()!r} has a gap or a stray separator")
            value = parts
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value] * (self.length or 1)
        if not isinstance(value, list | tuple):
            raise ParamError(f"{self.title} must be a list of whole numbers, not {value!r}")
        items = tuple(self._to_int(v) for v in value)
        if self.length is not None and len(items) == 1 and self.length > 1:
            items = items * self.length
        if self.length is not None and len(items) != self.length:
            raise ParamError(f"{self.title} needs exactly {self.length} numbers; got {len(items)}")
        if len(items) < self.min_length:
            raise ParamError(f"{self.title} needs at least {self.min_length} number(s)")
        if len(items) > 8:
            raise ParamError(f"{self.title} takes at most 8 numbers")
        if self.allow_minus_one and items.count(-1) > 1:
            raise ParamError(f"{self.title} may contain -1 only once")
        for v in items:
            if self.allow_minus_one and v == -1:
                continue
            self._check_range(v)
        return items


def _fmt(number: Any) -> str:
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def to_json_value(value: Any) -> Any:
    """Params live in memory as tuples; files hold lists."""
    return list(value) if isinstance(value, tuple) else value


# Small constructors keep the layer declarations short and readable.
def Int(name: str, default: int, help: str = "", minimum: int | None = None,
        maximum: int | None = None, label: str = "") -> ParamSpec:
    return ParamSpec(name, "int", default, help, label, minimum, maximum)


def Float(name: str, default: float, help: str = "", minimum: float | None = None,
          maximum: float | None = None, label: str = "") -> ParamSpec:
    return ParamSpec(name, "float", default, help, label, minimum, maximum)


def Bool(name: str, default: bool, help: str = "", label: str = "") -> ParamSpec:
    return ParamSpec(name, "bool", default, help, label)


def Choice(name: str, default: str, choices: tuple[str, ...], help: str = "", label: str = "") -> ParamSpec:
    return ParamSpec(name, "choice", default, help, label, choices=choices)


def Ints(name: str, default: tuple[int, ...], help: str = "", length: int | None = None,
         minimum: int | None = 1, maximum: int | None = None, min_length: int = 1,
         allow_minus_one: bool = False, label: str = "") -> ParamSpec:
    return ParamSpec(name, "ints", tuple(default), help, label, minimum, maximum, length=length,
                     min_length=min_length, allow_minus_one=allow_minus_one)
