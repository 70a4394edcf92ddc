"""Whether a state dict fits a network: the one comparison behind every "these weights do not fit"
message (exports, imports, runs), so they all agree on what counts as missing, extra or resized."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StateMismatch:
    """Keys the network has and the weights lack, keys only the weights have, and keys whose
    shapes differ; each in the network's (or, for ``unexpected``, the weights') order."""

    missing: list[str]
    unexpected: list[str]
    wrong_shape: list[str]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.wrong_shape)


def compare_state(own: Mapping[str, Any], weights: Mapping[str, Any]) -> StateMismatch:
    """``own``: the network's state dict; ``weights``: the tensors meant to be loaded into it."""
    return StateMismatch(
        missing=[k for k in own if k not in weights],
        unexpected=[k for k in weights if k not in own],
        wrong_shape=[k for k in own if k in weights and tuple(own[k].shape) != tuple(weights[k].shape)],
    )
