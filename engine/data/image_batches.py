"""Image batches for training: files decoded by ``torch.utils.data`` DataLoader workers, unreadable files
replaced within their batch, then augmented and normalised on the training device.

Portable: only the standard library, numpy, torch, kornia, Pillow and other portable modules (see
engine/export_training_code.py). The engine's feed (engine/image_feed.py, which also keeps images in
memory or on the GPU) builds its batches from these pieces, and an exported training script
contains this very code and streams with :class:`ImageBatches`, so the script's batches are the
app's batches.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.data.augment_ops import Augmentation, Augmenter
from engine.data.errors import DatasetError
from engine.data.image_files import (
    ImagePlan,
    ImageSettings,
    list_image_folder,
    prepare_images,
    try_decode,
)


class ImageFiles(torch.utils.data.Dataset):
    """Decodes one file per item in a worker: (C×H×W uint8, index, "" or why it failed)."""

    def __init__(self, paths: list[str], options: Any) -> None:
        self.paths = paths
        self.options = options

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        pixels, why = try_decode(self.paths[i], self.options)
        if pixels is None:
            return torch.zeros(self.options.shape, dtype=torch.uint8), i, why or "unreadable"
        return torch.from_numpy(pixels), i, ""


class BatchPlan:
    """A batch sampler whose batches are set before each pass, so persistent workers serve every epoch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def image_loader(files: ImageFiles, plan: BatchPlan, workers: int, pin: bool) -> torch.utils.data.DataLoader:
    """The DataLoader over ``files`` in ``plan``'s batches: persistent workers with prefetch when any."""
    kwargs: dict[str, Any] = {"num_workers": workers, "pin_memory": pin}
    if workers > 0:
        kwargs.update(persistent_workers=True, prefetch_factor=4)
    return torch.utils.data.DataLoader(files, batch_sampler=plan, **kwargs)


