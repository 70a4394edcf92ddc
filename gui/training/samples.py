"""What the samples view shows, without Qt: the latest preview of each kind a run sent
(:class:`engine.events.PreviewSamples`), the sampled texts of every epoch, and the same read back
from a run folder.

Previews arrive as plain nested lists (they cross a process boundary and are stored as JSON); here
they become small numpy arrays, and anything malformed is dropped with a log line instead of
breaking the panel: a preview is a picture of the run, never a reason for it to fail.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.events import PreviewSamples

log = logging.getLogger(__name__)

#: the kinds of preview, in the order the view lays them out
KINDS = ("reconstruction", "latent", "generated", "forecast", "text")
TITLES = {"reconstruction": "Reconstructions", "latent": "Latent space", "generated": "Generated samples",
          "forecast": "Forecast", "text": "Sampled text"}
#: sampled texts kept (newest first); older epochs drop off
MAX_TEXT_EPOCHS = 30
#: a run folder's previews file, when the run's record does not offer them itself
PREVIEWS_FILE = "previews.json"
#: recipes that send previews after every epoch (the samples tab is shown from the start of their runs)
PREVIEW_RECIPES = frozenset({"autoencoder", "gan", "language_model"})


@dataclass
class TextEntry:
    epoch: int
    prompt: str
    samples: list[str]


@dataclass
class SampleStore:
    """The newest preview per kind, plus every epoch's sampled text."""

    latest: dict[str, PreviewSamples] = field(default_factory=dict)
    texts: list[TextEntry] = field(default_factory=list)       # newest first
    #: bumped at every change (the view redraws a section only when its kind moved on)
    versions: dict[str, int] = field(default_factory=dict)

    def clear(self) -> None:
        self.latest.clear()
        self.texts.clear()
        self.versions.clear()

    def is_empty(self) -> bool:
        return not self.latest

    def add(self, event: PreviewSamples) -> bool:
        """Keep one preview; False (logged) when it is not something the view can draw."""
        if event.kind not in KINDS:
            log.info("ignoring a preview of unknown kind %r", event.kind)
            return False
        if not isinstance(event.data, Mapping):
            log.warning("ignoring a %s preview whose data is not a mapping", event.kind)
            return False
        if event.kind == "text":
            samples = event.data.get("samples")
            texts = [str(s) for s in samples] if isinstance(samples, list | tuple) else []
            if not texts:
                log.warning("ignoring a text preview without samples")
                return False
            entry = TextEntry(int(event.epoch), str(event.data.get("prompt") or ""), texts)
            # the same epoch again (the final preview after the last epoch) replaces its entry
            self.texts = [e for e in self.texts if e.epoch != entry.epoch]
            self.texts.insert(0, entry)
            self.texts.sort(key=lambda e: -e.epoch)
            del self.texts[MAX_TEXT_EPOCHS:]
        self.latest[event.kind] = event
        self.versions[event.kind] = self.versions.get(event.kind, 0) + 1
        return True

    def add_all(self, events: Iterable[PreviewSamples]) -> None:
        for event in sorted(events, key=lambda e: e.epoch):
            self.add(event)


# -- turning nested lists into arrays ---------------------------------------------------------------------
def as_array(value: Any) -> np.ndarray | None:
    """A float array of nested lists, or None when they are ragged or not numbers."""
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind == "f" else None


