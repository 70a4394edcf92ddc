"""Image data sets of any size: decoding, resizing, normalisation statistics and the memory decision.

Image kinds (a folder of class sub-folders, a CSV/JSON list of paths) end here. A set whose decoded
pixels fit the memory budget and is small is decoded at once into uint8 arrays ("memory" mode, 4×
smaller than float32; normalisation is applied on the training device per batch). A larger one is
decoded on demand by DataLoader workers (engine/image_feed.py) and, when it fits and the run has more
than one epoch, kept after the first pass ("cache" mode); otherwise it streams every epoch ("stream").
The decoding, the split, the statistics and the decision are in engine/data/image_files.py, which
exported training scripts contain as well; this module adds reading the project's options and the
Dataset the engine trains on. It does not import torch, so loading a data set for the GUI stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.image_files import (  # noqa: F401  (re-exported: the GUI, the feed and tests use them here)
    _MODES,
    CACHE_CHOICES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    NORMALIZATIONS,
    PRELOAD_LIMIT,
    RESIZE_POLICIES,
    SHOWN_PATHS,
    STATS_SAMPLE,
    BadImages,
    ImageSettings,
    available_memory,
    channel_stats,
    decode_all,
    decode_image,
    default_workers,
    format_bytes,
    memory_budget,
    pil_image_module,
    prepare_images,
    try_decode,
)
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

#: image options shared by every image kind (the registry adds the kind's own)
IMAGE_OPTIONS = frozenset({"size", "grayscale", "channels", "resize", "normalization", "cache",
                           "memory_budget_mb", "workers", "max_bad_fraction", "augment"})

class ImageOptions(ImageSettings):
    """Image settings read from a project's options and checked (the fields are ImageSettings')."""

    @classmethod
    def read(cls, opts: OptionReader) -> ImageOptions:
        """Options of an image kind, with today's defaults (28×28 grayscale, stretched)."""
        height, width = opts.get_size("size", (28, 28))
        grayscale = opts.get_bool("grayscale", True)
        channels = opts.get_int("channels", 1 if grayscale else 3)
        if channels not in _MODES:
            raise DatasetError(f"Option 'channels' of the '{opts.kind}' data set must be 1 (grayscale), 3 (RGB) "
                               f"or 4 (RGBA), not {channels!r}.")
        augment = opts._options.get("augment", {})  # checked by engine.augment, which knows the names
        if augment is None:
            augment = {}
        if not isinstance(augment, Mapping):
            raise DatasetError(f"Option 'augment' of the '{opts.kind}' data set must be a mapping of augmentation "
                               f"names to values, not {augment!r}.")
        from engine.augment import AugmentOptions

        AugmentOptions.from_dict(augment)
        return cls(
            height=height, width=width, channels=channels,
            resize=opts.get_choice("resize", "stretch", RESIZE_POLICIES),
            normalization=opts.get_choice("normalization", "global", NORMALIZATIONS),
            cache=opts.get_choice("cache", "auto", CACHE_CHOICES),
            memory_budget_mb=opts.get_int("memory_budget_mb", 0, minimum=0),
            workers=opts.get_int("workers", -1, minimum=-1, maximum=64),
            max_bad_fraction=opts.get_float("max_bad_fraction", 0.01, minimum=0.0, maximum=1.0),
            augment=dict(augment),
        )