def normalize_pixels(xb: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """A batch of pixels (uint8, or float in 0..255 after augmentation) as the model sees it, on the
    device of ``mean``."""
    return (xb.to(mean.device, non_blocking=True).float() - mean) / std


def channel_tensors(mean: list[float], std: list[float], device: Any = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel statistics (0..255 units) as 1×C×1×1 float32 tensors on ``device``."""
    return (torch.tensor(mean, dtype=torch.float32, device=device).reshape(1, -1, 1, 1),
            torch.tensor(std, dtype=torch.float32, device=device).reshape(1, -1, 1, 1))


def replace_unreadable(xb: torch.Tensor, bad: torch.Tensor, idx: torch.Tensor) -> torch.Tensor | None:
    """The batch with each unreadable image's row replaced by a readable image of the same batch (shapes
    and the epoch's sample order stay valid); ``idx`` (a view of the epoch's order) is updated to
    match. None when no image of the batch could be read."""
    good = (~bad).nonzero().flatten()
    if len(good) == 0:
        return None
    swap = torch.arange(len(bad))
    swap[bad] = good[torch.arange(int(bad.sum())) % len(good)]
    idx.copy_(idx.index_select(0, swap.to(idx.device)))
    return xb.index_select(0, swap.to(xb.device))


def augment_and_normalize(xb: torch.Tensor, device: torch.device, mean: torch.Tensor, std: torch.Tensor,
                          augmenter: Augmenter | None, epoch: int, batch: int, yb: torch.Tensor | None,
                          num_classes: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A training batch of uint8 pixels as the model sees it: on the device, augmented in 0..1 (the
    targets become mixed probabilities under mixup/CutMix), then normalised."""
    x = xb.to(device, non_blocking=True).float()
    if augmenter is not None:
        x, yb = augmenter(x / 255.0, epoch, batch, yb, num_classes)
        x = x * 255.0
    return normalize_pixels(x, mean, std), yb


class ImageBatches:
    """The images of a plan decoded by DataLoader workers every epoch (the exported script's feed).

    ``train_batches`` and ``val_batches`` take the same orders and give the same batches as the
    engine's feed: its pixels, replacements, augmentation draws and normalisation."""

    def __init__(self, plan: ImagePlan, settings: ImageSettings, seed: int) -> None:
        self.plan, self.settings, self.seed = plan, settings, seed
        self.paths = plan.train_paths + plan.val_paths
        self.n_train, self.n_val = len(plan.train_paths), len(plan.val_paths)
        self.y_train = torch.from_numpy(plan.y_train)
        self.y_val = torch.from_numpy(plan.y_val)
        self.bad = plan.bad
        augment = Augmentation(**settings.augment)
        self.augmenter = Augmenter(augment, settings.shape, seed) if augment.active else None
        self.mixing = augment.mixing
        self.order = BatchPlan()
        self.loader: torch.utils.data.DataLoader | None = None
        self.stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def augmenter_seed(self, seed: int) -> None:
        """Draw the augmentations from this run's seed (an exported script's --seed)."""
        self.seed = seed
        if self.augmenter is not None:
            self.augmenter.seed = seed

    def _stats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if str(device) not in self.stats:
            self.stats[str(device)] = channel_tensors(self.plan.mean, self.plan.std, device)
        return self.stats[str(device)]

    def _decoded(self, batches: list[list[int]], device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(uint8 pixels, unreadable mask) of each batch of rows of ``paths``, in order."""
        if self.loader is None:
            self.loader = image_loader(ImageFiles(self.paths, self.settings), self.order, self.plan.workers,
                                       device.type == "cuda")
        self.order.batches = batches
        for xb, index, why in self.loader:
            bad = torch.tensor([bool(w) for w in why])
            for j in bad.nonzero().flatten().tolist():
                self.bad.add(self.paths[int(index[j])], why[j])
                if self.bad.too_many():
                    raise DatasetError(self.bad.error_text())
            yield xb, bad

    def train_batches(self, perm: torch.Tensor, bs: int, steps: int, epoch: int, device: torch.device,
                      num_classes: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(inputs, targets, class labels) per training batch in ``perm``'s order; ``num_classes`` > 1
        lets mixup/CutMix mix the targets of whole-image classification."""
        perm = perm.cpu()
        chunks = [perm[b * bs: (b + 1) * bs] if b < steps - 1 else perm[b * bs:] for b in range(steps)]
        mean, std = self._stats(device)
        for b, (xb, bad) in enumerate(self._decoded([c.tolist() for c in chunks], device)):
            idx = chunks[b]
            if bad.any():
                xb = replace_unreadable(xb, bad, idx)
                if xb is None:
                    raise DatasetError(f"No image of training batch {b + 1} could be read: {self.bad.listing()}.")
            labels = self.y_train.index_select(0, idx)
            x, yb = augment_and_normalize(xb, device, mean, std, self.augmenter, epoch, b, labels,
                                          num_classes if self.mixing else 0)
            yield x, yb.to(device), labels.to(device)

    def val_batches(self, bs: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(inputs, targets, class labels) per validation batch, never augmented; unreadable images left out."""
        chunks = list(torch.arange(self.n_val).split(bs))
        mean, std = self._stats(device)
        for b, (xb, bad) in enumerate(self._decoded([(c + self.n_train).tolist() for c in chunks], device)):
            idx = chunks[b]
            if bad.any():
                keep = (~bad).nonzero().flatten()
                if len(keep) == 0:
                    continue
                xb, idx = xb.index_select(0, keep), idx.index_select(0, keep)
            labels = self.y_val.index_select(0, idx).to(device)
            yield normalize_pixels(xb.to(device), mean, std), labels, labels


def image_listing(kind: str, path: str, listing_file: str | None) -> tuple[list[str], np.ndarray, str, list[str] | None]:
    """(paths, targets, task, class names) of an image data set: a folder of class sub-folders is
    listed again (so images added since the export are used); an image list comes from the JSON
    file the exporter wrote (its paths already checked and resolved)."""
    if kind == "image_folder":
        paths, labels, class_names = list_image_folder(Path(path).expanduser())
        return paths, labels, "classification", class_names
    with open(str(listing_file), encoding="utf-8") as fh:
        listing = json.load(fh)
    task = listing["task"]
    y = np.asarray(listing["targets"], dtype=np.int64 if task == "classification" else np.float32)
    return list(listing["paths"]), y, task, listing["class_names"]


def load_image_batches(kind: str, path: str, settings: dict[str, Any], dataset: dict[str, Any], seed: int,
                       listing_file: str | None = None) -> ImageBatches:
    """An exported script's images: listed, split, measured and fed exactly as the app does."""
    options = ImageSettings(**settings)
    paths, y, task, class_names = image_listing(kind, path, listing_file)
    plan = prepare_images(name=Path(path).name, paths=paths, y=y, task=task, opts=options,
                          val_fraction=dataset["val_fraction"], seed=dataset["seed"],
                          normalize=dataset["normalize"], class_names=class_names)
    return ImageBatches(plan, options, seed)
