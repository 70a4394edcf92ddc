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
from dataclasses import fields
from typing import Any

import numpy as np

from engine.data.augment_ops import Augmentation, Augmenter, batch_seed  # noqa: F401  (re-exported)
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


class AugmentOptions(Augmentation):
    """The augmentations of a data set, read from a project file and checked; all off by default."""

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
