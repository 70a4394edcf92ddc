"""Small classic data sets bundled with scikit-learn: usable offline and trainable in seconds."""

from __future__ import annotations

import numpy as np
from sklearn import datasets as skd
from sklearn.utils import Bunch

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec


def load_digits(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """8×8 handwritten digits as 1-channel images (values 0..16), or flat vectors for MLPs."""
    flat = opts.get_bool("flat", False)
    bunch = skd.load_digits()
    x = bunch.data.astype(np.float32)
    if not flat:
        x = x.reshape(-1, 1, 8, 8)
    return build_dataset(
        name="digits",
        task="classification",
        x=x,
        y=bunch.target.astype(np.int64),
        spec=spec,
        input_norm="global",
        class_names=[str(i) for i in range(10)],
    )


def _tabular_classification(name: str, bunch: Bunch, spec: DatasetSpec) -> Dataset:
    return build_dataset(
        name=name,
        task="classification",
        x=bunch.data.astype(np.float32),
        y=bunch.target.astype(np.int64),
        spec=spec,
        input_norm="per_feature",
        class_names=[str(c) for c in bunch.target_names],
        feature_names=[str(f) for f in bunch.feature_names],
    )


def load_iris(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    return _tabular_classification("iris", skd.load_iris(), spec)


def load_wine(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    return _tabular_classification("wine", skd.load_wine(), spec)


def load_breast_cancer(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    return _tabular_classification("breast_cancer", skd.load_breast_cancer(), spec)


def load_diabetes(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Raw (unscaled) features, so the recorded normalisation is the only scaling and can be reproduced."""
    bunch = skd.load_diabetes(scaled=False)
    return build_dataset(
        name="diabetes",
        task="regression",
        x=bunch.data.astype(np.float32),
        y=bunch.target.astype(np.float32),
        spec=spec,
        input_norm="per_feature",
        feature_names=[str(f) for f in bunch.feature_names],
        normalize_target=True,
    )
