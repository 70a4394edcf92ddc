"""Generated sine waves for recurrent models: many-to-one and many-to-many forecasting."""

from __future__ import annotations

import numpy as np

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec


def _waves(spec: DatasetSpec, opts: OptionReader) -> tuple[np.ndarray, int]:
    """Series of seq_len + 1 steps with random frequency and phase, so every window is a fresh problem.

    Periods span roughly 12 to 63 steps, so a window always shows enough of the wave to extrapolate.
    Values stay within about [-1, 1], which is why these kinds are never normalised.
    """
    n = opts.get_int("n_samples", 1000, minimum=10, maximum=200_000)
    seq_len = opts.get_int("seq_len", 32, minimum=2, maximum=2000)
    noise = opts.get_float("noise", 0.0, minimum=0.0, maximum=10.0)
    rng = np.random.default_rng(spec.seed)
    freq = rng.uniform(0.1, 0.5, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    steps = np.arange(seq_len + 1)[None, :]
    series = np.sin(freq * steps + phase) + rng.normal(0.0, noise, (n, seq_len + 1))
    return series.astype(np.float32), seq_len


def load_sine(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    series, seq_len = _waves(spec, opts)
    return build_dataset(
        name="sine",
        task="regression",
        x=series[:, :seq_len, None],
        y=series[:, seq_len],
        spec=spec,
        input_norm=None,
        feature_names=["value"],
    )


def load_sine_forecast(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    series, seq_len = _waves(spec, opts)
    return build_dataset(
        name="sine_forecast",
        task="sequence",
        x=series[:, :seq_len, None],
        y=series[:, 1:, None],
        spec=spec,
        input_norm=None,
        feature_names=["value"],
    )
