"""Split, shuffle and normalise arrays: the last step of every loader, and the same code in exported scripts.

Portable: this module imports only the standard library, numpy, scikit-learn and other portable
modules (see engine/export_training_code.py), because the training-script exporter writes its
source into the script. The engine's data sets and the exported script therefore split and
normalise with one piece of code.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.model_selection import train_test_split

from engine.data.errors import DatasetError

logger = logging.getLogger(__name__)

NormMode = Literal["per_feature", "global"]
#: values normalised per chunk (see apply_normalization)
_NORMALIZE_CHUNK_VALUES = 1 << 18


def split_indices(
    n: int, val_fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train/val indices; stratified when labels are given and every class can appear on both sides.

    Stratifying keeps rare classes from vanishing out of the validation set, which would make
    accuracy numbers misleading on small data sets.
    """
    if n < 2:
        raise DatasetError(
            f"The data set has only {n} sample(s); at least 2 are needed to have both training and validation data."
        )
    n_val = min(max(1, math.ceil(n * val_fraction)), n - 1)
    indices = np.arange(n)
    stratify = None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        k = len(counts)
        if k > 1 and counts.min() >= 2 and n_val >= k and n - n_val >= k:
            stratify = labels
        else:
            logger.info("Splitting without stratification: some classes are too small for both splits.")
    train_idx, val_idx = train_test_split(
        indices, test_size=n_val, random_state=seed, shuffle=True, stratify=stratify
    )
    return np.asarray(train_idx), np.asarray(val_idx)


def fit_normalization(
    x_train: np.ndarray, mode: NormMode, feature_mask: np.ndarray | None = None
) -> dict[str, Any]:
    """Mean/std from the training split only, so validation scores are not flattered by leaked statistics.

    Constant features get std 1 rather than 0 to avoid dividing by zero. Features outside
    `feature_mask` (e.g. one-hot columns) are recorded with mean 0 and std 1, i.e. left unchanged.
    """
    if mode == "global":
        mean = float(np.mean(x_train, dtype=np.float64))
        std = float(np.std(x_train, dtype=np.float64))
        return {"mode": "global", "mean": mean, "std": std if std > 1e-12 else 1.0}
    mean_arr, std_arr = _column_mean_std(x_train)
    std_arr = np.where(std_arr > 1e-12, std_arr, 1.0)
    if feature_mask is not None:
        mean_arr = np.where(feature_mask, mean_arr, 0.0)
        std_arr = np.where(feature_mask, std_arr, 1.0)
    return {"mode": "per_feature", "mean": mean_arr.tolist(), "std": std_arr.tolist()}


def _column_mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and (population) std in float64, two passes over row chunks: the same
    figures as ``np.mean``/``np.std(axis=0, dtype=float64)`` without a float64 copy of the table."""
    rows = max(1, _NORMALIZE_CHUNK_VALUES // max(1, int(np.prod(x.shape[1:]))))
    total = np.zeros(x.shape[1:], dtype=np.float64)
    for start in range(0, len(x), rows):
        total += np.sum(x[start:start + rows], axis=0, dtype=np.float64)
    mean = total / len(x)
    squares = np.zeros(x.shape[1:], dtype=np.float64)
    for start in range(0, len(x), rows):
        centred = x[start:start + rows] - mean
        squares += np.einsum("i...,i...->...", centred, centred)
    return mean, np.sqrt(squares / len(x))


def apply_normalization(x: np.ndarray, stats: dict[str, Any]) -> np.ndarray:
    """Applies a recorded normalisation; public so prediction code can treat new samples identically."""
    mean = np.asarray(stats["mean"], dtype=np.float64)
    std = np.asarray(stats["std"], dtype=np.float64)
    out = np.empty(x.shape, dtype=np.float32)
    # in row chunks: the float64 temporaries stay small (a million-row table would need gigabytes
    # at once), and each value is computed exactly as the whole-array expression would
    rows = max(1, _NORMALIZE_CHUNK_VALUES // max(1, int(np.prod(x.shape[1:]))))
    for start in range(0, len(x), rows):
        out[start:start + rows] = (x[start:start + rows] - mean) / std
    return out


def target_dtype(task: str, y: np.ndarray) -> type:
    """Class and token targets must be int64 for cross-entropy; everything else is float32 for MSE."""
    if task in ("classification", "language"):
        return np.int64
    if task == "sequence" and np.issubdtype(y.dtype, np.integer):
        return np.int64
    return np.float32


@dataclass
class SplitArrays:
    """Training and validation arrays as the model gets them, and the normalisation that was applied."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    normalization: dict[str, Any]

    def arrays(self) -> list[np.ndarray]:
        return [self.x_train, self.y_train, self.x_val, self.y_val]


def split_and_normalize(
    x: np.ndarray,
    y: np.ndarray,
    task: str,
    *,
    val_fraction: float,
    seed: int,
    normalize: bool,
    input_norm: NormMode | None,
    normalize_target: bool = False,
    feature_mask: np.ndarray | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    name: str = "data",
) -> SplitArrays:
    """Split (unless `val` is given), shuffle and normalise; inputs become int64 token ids or float32.

    `input_norm` None means the inputs are token ids or already well scaled and are left alone.
    """
    if len(x) != len(y):
        raise DatasetError(f"The data set '{name}' has {len(x)} inputs but {len(y)} targets; they must match.")
    if val is None:
        labels = y if task == "classification" else None
        train_idx, val_idx = split_indices(len(x), val_fraction, seed, labels)
        x_train, y_train, x_val, y_val = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    else:
        x_val, y_val = val
        if len(x) == 0 or len(x_val) == 0:
            raise DatasetError(f"The data set '{name}' needs at least one training and one validation sample.")
        order = np.random.default_rng(seed).permutation(len(x))
        x_train, y_train = x[order], y[order]

    normalization: dict[str, Any] = {}
    if normalize and input_norm is not None:
        stats = fit_normalization(x_train, input_norm, feature_mask)
        x_train, x_val = apply_normalization(x_train, stats), apply_normalization(x_val, stats)
        normalization["input"] = stats
    if normalize and normalize_target and task == "regression":
        mode: NormMode = "per_feature" if y_train.ndim == 2 else "global"
        stats = fit_normalization(y_train, mode)
        y_train, y_val = apply_normalization(y_train, stats), apply_normalization(y_val, stats)
        normalization["target"] = stats

    x_type = np.int64 if np.issubdtype(x_train.dtype, np.integer) else np.float32
    y_type = target_dtype(task, y)
    return SplitArrays(
        np.ascontiguousarray(x_train, dtype=x_type), np.ascontiguousarray(y_train, dtype=y_type),
        np.ascontiguousarray(x_val, dtype=x_type), np.ascontiguousarray(y_val, dtype=y_type), normalization,
    )


def split_by_spec(x: np.ndarray, y: np.ndarray, task: str, dataset: Mapping[str, Any], input_norm: NormMode | None, *,
                  normalize_target: bool = False, feature_mask: np.ndarray | None = None,
                  val: tuple[np.ndarray, np.ndarray] | None = None, name: str = "data") -> list[np.ndarray]:
    """:func:`split_and_normalize` with the settings of a data-set spec (``DatasetSpec.to_dict()``,
    as exported scripts hold it): x_train, y_train, x_val, y_val."""
    return split_and_normalize(x, y, task, val_fraction=dataset["val_fraction"], seed=dataset["seed"],
                               normalize=dataset["normalize"], input_norm=input_norm,
                               normalize_target=normalize_target, feature_mask=feature_mask, val=val,
                               name=name).arrays()
