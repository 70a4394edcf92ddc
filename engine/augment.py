"""Image augmentation: options declared once (the data panel builds its form from AUGMENT_SPECS), a kornia
pipeline applied to whole batches on the training device, and the grid of samples the panel shows.

Options live in the data set's options under "augment" (so they are saved with the project). Every
batch's random draws come from a seed made of the run's seed, the epoch and the batch number, so
the same run augments the same way; validation batches are never augmented.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from engine.data.errors import DatasetError
from engine.options import OptionSpec

log = logging.getLogger(__name__)

AUGMENT_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec("crop_scale", "float", "Random resized crop", "Smallest share of the image a random crop keeps "
               "before it is resized back (1: off; 0.5 crops up to half the area).", minimum=0.05, maximum=1.0),
    OptionSpec("hflip", "bool", "Horizontal flip", "Mirror half of the images left to right."),
    OptionSpec("vflip", "bool", "Vertical flip", "Flip half of the images upside down."),
    OptionSpec("rotation", "float", "Rotation (degrees)", "Rotate by a random angle up to this many degrees "
               "either way (0: off).", minimum=0.0, maximum=180.0),
    OptionSpec("brightness", "float", "Brightness jitter", "Change brightness by up to this share (0: off).",
               minimum=0.0, maximum=1.0),
    OptionSpec("contrast", "float", "Contrast jitter", "Change contrast by up to this share (0: off).",
               minimum=0.0, maximum=1.0),
    OptionSpec("saturation", "float", "Saturation jitter", "Colour images: change saturation by up to this "
               "share (0: off).", minimum=0.0, maximum=1.0),
    OptionSpec("hue", "float", "Hue jitter", "Colour images: shift the hue by up to this (0: off, 0.5: any).",
               minimum=0.0, maximum=0.5),
    OptionSpec("erasing", "float", "Random erasing", "Share of images in which a random rectangle is blacked "
               "out (0: off).", minimum=0.0, maximum=1.0),
    OptionSpec("noise", "float", "Gaussian noise", "Standard deviation of noise added to pixels scaled 0..1 "
               "(0: off).", minimum=0.0, maximum=1.0),
    OptionSpec("mixup", "float", "Mixup", "Classification: blend pairs of images and their labels; the blend "
               "weight is drawn from Beta(a, a) with this a (0: off; 0.2 is usual).", minimum=0.0, maximum=10.0),
    OptionSpec("cutmix", "float", "CutMix", "Classification: paste a patch of another image and mix the labels "
               "by area; Beta(a, a) as for mixup (0: off; 1.0 is usual). With mixup too, each batch uses one "
               "of the two.", minimum=0.0, maximum=10.0),
)
_SPECS = {s.name: s for s in AUGMENT_SPECS}


@dataclass(frozen=True)
class AugmentOptions:
    """The augmentations of a data set; all off by default."""

    crop_scale: float = 1.0
    hflip: bool = False
    vflip: bool = False
    rotation: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    erasing: float = 0.0
    noise: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AugmentOptions:
        """Checked options from a project file; a wrong name or value is reported by name."""
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise DatasetError(f"The augmentation settings must be a mapping of names to values, not {data!r}.")
        unknown = sorted(str(k) for k in data if k not in _SPECS)
        if unknown:
            raise DatasetError(f"There is no augmentation {', '.join(map(repr, unknown))}; the augmentations are: "
                               f"{', '.join(_SPECS)}.")
        values: dict[str, Any] = {}
        for key, value in data.items():
            spec = _SPECS[key]
            if spec.kind == "bool":
                if not isinstance(value, bool):
                    raise DatasetError(f"Augmentation '{key}' must be true or false, not {value!r}.")
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                        or not spec.minimum <= value <= spec.maximum:  # type: ignore[operator]
                    raise DatasetError(f"Augmentation '{key}' must be a number from {spec.minimum:g} to "
                                       f"{spec.maximum:g}, not {value!r}.")
                value = float(value)
            values[key] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Only what differs from "off", so project files stay short."""
        default = AugmentOptions()
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != getattr(default,
                                                                                                       f.name)}

    @property
    def pixel_ops(self) -> bool:
        """Whether any per-image augmentation (everything but mixup/cutmix) is on."""
        return (self.crop_scale < 1.0 or self.hflip or self.vflip or self.rotation > 0 or self.brightness > 0
                or self.contrast > 0 or self.saturation > 0 or self.hue > 0 or self.erasing > 0 or self.noise > 0)

    @property
    def mixing(self) -> bool:
        return self.mixup > 0 or self.cutmix > 0

    @property
    def active(self) -> bool:
        return self.pixel_ops or self.mixing


