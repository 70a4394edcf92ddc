"""Generated 2-D point clouds: the quickest way to watch a decision boundary or a GAN take shape."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_moons

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

_MAX_POINTS = 1_000_000
_FEATURES = ["x1", "x2"]


def load_moons(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    n = opts.get_int("n_samples", 1000, minimum=10, maximum=_MAX_POINTS)
    noise = opts.get_float("noise", 0.1, minimum=0.0, maximum=10.0)
    x, y = make_moons(n_samples=n, noise=noise, random_state=spec.seed)
    return build_dataset(
        name="moons",
        task="classification",
        x=x.astype(np.float32),
        y=y.astype(np.int64),
        spec=spec,
        input_norm="per_feature",
        class_names=["moon 0", "moon 1"],
        feature_names=_FEATURES,
    )


def load_spirals(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Interleaved arms that a linear model cannot separate, so depth visibly matters."""
    n = opts.get_int("n_samples", 1000, minimum=10, maximum=_MAX_POINTS)
    k = opts.get_int("classes", 3, minimum=2, maximum=20)
    noise = opts.get_float("noise", 0.2, minimum=0.0, maximum=10.0)
    rng = np.random.default_rng(spec.seed)
    labels = np.arange(n) % k
    t = rng.uniform(0.0, 1.0, n)
    angle = labels * (2 * np.pi / k) + 4.0 * t + rng.normal(0.0, noise, n)
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return build_dataset(
        name="spirals",
        task="classification",
        x=x.astype(np.float32),
        y=labels.astype(np.int64),
        spec=spec,
        input_norm="per_feature",
        class_names=[f"arm {i}" for i in range(k)],
        feature_names=_FEATURES,
    )


def load_gaussian_mixture(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """A ring of Gaussian blobs; the label is the blob index, which also lets GAN demos count covered modes."""
    n = opts.get_int("n_samples", 2000, minimum=10, maximum=_MAX_POINTS)
    k = opts.get_int("modes", 8, minimum=1, maximum=64)
    radius = opts.get_float("radius", 2.0, minimum=0.0, maximum=1e6)
    std = opts.get_float("std", 0.1, minimum=0.0, maximum=1e6)
    rng = np.random.default_rng(spec.seed)
    labels = rng.integers(0, k, n)
    angle = labels * (2 * np.pi / k)
    centers = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = centers + rng.normal(0.0, std, (n, 2))
    return build_dataset(
        name="gaussian_mixture",
        task="classification",
        x=x.astype(np.float32),
        y=labels.astype(np.int64),
        spec=spec,
        input_norm="per_feature",
        class_names=[f"mode {i}" for i in range(k)],
        feature_names=_FEATURES,
    )
