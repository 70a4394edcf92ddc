"""Image augmentation applied to whole batches on the training device with kornia, seeded per batch.

Portable: only the standard library, numpy, torch and kornia (see engine/export_training_code.py),
because an exported training script contains this very code and so augments exactly as the app
does. The options, their checks and the panel's preview are in engine/augment.py.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Augmentation:
    """Which augmentations are on, and how strong; all off by default (checked by engine.augment.AugmentOptions)."""

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

    def __init__(self, options: Augmentation, shape: tuple[int, int, int], seed: int) -> None:
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
