"""The in-memory data set handed to training: arrays already split and normalised, plus what the GUI shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TASKS = ("classification", "regression", "sequence", "language")


def format_shape(shape: tuple[int, ...]) -> str:
    """Shapes as people write them (1×8×8), matching how the canvas labels tensors."""
    if len(shape) == 0:
        return "scalar"
    return "×".join("?" if d is None or d < 0 else str(d) for d in shape)


@dataclass
class Dataset:
    """Training and validation arrays with the metadata needed to build, train and explain a model.

    `task` decides the loss: "classification" (y are class indices), "regression" (y are floats),
    "sequence" (a target per time step: token ids if y is int64, else floats) and "language"
    (next-token prediction, y is x shifted by one). `normalization` holds exactly what was applied,
    so predictions on new data can be transformed the same way and regression outputs undone.
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    input_shape: tuple[int, ...]
    input_dtype: str
    num_classes: int | None
    class_names: list[str] | None
    target_shape: tuple[int, ...]
    feature_names: list[str] | None
    normalization: dict[str, Any] | None
    vocab: list[str] | None = None

    def preview(self, n: int = 8) -> list[tuple[np.ndarray, Any]]:
        """The first training samples as (x, y) copies, so a preview can never alter the training data.

        Scalar targets come back as plain Python numbers for easy display; x is as the model sees it
        (normalised), since that is what training uses.
        """
        count = max(0, min(int(n), len(self.x_train)))
        samples: list[tuple[np.ndarray, Any]] = []
        for i in range(count):
            target = self.y_train[i]
            samples.append((self.x_train[i].copy(), target.item() if target.ndim == 0 else target.copy()))
        return samples

    def describe(self) -> str:
        """One line for status bars and logs."""
        parts = [
            f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} val",
            f"input {format_shape(self.input_shape)} {self.input_dtype}",
        ]
        if self.task == "classification":
            parts.append(f"{self.num_classes} classes")
        elif self.task == "regression":
            parts.append(
                "regression" if not self.target_shape else f"regression to {format_shape(self.target_shape)}"
            )
        elif self.task == "sequence":
            kind = "tokens" if self.y_train.dtype == np.int64 else "values"
            parts.append(f"sequence of {format_shape(self.target_shape)} {kind}")
        elif self.task == "language":
            parts.append(f"next token over {len(self.vocab or [])} tokens")
        return ", ".join(parts)
