"""Typed access to a spec's free-form options, so every loader reports bad values the same friendly way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.data.errors import DatasetError


class OptionReader:
    """Reads one kind's options with defaults, checking type and range and naming the option on failure."""

    def __init__(self, kind: str, options: Mapping[str, Any]) -> None:
        self.kind = kind
        self._options = dict(options)

    def _fail(self, name: str, wanted: str, value: Any) -> DatasetError:
        return DatasetError(f"Option '{name}' of the '{self.kind}' data set must be {wanted}, not {value!r}.")

    def get_int(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self._options.get(name, default)
        # JSON round trips may turn 32 into 32.0; accept whole floats but nothing fractional.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, _range_text("a whole number", minimum, maximum), value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self._fail(name, _range_text("a whole number", minimum, maximum), value)
        return value

    def get_float(
        self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
    ) -> float:
        value = self._options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(name, _range_text("a number", minimum, maximum), value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self._fail(name, _range_text("a number", minimum, maximum), value)
        return float(value)

    def get_bool(self, name: str, default: bool) -> bool:
        value = self._options.get(name, default)
        if not isinstance(value, bool):
            raise self._fail(name, "true or false", value)
        return value

    def get_choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        value = self._options.get(name, default)
        if value not in choices:
            raise self._fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
        return str(value)

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self._options.get(name, default)
        if value is not None and not isinstance(value, str):
            raise self._fail(name, "text", value)
        return value

    def get_str_list(self, name: str) -> list[str]:
        value = self._options.get(name, [])
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self._fail(name, "a list of names", value)
        return list(value)

    def get_size(self, name: str, default: tuple[int, int]) -> tuple[int, int]:
        """An image size given as one number (square) or as [height, width]."""
        value = self._options.get(name, list(default))
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value, value]
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in value)
        ):
            raise self._fail(name, "a size in pixels, like 28 or [height, width]", value)
        return int(value[0]), int(value[1])


def _range_text(what: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{what} from {minimum} to {maximum}"
    if minimum is not None:
        return f"{what} of at least {minimum}"
    if maximum is not None:
        return f"{what} of at most {maximum}"
    return what
