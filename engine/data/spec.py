"""The recipe for a data set, small enough to be saved inside a project file and replayed exactly."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.data.errors import DatasetError

logger = logging.getLogger(__name__)

_FIELDS = ("kind", "path", "options", "val_fraction", "seed", "normalize")
_MAX_SEED = 2**32 - 1  # scikit-learn and NumPy legacy generators reject larger seeds


@dataclass(frozen=True)
class DatasetSpec:
    """Which data set to load and how to split it; validated on construction so bad specs fail early."""

    kind: str
    path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.2
    seed: int = 0
    normalize: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind.strip():
            raise DatasetError(f"The data set 'kind' must be a non-empty name, not {self.kind!r}.")
        if self.path is not None and not isinstance(self.path, str):
            raise DatasetError(f"The data set 'path' must be text or empty, not {self.path!r}.")
        if not isinstance(self.options, Mapping):
            raise DatasetError(
                f"The data set 'options' must be a mapping of names to values, not {self.options!r}."
            )
        for name, value in self.options.items():
            if not isinstance(name, str):
                raise DatasetError(f"Data set option names must be text; {name!r} is not.")
            _check_json_safe(value, f"options.{name}")
        if isinstance(self.val_fraction, bool) or not isinstance(self.val_fraction, int | float):
            raise DatasetError(f"The data set 'val_fraction' must be a number, not {self.val_fraction!r}.")
        if not (0.0 < float(self.val_fraction) < 1.0):
            raise DatasetError(
                f"The data set 'val_fraction' must be between 0 and 1 (e.g. 0.2), not {self.val_fraction!r}."
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= _MAX_SEED:
            raise DatasetError(
                f"The data set 'seed' must be a whole number from 0 to {_MAX_SEED}, not {self.seed!r}."
            )
        if not isinstance(self.normalize, bool):
            raise DatasetError(f"The data set 'normalize' must be true or false, not {self.normalize!r}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only, so project files never depend on Python classes."""
        return {
            "kind": self.kind,
            "path": self.path,
            "options": _to_json(dict(self.options)),
            "val_fraction": float(self.val_fraction),
            "seed": self.seed,
            "normalize": self.normalize,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetSpec:
        """Rebuild a spec from a project file; anything malformed is reported by key, never as a TypeError."""
        if not isinstance(d, Mapping):
            raise DatasetError(
                f"A data set description must be a mapping of keys to values, not {type(d).__name__}."
            )
        if "kind" not in d:
            raise DatasetError(
                "The data set description has no 'kind' key: it must say which data set to load."
            )
        unknown = sorted(str(key) for key in d if key not in _FIELDS)
        if unknown:
            # Newer versions may add keys; older ones should still open the project.
            logger.warning("Ignoring unknown data set keys: %s", ", ".join(unknown))
        options = d.get("options", {})
        if options is None:
            options = {}
        return cls(
            kind=d["kind"],
            path=d.get("path"),
            options=copy.deepcopy(dict(options)) if isinstance(options, Mapping) else options,
            val_fraction=d.get("val_fraction", 0.2),
            seed=d.get("seed", 0),
            normalize=d.get("normalize", True),
        )


def _check_json_safe(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DatasetError(f"The data set '{where}' must be a finite number, not {value!r}.")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json_safe(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise DatasetError(f"The data set '{where}' has a non-text key {key!r}.")
            _check_json_safe(item, f"{where}.{key}")
        return
    raise DatasetError(
        f"The data set '{where}' holds {type(value).__name__} {value!r}; only text, numbers, true/false, "
        "lists and mappings can be saved in a project."
    )


def _to_json(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _to_json(item) for key, item in value.items()}
    return value
