"""What a model is fed, defined once for training and for analysis.

Image data sets keep their pixels as uint8 (engine/data/image_stream.py) and training normalises each
batch on the device (engine/image_feed.py). Anything that runs a trained model on the data outside
training (Evaluate, Trace a Sample, Saliency) must feed it exactly those values, so both take the
normalisation from here instead of each keeping its own copy: a second copy is how analysis once fed
raw 0..255 pixels to a network trained on normalised ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from engine.data.image_batches import normalize_pixels  # noqa: F401  (analysis imports it from here)


def pixel_stats(source: Any, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of an ImageSource as 1×C×1×1 float32 tensors on ``device`` (0..255 units)."""
    mean = torch.tensor(source.mean, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
    std = torch.tensor(source.std, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
    return mean, std


def _input_dtype(dataset: Any) -> Any:
    return np.int64 if dataset.input_dtype == "int64" else np.float32


def validation_inputs(dataset: Any, batch_size: int = 512) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """(row numbers in the validation split, inputs as training feeds them) batch by batch, in order, on
    the CPU.

    Image sets are normalised with the training statistics; other sets are already normalised at
    load time and come as stored. An image that cannot be decoded is left out (as training's
    validation leaves it out), so the rows may skip numbers.
    """
    x_val = dataset.x_val
    n = len(x_val)
    source = getattr(dataset, "image_source", None)
    if source is None:
        dtype = _input_dtype(dataset)
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            yield rows, torch.from_numpy(np.ascontiguousarray(x_val[start:start + batch_size], dtype=dtype))
        return
    mean, std = pixel_stats(source)
    for start in range(0, n, batch_size):
        rows, pixels = _pixels(dataset, range(start, min(n, start + batch_size)))
        if len(rows):
            yield rows, normalize_pixels(torch.from_numpy(pixels), mean, std)


def _pixels(dataset: Any, rows: range) -> tuple[np.ndarray, np.ndarray]:
    """uint8 pixels of validation rows; images held in memory as they are, others decoded here (those
    that fail are recorded with the data set's other unreadable images and left out)."""
    from engine.data.image_stream import LazyImages, try_decode

    x_val = dataset.x_val
    if not isinstance(x_val, LazyImages):
        return np.arange(rows.start, rows.stop), np.ascontiguousarray(x_val[rows.start:rows.stop])
    kept, decoded = [], []
    for i in rows:
        pixels, why = try_decode(x_val.paths[i], x_val.opts)
        if pixels is None:
            dataset.image_source.bad.add(x_val.paths[i], why)
            continue
        kept.append(i)
        decoded.append(pixels)
    if not decoded:
        return np.zeros(0, np.int64), np.zeros((0, *x_val.opts.shape), np.uint8)
    return np.asarray(kept, dtype=np.int64), np.stack(decoded)


def validation_sample(dataset: Any, index: int) -> np.ndarray:
    """Validation sample ``index`` as the model sees it (no batch dimension), for Trace and Saliency."""
    n = len(dataset.x_val)
    if not 0 <= index < n:
        raise IndexError(f"sample {index} is outside the validation split (0 to {n - 1})")
    source = getattr(dataset, "image_source", None)
    if source is None:
        return np.ascontiguousarray(dataset.x_val[index], dtype=_input_dtype(dataset))
    pixels = np.asarray(dataset.x_val[index:index + 1])   # an unreadable file comes back as zeros here
    mean, std = pixel_stats(source)
    return normalize_pixels(torch.from_numpy(np.ascontiguousarray(pixels)), mean, std)[0].numpy()