def image_shape(value: Any) -> tuple[int, int, int] | None:
    """``[C, H, W]`` of the contract as a tuple (``[H, W]`` counts as one channel)."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, int) and v > 0 for v in value):
        return None
    if len(value) == 2:
        return 1, int(value[0]), int(value[1])
    if len(value) == 3:
        return int(value[0]), int(value[1]), int(value[2])
    return None


def to_images(samples: Any, shape: tuple[int, int, int], lo: float | None = None,
              hi: float | None = None) -> list[np.ndarray]:
    """uint8 pictures (H×W grey or H×W×3 colour) of K samples laid out as ``shape``; values are
    scaled from [lo, hi] (default: the samples' own range) to 0..255."""
    array = as_array(samples)
    c, h, w = shape
    if array is None or not array.size or array.size % (c * h * w):
        return []
    array = np.nan_to_num(array.reshape(-1, c, h, w))
    if lo is None or hi is None:
        lo, hi = float(array.min()), float(array.max())
    span = hi - lo if hi > lo else 1.0
    scaled = np.clip((array - lo) / span, 0.0, 1.0)
    pixels = (scaled * 255).round().astype(np.uint8)
    if c == 3:
        return [np.ascontiguousarray(p.transpose(1, 2, 0)) for p in pixels]
    return [np.ascontiguousarray(p[0]) for p in pixels]    # grey, or the first of other channel counts


def value_range(*arrays: np.ndarray | None) -> tuple[float, float]:
    values = [a for a in arrays if a is not None and a.size]
    if not values:
        return 0.0, 1.0
    lo = min(float(np.nanmin(a)) for a in values)
    hi = max(float(np.nanmax(a)) for a in values)
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else (0.0, 1.0)


def points(value: Any) -> np.ndarray | None:
    """K×2 points (anything else: None)."""
    array = as_array(value)
    if array is None or array.ndim != 2 or array.shape[1] != 2:
        return None
    return array[np.isfinite(array).all(axis=1)]


def series(value: Any) -> np.ndarray | None:
    """A 1-D series of a forecast (T, or T×F: the first feature)."""
    array = as_array(value)
    if array is None or not array.size:
        return None
    if array.ndim == 0:
        return array.reshape(1)
    return array.reshape(array.shape[0], -1)[:, 0] if array.ndim > 1 else array


def forecast_curves(data: Mapping[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """x/y of the "history", "true" and "predicted" curves of a forecast preview. The history sits
    at steps 0, 1, ...; ``steps`` places the other two (right after the history, or overlapping it
    one step on for a many-to-many window). A continuation that follows the history starts at
    its last value, so it reads as going on from there."""
    history, true, predicted = series(data.get("history")), series(data.get("true")), series(data.get("predicted"))
    steps = as_array(data.get("steps"))
    steps = steps.reshape(-1) if steps is not None else None
    n_hist = len(history) if history is not None else 0
    n_future = max(len(true) if true is not None else 0, len(predicted) if predicted is not None else 0)
    x_hist = np.arange(n_hist, dtype=np.float64)
    if steps is not None and n_future and len(steps) == n_future:
        x_future = steps
    elif steps is not None and n_future and len(steps) == n_hist + n_future:
        x_hist, x_future = steps[:n_hist], steps[n_hist:]
    else:
        x_future = np.arange(n_hist, n_hist + n_future, dtype=np.float64)
    follows = n_hist > 0 and len(x_future) > 0 and x_future[0] > x_hist[-1]
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if history is not None:
        out["history"] = (x_hist, history)
    for name, values in (("true", true), ("predicted", predicted)):
        if values is None:
            continue
        x = x_future[:len(values)]
        if follows:
            x = np.concatenate([[x_hist[-1]], x])
            values = np.concatenate([[history[-1]], values])     # type: ignore[index]
        out[name] = (x, values)
    return out


# -- a run folder's previews ----------------------------------------------------------------------------
def _event(item: Any, kind: str | None = None) -> PreviewSamples | None:
    if isinstance(item, PreviewSamples):
        return item
    if not isinstance(item, Mapping):
        return None
    kind = str(item.get("kind") or kind or "")
    data = item.get("data")
    if not isinstance(data, Mapping):
        # {"kind": .., "epoch": .., "inputs": .., ...}: the keys of the data beside the bookkeeping
        data = {k: v for k, v in item.items() if k not in ("kind", "epoch", "time", "event")}
    epoch = item.get("epoch")
    time = item.get("time")
    return PreviewSamples(float(time) if isinstance(time, int | float) else 0.0,
                          int(epoch) if isinstance(epoch, int | float) else 0, kind, dict(data))


def previews_from(value: Any) -> list[PreviewSamples]:
    """Previews from what a run folder holds, in any of the plain shapes it may take: a list of
    previews (events or their dicts), or a mapping of kind to preview (or to a list of them)."""
    if isinstance(value, Mapping) and "previews" in value and len(value) <= 3:
        value = value["previews"]
    out: list[PreviewSamples] = []
    if isinstance(value, Mapping):
        for kind, item in value.items():
            items = item if isinstance(item, list) else [item]
            out += [e for e in (_event(i, str(kind)) for i in items) if e is not None]
    elif isinstance(value, list | tuple):
        out += [e for e in (_event(i) for i in value) if e is not None]
    return [e for e in out if e.kind in KINDS]


def record_previews(record: Any) -> list[PreviewSamples]:
    """The previews a run recorded (``engine.runs.RunRecord``): through the record when it offers
    them, else from its folder's previews file. Runs without previews give an empty list."""
    found: Any = getattr(record, "previews", None)
    if callable(found):
        try:
            found = found()
        except Exception as exc:       # a damaged file must not stop the run from reopening
            log.warning("cannot read the previews of %s: %s", getattr(record, "path", "?"), exc)
            found = None
    if found is None:
        path = getattr(record, "path", None)
        file = Path(path) / PREVIEWS_FILE if path is not None else None
        if file is not None and file.is_file():
            try:
                found = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("cannot read %s: %s", file, exc)
    return previews_from(found) if found is not None else []