class LazyImages:
    """A split's images decoded when indexed, standing in for the uint8 array of a set not held in memory.

    It has the array attributes code outside training reads (len, shape, dtype, nbytes), so
    describing or checking a data set never decodes it; an unreadable file comes back as zeros.
    """

    def __init__(self, paths: Sequence[str], opts: ImageOptions) -> None:
        self.paths = list(paths)
        self.opts = opts
        self.shape = (len(self.paths), *opts.shape)
        self.dtype = np.dtype(np.uint8)
        self.ndim = 4
        self.nbytes = len(self.paths) * opts.sample_bytes

    def __len__(self) -> int:
        return len(self.paths)

    def _one(self, i: int) -> np.ndarray:
        pixels, _ = try_decode(self.paths[i], self.opts)
        return pixels if pixels is not None else np.zeros(self.opts.shape, dtype=np.uint8)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, int | np.integer):
            return self._one(int(key))
        picked = np.arange(len(self.paths))[key]
        return np.stack([self._one(int(i)) for i in picked]) if len(picked) else np.zeros((0, *self.opts.shape),
                                                                                          np.uint8)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self[:]
        return array.astype(dtype) if dtype is not None else array


@dataclass
class ImageSource:
    """What training needs to feed a split's images: paths, options, statistics and the chosen mode."""

    train_paths: list[str]
    val_paths: list[str]
    options: ImageOptions
    #: "memory" (decoded at load), "cache" (kept after the first pass) or "stream" (decoded every epoch)
    mode: str
    reason: str
    #: per-channel mean and std in 0..255 units, applied on the device to each batch
    mean: list[float]
    std: list[float]
    bad: BadImages
    workers: int

    def describe_mode(self) -> str:
        if self.mode == "memory":
            return f"images decoded into memory as uint8 ({self.reason})"
        if self.mode == "cache":
            return f"images decoded by {self.workers} worker(s), kept in memory after the first pass ({self.reason})"
        return f"images streamed from disk by {self.workers} worker(s) ({self.reason})"


@dataclass
class ImageDataset(Dataset):
    """A Dataset whose inputs are uint8 images (arrays or LazyImages); normalised per batch on the device."""

    image_source: ImageSource | None = None

    def describe(self) -> str:
        text = super().describe()
        if self.image_source is not None:
            text += "; " + self.image_source.describe_mode()
        return text

    def normalized(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 images as the model sees them (float32, normalised like training)."""
        src = self.image_source
        x = np.asarray(pixels, dtype=np.float32)
        if src is None:
            return x
        shape = (-1, 1, 1) if x.ndim == 3 else (1, -1, 1, 1)
        return ((x - np.asarray(src.mean, np.float32).reshape(shape)) /
                np.asarray(src.std, np.float32).reshape(shape)).astype(np.float32)

    def preview(self, n: int = 8) -> list[tuple[np.ndarray, Any]]:
        return [(self.normalized(x), y) for x, y in super().preview(n)]


def build_image_dataset(*, name: str, paths: list[str], y: np.ndarray, task: str, spec: DatasetSpec,
                        opts: ImageOptions, class_names: list[str] | None = None) -> ImageDataset:
    """Split, decide memory/cache/stream, decode or sample for statistics, and wrap as an ImageDataset."""
    plan = prepare_images(name=name, paths=paths, y=y, task=task, opts=opts, val_fraction=spec.val_fraction,
                          seed=spec.seed, normalize=spec.normalize, class_names=class_names)
    if plan.mode == "memory":
        x_train: Any = plan.x_train
        x_val: Any = plan.x_val
    else:
        x_train, x_val = LazyImages(plan.train_paths, opts), LazyImages(plan.val_paths, opts)
    source = ImageSource(plan.train_paths, plan.val_paths, opts, plan.mode, plan.reason, plan.mean, plan.std,
                         plan.bad, plan.workers)
    logger.info("%d images: %s", len(paths), source.describe_mode())
    return ImageDataset(
        name=name, task=task, x_train=x_train, y_train=plan.y_train, x_val=x_val, y_val=plan.y_val,
        input_shape=opts.shape, input_dtype="float32",
        num_classes=len(class_names) if task == "classification" and class_names else None,
        class_names=list(class_names) if task == "classification" and class_names else None,
        target_shape=tuple(int(d) for d in plan.y_train.shape[1:]), feature_names=None,
        normalization=plan.normalization or None, image_source=source,
    )
