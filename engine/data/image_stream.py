"""Image data sets of any size: decoding, resizing, normalisation statistics and the memory decision.

Image kinds (a folder of class sub-folders, a CSV/JSON list of paths) end here. A set whose decoded
pixels fit the memory budget and is small is decoded at once into uint8 arrays ("memory" mode, 4×
smaller than float32; normalisation is applied on the training device per batch). A larger one is
decoded on demand by DataLoader workers (engine/image_feed.py) and, when it fits and the run has more
than one epoch, kept after the first pass ("cache" mode); otherwise it streams every epoch ("stream").
This module does not import torch, so loading a data set for the GUI stays light.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.data.assemble import fit_normalization, split_indices
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

RESIZE_POLICIES = ("stretch", "crop", "pad")
NORMALIZATIONS = ("global", "per_channel", "imagenet", "none")
CACHE_CHOICES = ("auto", "memory", "stream")
#: image options shared by every image kind (the registry adds the kind's own)
IMAGE_OPTIONS = frozenset({"size", "grayscale", "channels", "resize", "normalization", "cache",
                           "memory_budget_mb", "workers", "max_bad_fraction", "augment"})
#: sets up to this many images that fit the budget are decoded at load time (about a second); larger ones
#: start training at once, decoded by workers
PRELOAD_LIMIT = 500
#: training images decoded to estimate the normalisation of a set not decoded at load time
STATS_SAMPLE = 256
#: how many failing paths a message or the report lists
SHOWN_PATHS = 5
#: ImageNet mean and std of R, G, B in 0..255 units (the usual preset for pretrained networks)
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True)
class ImageOptions:
    """How every image becomes a C×H×W uint8 array; plain data so DataLoader workers can receive it."""

    height: int = 28
    width: int = 28
    channels: int = 1
    resize: str = "stretch"
    normalization: str = "global"
    cache: str = "auto"
    memory_budget_mb: int = 0
    workers: int = -1
    max_bad_fraction: float = 0.01
    augment: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    @property
    def sample_bytes(self) -> int:
        return self.channels * self.height * self.width

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


def pil_image_module() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError(
            "Loading images needs the Pillow package, which is not installed: run 'pip install pillow'."
        ) from None
    return Image


def decode_image(path: str, opts: ImageOptions) -> np.ndarray:
    """One image file as a C×H×W uint8 array, resized by the chosen policy.

    stretch: to the size whatever the aspect; crop: the shorter side to the size, then the centre;
    pad: the whole image inside the size, centred on black. Raises whatever Pillow raises.
    """
    from PIL import Image

    mode = _MODES[opts.channels]
    h, w = opts.height, opts.width
    with Image.open(path) as img:
        if img.format == "JPEG":
            img.draft("RGB" if mode != "L" else "L", (w, h))   # decode at a reduced scale when it is much bigger
        if mode == "RGBA" or img.mode not in ("RGB", "L") or img.mode != mode:
            img = img.convert(mode)
        src_w, src_h = img.size
        if opts.resize == "stretch" or (src_w, src_h) == (w, h):
            out = img if (src_w, src_h) == (w, h) else img.resize((w, h), Image.Resampling.BILINEAR)
        elif opts.resize == "crop":
            scale = max(w / src_w, h / src_h)
            nw, nh = max(w, round(src_w * scale)), max(h, round(src_h * scale))
            resized = img.resize((nw, nh), Image.Resampling.BILINEAR)
            left, top = (nw - w) // 2, (nh - h) // 2
            out = resized.crop((left, top, left + w, top + h))
        else:
            scale = min(w / src_w, h / src_h)
            nw, nh = max(1, min(w, round(src_w * scale))), max(1, min(h, round(src_h * scale)))
            out = Image.new(mode, (w, h), 0)
            out.paste(img.resize((nw, nh), Image.Resampling.BILINEAR), ((w - nw) // 2, (h - nh) // 2))
        pixels = np.array(out, dtype=np.uint8)   # a writable copy (torch refuses read-only arrays)
    if pixels.ndim == 2:
        return np.ascontiguousarray(pixels[None])
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def try_decode(path: str, opts: ImageOptions) -> tuple[np.ndarray | None, str]:
    """(pixels, "") or (None, why): a bad file must never end a run by itself."""
    try:
        return decode_image(path, opts), ""
    except Exception as exc:  # Pillow raises many types for broken files; all mean "cannot be read"
        text = str(exc).strip().splitlines()
        return None, (text[0] if text else type(exc).__name__)[:200]


def default_workers(requested: int) -> int:
    """DataLoader workers: the option when set, else one per core (at most 8)."""
    if requested >= 0:
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def available_memory() -> int:
    """Bytes of memory the system can still give (MemAvailable on Linux), for the memory budget."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def memory_budget(opts: ImageOptions) -> int:
    """The option in MB, else a quarter of the available memory (the rest is the model's and the system's)."""
    if opts.memory_budget_mb:
        return opts.memory_budget_mb << 20
    return available_memory() // 4


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


