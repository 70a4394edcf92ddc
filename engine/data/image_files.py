"""Image files as arrays: decoding and resizing, the split, the normalisation statistics, unreadable files,
the memory decision, and listing a folder of class sub-folders.

Portable: this module imports only the standard library, numpy, Pillow and other portable modules
(see engine/export_training_code.py), because an exported training script contains this very code:
the script lists, splits, decodes and normalises a user's images exactly as the app does. It does
not import torch, so loading a data set for the GUI stays light.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.errors import DatasetError
from engine.data.split import apply_normalization, fit_normalization, split_indices

logger = logging.getLogger(__name__)

RESIZE_POLICIES = ("stretch", "crop", "pad")
NORMALIZATIONS = ("global", "per_channel", "imagenet", "none")
CACHE_CHOICES = ("auto", "memory", "stream")
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
class ImageSettings:
    """How every image becomes a C×H×W uint8 array; plain data so DataLoader workers can receive it.

    The engine reads these from a project's options (engine.data.image_stream.ImageOptions, which
    checks them); an exported script gets them as data."""

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


def pil_image_module() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError(
            "Loading images needs the Pillow package, which is not installed: run 'pip install pillow'."
        ) from None
    return Image


def decode_image(path: str, opts: ImageSettings) -> np.ndarray:
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


def try_decode(path: str, opts: ImageSettings) -> tuple[np.ndarray | None, str]:
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


def memory_budget(opts: ImageSettings) -> int:
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


def decode_all(paths: Sequence[str], opts: ImageSettings, bad: BadImages) -> tuple[np.ndarray, np.ndarray]:
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


def image_normalization(x: np.ndarray, opts: ImageSettings, enabled: bool) -> tuple[list[float], list[float],
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




@dataclass
class ImagePlan:
    """A set of images split and ready to feed: paths per split, targets, where the pixels will come
    from (``mode``, and ``reason`` in words) and the per-channel statistics (0..255 units)."""

    train_paths: list[str]
    val_paths: list[str]
    y_train: np.ndarray
    y_val: np.ndarray
    #: "memory" (decoded here, in ``x_train``/``x_val``), "cache" or "stream" (decoded by workers)
    mode: str
    reason: str
    mean: list[float]
    std: list[float]
    #: what was applied, as Dataset.normalization records it ({"input": ..., "target": ...})
    normalization: dict[str, Any]
    bad: BadImages
    workers: int
    x_train: np.ndarray | None = None
    x_val: np.ndarray | None = None


def choose_mode(n: int, opts: Any) -> tuple[str, str]:
    """("memory" | "cache" | "stream", why) for ``n`` images of these settings."""
    decoded = n * opts.sample_bytes
    budget = memory_budget(opts)
    if opts.cache == "stream":
        return "stream", "the data set option 'cache' is 'stream'"
    if decoded > budget:
        return "stream", (f"decoded they would take {format_bytes(decoded)}, over the memory budget of "
                          f"{format_bytes(budget)}")
    if opts.cache == "memory" or n <= PRELOAD_LIMIT:
        return "memory", f"{format_bytes(decoded)} fits the memory budget of {format_bytes(budget)}"
    return "cache", f"{format_bytes(decoded)} fits the memory budget of {format_bytes(budget)}"


def prepare_images(*, name: str, paths: list[str], y: np.ndarray, task: str, opts: Any, val_fraction: float,
                   seed: int, normalize: bool, class_names: list[str] | None = None) -> ImagePlan:
    """Split, decide memory/cache/stream, decode (or decode a sample) for the statistics, and
    normalise regression targets: everything before the first batch, for the app and for scripts."""
    pil_image_module()
    n = len(paths)
    if n != len(y):
        raise DatasetError(f"The data set '{name}' has {n} images but {len(y)} targets; they must match.")
    labels = y if task == "classification" else None
    train_idx, val_idx = split_indices(n, val_fraction, seed, labels)
    bad = BadImages(n, opts.max_bad_fraction)
    workers = default_workers(opts.workers)
    mode, reason = choose_mode(n, opts)

    train_paths = [paths[i] for i in train_idx]
    val_paths = [paths[i] for i in val_idx]
    y_train, y_val = y[train_idx], y[val_idx]
    x_train = x_val = None
    if mode == "memory":
        pixels, ok = decode_all(paths, opts, bad)
        if bad.count:
            if bad.too_many():
                raise DatasetError(bad.error_text())
            logger.warning("Skipped %d image(s) that could not be read", bad.count)
        keep_train, keep_val = train_idx[ok[train_idx]], val_idx[ok[val_idx]]
        if len(keep_train) == 0 or len(keep_val) == 0:
            raise DatasetError(bad.error_text())
        x_train, x_val = pixels[keep_train], pixels[keep_val]
        train_paths = [paths[i] for i in keep_train]
        val_paths = [paths[i] for i in keep_val]
        y_train, y_val = y[keep_train], y[keep_val]
        stats_pixels = x_train
        del pixels
    else:
        rng = np.random.default_rng(seed)
        sample = sorted(rng.choice(len(train_paths), size=min(STATS_SAMPLE, len(train_paths)), replace=False))
        sample_paths = [train_paths[i] for i in sample]
        stats_pixels, ok = decode_all(sample_paths, opts, bad)
        stats_pixels = stats_pixels[ok]
        if not len(stats_pixels) or bad.count > opts.max_bad_fraction * len(sample_paths):
            raise DatasetError(bad.error_text())
        logger.info("Normalisation estimated from %d of %d training images", len(stats_pixels), len(train_paths))
    mean, std, record = image_normalization(stats_pixels, opts, normalize)
    normalization: dict[str, Any] = {"input": record} if record else {}

    if task == "classification" and class_names:
        missing = sorted(set(range(len(class_names))) - set(np.unique(y_val).tolist()))
        if missing:
            logger.warning("The validation split has no image of class %s: its validation scores cannot be "
                           "measured; use more images or a larger validation fraction.",
                           ", ".join(repr(class_names[i]) for i in missing))
    if task == "regression" and normalize:
        stats = fit_normalization(y_train, "per_feature" if y_train.ndim == 2 else "global")
        y_train, y_val = apply_normalization(y_train, stats), apply_normalization(y_val, stats)
        normalization["target"] = stats
    target_dtype = np.int64 if task == "classification" else np.float32
    return ImagePlan(train_paths, val_paths, np.ascontiguousarray(y_train, dtype=target_dtype),
                     np.ascontiguousarray(y_val, dtype=target_dtype), mode, reason, mean, std, normalization, bad,
                     workers, x_train, x_val)


# -- a folder of class sub-folders ------------------------------------------------------------------
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".pbm", ".tif", ".tiff", ".webp"}
)


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def list_image_folder(root: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """(image paths, class index of each, class names) of a folder of class sub-folders, checked."""
    if not root.exists():
        raise DatasetError(f"The image folder {root} does not exist: choose an existing folder.")
    if not root.is_dir():
        raise DatasetError(
            f"{root} is a file; choose the folder that holds one sub-folder of images per class."
        )
    try:
        subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        classes = [(p.name, _images_in(p)) for p in subfolders]
        loose = _images_in(root)
    except OSError as exc:
        raise DatasetError(f"The image folder {root} could not be read: {exc.strerror or exc}.") from None
    empty = [name for name, files in classes if not files]
    if empty:
        logger.warning("Ignoring sub-folders of %s without images: %s", root, ", ".join(empty))
    classes = [(name, files) for name, files in classes if files]
    if not classes:
        hint = f" It has {len(loose)} images directly inside it." if loose else ""
        raise DatasetError(
            f"The image folder {root} has no class sub-folders with images.{hint} Put the images of each class "
            f"in their own sub-folder, e.g. {root / 'cat' / 'img1.png'} and {root / 'dog' / 'img2.png'}."
        )
    if len(classes) < 2:
        raise DatasetError(
            f"The image folder {root} has only one class sub-folder ('{classes[0][0]}'): a classifier needs at "
            "least two, one per class."
        )
    if loose:
        logger.warning(
            "Ignoring %d image(s) directly inside %s: they belong to no class folder", len(loose), root
        )
    paths = [str(f) for _, files in classes for f in files]
    labels = np.array([i for i, (_, files) in enumerate(classes) for _ in files], dtype=np.int64)
    return paths, labels, [name for name, _ in classes]
