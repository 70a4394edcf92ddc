"""The static description of a tensor that flows along an edge.

Shapes keep the batch dimension as ``None`` so that a summary reads ``N×64`` like torchinfo and so
the same inferred shape is valid for every batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

Dim = int | None

FLOAT = "float32"
LONG = "int64"


@dataclass(frozen=True, slots=True)
class TensorType:
    shape: tuple[Dim, ...]
    dtype: str = FLOAT

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def features(self) -> tuple[int, ...]:
        """The per-sample shape (everything after the batch dimension)."""
        return tuple(d for d in self.shape[1:])  # type: ignore[misc]

    def with_last(self, size: int) -> TensorType:
        return TensorType(self.shape[:-1] + (size,), self.dtype)

    def __str__(self) -> str:
        return format_shape(self.shape)


def format_shape(shape: tuple[Dim, ...]) -> str:
    return "×".join("N" if d is None else str(d) for d in shape) if shape else "scalar"


def numel(dims: tuple[Dim, ...]) -> int:
    """Elements per sample, ignoring the batch dimension (``None``)."""
    total = 1
    for d in dims:
        if d is not None:
            total *= d
    return total