class BadImages:
    """Files that could not be decoded, counted and listed the same way at load time and mid-epoch."""

    def __init__(self, total: int, max_fraction: float) -> None:
        self.total = max(1, total)
        self.max_fraction = max_fraction
        self.failures: dict[str, str] = {}

    def add(self, path: str, reason: str) -> bool:
        """Record one failure; True when it is new (so it is logged once)."""
        if path in self.failures:
            return False
        self.failures[path] = reason
        if len(self.failures) <= SHOWN_PATHS:
            logger.warning("Skipping the image %s: it could not be read (%s)", path, reason)
        return True

    @property
    def count(self) -> int:
        return len(self.failures)

    def too_many(self) -> bool:
        return self.count > self.max_fraction * self.total

    def listing(self) -> str:
        shown = [f"{p} could not be read ({why})" for p, why in list(self.failures.items())[:SHOWN_PATHS]]
        more = f"; and {self.count - SHOWN_PATHS} more" if self.count > SHOWN_PATHS else ""
        return "; ".join(shown) + more

    def error_text(self) -> str:
        return (f"{self.count} of {self.total} images could not be read, more than the "
                f"{self.max_fraction:.0%} allowed: {self.listing()}. Remove or replace them, or raise the data set "
                f"option 'max_bad_fraction'.")

    def summary(self) -> dict[str, Any]:
        return {"count": self.count, "first": list(self.failures)[:SHOWN_PATHS]}


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


def _decode_all(paths: Sequence[str], opts: ImageOptions, bad: BadImages) -> tuple[np.ndarray, np.ndarray]:
    """Decode files with a thread pool (Pillow releases the GIL while decoding); (pixels, ok mask)."""
    out = np.zeros((len(paths), *opts.shape), dtype=np.uint8)
    ok = np.ones(len(paths), dtype=bool)
    threads = default_workers(opts.workers) if opts.workers != 0 else 1
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for i, (pixels, why) in enumerate(pool.map(lambda p: try_decode(p, opts), paths)):
            if pixels is None:
                ok[i] = False
                bad.add(paths[i], why)
            else:
                out[i] = pixels
    return out, ok


