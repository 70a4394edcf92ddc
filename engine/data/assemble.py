"""Shared last step of every loader: split, shuffle and normalise, so all kinds behave the same way."""

from __future__ import annotations

import numpy as np

from engine.data.dataset import Dataset
from engine.data.spec import DatasetSpec
from engine.data.split import (  # noqa: F401  (re-exported: loaders and tests import them from here)
    NormMode,
    apply_normalization,
    fit_normalization,
    split_and_normalize,
    split_indices,
)


def build_dataset(
    *,
    name: str,
    task: str,
    x: np.ndarray,
    y: np.ndarray,
    spec: DatasetSpec,
    input_norm: NormMode | None,
    class_names: list[str] | None = None,
    feature_names: list[str] | None = None,
    vocab: list[str] | None = None,
    normalize_target: bool = False,
    feature_mask: np.ndarray | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> Dataset:
    """Split (unless `val` is given), shuffle and normalise according to the spec, then wrap as a Dataset.

    `input_norm` None means the inputs are token ids or already well scaled and are left alone.
    """
    arrays = split_and_normalize(
        x, y, task, val_fraction=spec.val_fraction, seed=spec.seed, normalize=spec.normalize,
        input_norm=input_norm, normalize_target=normalize_target, feature_mask=feature_mask, val=val, name=name,
    )
    x_train, y_train, x_val, y_val = arrays.arrays()
    input_dtype = "int64" if x_train.dtype == np.int64 else "float32"
    normalization = arrays.normalization
    return Dataset(
        name=name,
        task=task,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        input_dtype=input_dtype,
        num_classes=len(class_names) if task == "classification" and class_names is not None else None,
        class_names=list(class_names) if task == "classification" and class_names is not None else None,
        target_shape=tuple(int(d) for d in y_train.shape[1:]),
        feature_names=list(feature_names) if feature_names is not None else None,
        normalization=normalization or None,
        vocab=list(vocab) if vocab is not None else None,
    )