def batch_seed(seed: int, epoch: int, batch: int) -> int:
    """A seed per batch that depends only on the run's seed and the batch's place in the run."""
    return int(np.random.SeedSequence([seed, epoch, batch]).generate_state(1)[0])


class Augmenter:
    """Applies the options to float batches in 0..1 (N×C×H×W) on whatever device they are."""

    def __init__(self, options: AugmentOptions, shape: tuple[int, int, int], seed: int) -> None:
        import kornia.augmentation as K
        import torch

        self.options = options
        self.seed = seed
        c, h, w = shape
        ops: list[Any] = []
        if options.crop_scale < 1.0:
            ops.append(K.RandomResizedCrop((h, w), scale=(options.crop_scale, 1.0), p=1.0))
        if options.hflip:
            ops.append(K.RandomHorizontalFlip(p=0.5))
        if options.vflip:
            ops.append(K.RandomVerticalFlip(p=0.5))
        if options.rotation > 0:
            ops.append(K.RandomRotation(degrees=options.rotation, p=1.0))
        self.geometric = torch.nn.Sequential(*ops)
        colour = options.saturation > 0 or options.hue > 0
        self.jitter = None
        if options.brightness > 0 or options.contrast > 0 or (colour and c >= 3):
            self.jitter = K.ColorJitter(brightness=options.brightness, contrast=options.contrast,
                                        saturation=options.saturation if c >= 3 else 0.0,
                                        hue=options.hue if c >= 3 else 0.0, p=1.0)
        if colour and c < 3:
            log.warning("Saturation and hue jitter need colour images: ignored for %d-channel images", c)
        late: list[Any] = []
        if options.erasing > 0:
            late.append(K.RandomErasing(p=options.erasing))
        if options.noise > 0:
            late.append(K.RandomGaussianNoise(std=options.noise, p=1.0))
        self.late = torch.nn.Sequential(*late)

    def __call__(self, x: Any, epoch: int, batch: int, y: Any = None, num_classes: int = 0) -> tuple[Any, Any]:
        """(augmented x, targets): targets become mixed class probabilities when mixup/cutmix apply."""
        import torch

        opts = self.options
        devices = [x.device.index or 0] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(batch_seed(self.seed, epoch, batch))
            if opts.pixel_ops:
                x = self.geometric(x)
                if self.jitter is not None:
                    rgb = self.jitter(x[:, :3]) if x.shape[1] == 4 else self.jitter(x)
                    x = torch.cat([rgb, x[:, 3:]], 1) if x.shape[1] == 4 else rgb
                x = self.late(x).clamp_(0.0, 1.0)
            if opts.mixing and y is not None and num_classes > 1 and len(x) > 1:
                x, y = self._mix(x, y, num_classes)
        return x, y

    def _mix(self, x: Any, y: Any, num_classes: int) -> tuple[Any, Any]:
        import torch
        import torch.nn.functional as F

        opts = self.options
        use_cutmix = opts.cutmix > 0 and (opts.mixup == 0 or torch.rand(()) < 0.5)
        alpha = opts.cutmix if use_cutmix else opts.mixup
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        order = torch.randperm(len(x)).to(x.device)
        soft = y.float() if y.is_floating_point() else F.one_hot(y, num_classes).float()
        if use_cutmix:
            h, w = x.shape[-2:]
            cut = math.sqrt(1.0 - lam)
            ch, cw = int(h * cut), int(w * cut)
            cy, cx = int(torch.randint(h, ())), int(torch.randint(w, ()))
            top, bottom = max(cy - ch // 2, 0), min(cy + ch // 2, h)
            left, right = max(cx - cw // 2, 0), min(cx + cw // 2, w)
            x = x.clone()
            x[:, :, top:bottom, left:right] = x[order][:, :, top:bottom, left:right]
            lam = 1.0 - (bottom - top) * (right - left) / (h * w)
        else:
            x = lam * x + (1.0 - lam) * x[order]
        return x, lam * soft + (1.0 - lam) * soft[order]


def augmented_grid(spec: Any, augment: Mapping[str, Any] | AugmentOptions | None = None, *, rows: int = 3,
                   cols: int = 4, seed: int = 0, gap: int = 2) -> np.ndarray:
    """The data panel's preview: ``cols`` images of the data set (top row as loaded, each row below a new
    augmented draw) tiled into one H×W×C uint8 picture with ``gap`` black pixels between tiles.

    Only the shown images are decoded, so it stays quick for any folder size. ``augment`` defaults to
    the spec's own "augment" option; pass the panel's current values to preview them before saving.
    """
    import torch

    from engine.data.image_stream import ImageOptions, try_decode
    from engine.data.options import OptionReader

    paths = preview_paths(spec, cols)
    opts = ImageOptions.read(OptionReader(spec.kind, spec.options))
    if augment is None:
        augment = opts.augment
    options = augment if isinstance(augment, AugmentOptions) else AugmentOptions.from_dict(augment)
    images = []
    for path in paths:
        pixels, _ = try_decode(path, opts)
        images.append(pixels if pixels is not None else np.zeros(opts.shape, np.uint8))
    base = torch.from_numpy(np.stack(images)).float() / 255.0
    augmenter = Augmenter(options, opts.shape, seed) if options.active else None
    tiles = [base]
    for row in range(1, max(1, rows)):
        if augmenter is None:
            tiles.append(base)
            continue
        fake_labels = torch.arange(len(base)) % 2
        x, _ = augmenter(base, epoch=0, batch=row, y=fake_labels, num_classes=2)
        tiles.append(x)
    c, h, w = opts.shape
    n = len(paths)
    grid = np.zeros((len(tiles) * (h + gap) - gap, n * (w + gap) - gap, c), dtype=np.uint8)
    for r, batch in enumerate(tiles):
        arr = (batch.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for i in range(n):
            grid[r * (h + gap): r * (h + gap) + h, i * (w + gap): i * (w + gap) + w] = arr[i]
    return grid


def preview_paths(spec: Any, count: int) -> list[str]:
    """A few image paths of an image data set, spread over its classes, without loading it."""
    from pathlib import Path

    from engine.data.options import OptionReader

    if spec.kind == "image_folder":
        from engine.data.image_folder import list_image_folder

        paths, labels, _ = list_image_folder(Path(str(spec.path)).expanduser())
    elif spec.kind == "image_list":
        from engine.data.image_list import read_image_list

        paths, y, _, _ = read_image_list(spec, OptionReader(spec.kind, spec.options))
        labels = y if y.dtype == np.int64 else np.zeros(len(paths), np.int64)
    else:
        raise DatasetError(f"Augmentation previews need an image data set, not '{spec.kind}'.")
    order = np.lexsort((np.arange(len(paths)), labels))  # by class, then position
    first_of_each: list[int] = []
    seen: set[int] = set()
    for i in order:                                      # one per class first, then the rest in order
        if int(labels[i]) not in seen:
            seen.add(int(labels[i]))
            first_of_each.append(int(i))
    rest = [int(i) for i in order if int(i) not in set(first_of_each)]
    return [paths[i] for i in (first_of_each + rest)[:count]]