def channel_stats(x: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel sums (count, sum, sum of squares) in float64, chunk by chunk, never a float copy of x."""
    c = x.shape[1]
    total = np.zeros(c)
    squares = np.zeros(c)
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].astype(np.float64)
        total += part.sum(axis=(0, 2, 3))
        squares += np.square(part).sum(axis=(0, 2, 3))
    count = len(x) * x.shape[2] * x.shape[3]
    return total / max(count, 1), squares / max(count, 1)


def _normalization(x: np.ndarray, opts: ImageOptions, enabled: bool) -> tuple[list[float], list[float],
                                                                                dict[str, Any] | None]:
    """(per-channel mean, std, the record kept in Dataset.normalization) from training pixels."""
    c = opts.channels
    mode = opts.normalization if enabled else "none"
    if mode == "none" or len(x) == 0:
        return [0.0] * c, [1.0] * c, None
    if mode == "imagenet":
        if c == 1:
            mean, std = [float(np.mean(IMAGENET_MEAN))], [float(np.mean(IMAGENET_STD))]
        else:
            mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
            if c == 4:
                mean, std = mean + [0.0], std + [255.0]    # alpha to 0..1
        return mean, std, {"mode": "per_channel", "preset": "imagenet", "mean": mean, "std": std}
    m1, m2 = channel_stats(x)
    if mode == "global":
        mean = float(m1.mean())
        std = float(np.sqrt(max(m2.mean() - mean * mean, 0.0)))
        std = std if std > 1e-6 else 1.0
        return [mean] * c, [std] * c, {"mode": "global", "mean": mean, "std": std}
    var = np.maximum(m2 - m1 * m1, 0.0)
    std_arr = np.where(np.sqrt(var) > 1e-6, np.sqrt(var), 1.0)
    mean_l, std_l = [float(v) for v in m1], [float(v) for v in std_arr]
    return mean_l, std_l, {"mode": "per_channel", "mean": mean_l, "std": std_l}


def build_image_dataset(*, name: str, paths: list[str], y: np.ndarray, task: str, spec: DatasetSpec,
                        opts: ImageOptions, class_names: list[str] | None = None) -> ImageDataset:
    """Split, decide memory/cache/stream, decode or sample for statistics, and wrap as an ImageDataset."""
    pil_image_module()
    n = len(paths)
    if n != len(y):
        raise DatasetError(f"The data set '{name}' has {n} images but {len(y)} targets; they must match.")
    labels = y if task == "classification" else None
    train_idx, val_idx = split_indices(n, spec.val_fraction, spec.seed, labels)
    bad = BadImages(n, opts.max_bad_fraction)
    decoded = n * opts.sample_bytes
    budget = memory_budget(opts)
    workers = default_workers(opts.workers)
    if opts.cache == "stream":
        mode, reason = "stream", "the data set option 'cache' is 'stream'"
    elif decoded > budget:
        mode, reason = "stream", (f"decoded they would take {format_bytes(decoded)}, over the memory budget of "
                                  f"{format_bytes(budget)}")
    elif opts.cache == "memory" or n <= PRELOAD_LIMIT:
        mode, reason = "memory", f"{format_bytes(decoded)} fits the memory budget of {format_bytes(budget)}"
    else:
        mode, reason = "cache", f"{format_bytes(decoded)} fits the memory budget of {format_bytes(budget)}"

    train_paths = [paths[i] for i in train_idx]
    val_paths = [paths[i] for i in val_idx]
    y_train, y_val = y[train_idx], y[val_idx]
    if mode == "memory":
        pixels, ok = _decode_all(paths, opts, bad)
        if bad.count:
            if bad.too_many():
                raise DatasetError(bad.error_text())
            logger.warning("Skipped %d image(s) that could not be read", bad.count)
        keep_train, keep_val = train_idx[ok[train_idx]], val_idx[ok[val_idx]]
        if len(keep_train) == 0 or len(keep_val) == 0:
            raise DatasetError(bad.error_text())
        x_train: Any = pixels[keep_train]
        x_val: Any = pixels[keep_val]
        train_paths = [paths[i] for i in keep_train]
        val_paths = [paths[i] for i in keep_val]
        y_train, y_val = y[keep_train], y[keep_val]
        stats_pixels = x_train
        del pixels
    else:
        x_train, x_val = LazyImages(train_paths, opts), LazyImages(val_paths, opts)
        rng = np.random.default_rng(spec.seed)
        sample = sorted(rng.choice(len(train_paths), size=min(STATS_SAMPLE, len(train_paths)), replace=False))
        sample_paths = [train_paths[i] for i in sample]
        stats_pixels, ok = _decode_all(sample_paths, opts, bad)
        stats_pixels = stats_pixels[ok]
        if not len(stats_pixels) or bad.count > opts.max_bad_fraction * len(sample_paths):
            raise DatasetError(bad.error_text())
        logger.info("Normalisation estimated from %d of %d training images", len(stats_pixels), len(train_paths))
    mean, std, record = _normalization(stats_pixels, opts, spec.normalize)
    normalization: dict[str, Any] = {"input": record} if record else {}

    if task == "classification" and class_names:
        missing = sorted(set(range(len(class_names))) - set(np.unique(y_val).tolist()))
        if missing:
            logger.warning("The validation split has no image of class %s: its validation scores cannot be "
                           "measured; use more images or a larger validation fraction.",
                           ", ".join(repr(class_names[i]) for i in missing))
    if task == "regression" and spec.normalize:
        mode_t = "per_feature" if y_train.ndim == 2 else "global"
        stats = fit_normalization(y_train, mode_t)
        from engine.data.assemble import apply_normalization

        y_train, y_val = apply_normalization(y_train, stats), apply_normalization(y_val, stats)
        normalization["target"] = stats

    source = ImageSource(train_paths, val_paths, opts, mode, reason, mean, std, bad, workers)
    target_dtype = np.int64 if task == "classification" else np.float32
    logger.info("%d images: %s", n, source.describe_mode())
    return ImageDataset(
        name=name, task=task, x_train=x_train, y_train=np.ascontiguousarray(y_train, dtype=target_dtype),
        x_val=x_val, y_val=np.ascontiguousarray(y_val, dtype=target_dtype), input_shape=opts.shape,
        input_dtype="float32", num_classes=len(class_names) if task == "classification" and class_names else None,
        class_names=list(class_names) if task == "classification" and class_names else None,
        target_shape=tuple(int(d) for d in y_train.shape[1:]), feature_names=None,
        normalization=normalization or None, image_source=source,
    )
