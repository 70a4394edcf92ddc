"""Turning whatever labels a file holds into class indices 0..K-1 plus readable class names."""

from __future__ import annotations

import numpy as np


def encode_labels(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Sorted distinct labels become the classes, so the same file always gives the same class order."""
    uniques, indices = np.unique(np.asarray(values), return_inverse=True)
    return indices.astype(np.int64).reshape(-1), [label_name(u) for u in uniques.tolist()]


def label_name(value: object) -> str:
    """Whole-number floats read as "3", not "3.0", because CSV files often store integer labels as floats."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
