"""Feeding image batches to the Trainer: from uint8 tensors in memory (or on the GPU), or decoded on demand by
``torch.utils.data`` workers, normalised (and augmented for training) on the training device per batch.

The Trainer asks for ``train_batches(perm, ...)`` and ``val_batches(bs)``; the rest of the loop is the
same for every data set. A file that cannot be decoded mid-epoch is skipped: in a training batch its
row is replaced by another image of the same batch (the shapes and the epoch's sample order stay
valid, the replacement is written into the permutation so training accuracy stays right); in
validation it is dropped. Failures are counted, logged and reported; past the allowed share the run
stops with the list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from engine.augment import Augmenter, AugmentOptions
from engine.data.image_batches import (
    BatchPlan,
    ImageFiles,
    augment_and_normalize,
    image_loader,
    normalize_pixels,
    replace_unreadable,
)
from engine.data.image_stream import ImageDataset, format_bytes, try_decode
from engine.errors import TrainingError
from engine.model_inputs import pixel_stats

log = logging.getLogger(__name__)


class _View:
    """A split's inputs as the model sees them (normalised float), for previews that slice ``trainer.x_val``."""

    def __init__(self, feed: ImageFeed, split: str) -> None:
        self.feed, self.split = feed, split

    def __len__(self) -> int:
        return self.feed.n_train if self.split == "train" else self.feed.n_val

    def __getitem__(self, key: Any) -> torch.Tensor:
        idx = torch.arange(len(self))[key].reshape(-1)
        return self.feed.normalize(self.feed.gather(self.split, idx)[0])


class ImageFeed:
    """The batches of one ImageDataset for one run (chooses where the pixels live, and says why)."""

    def __init__(self, dataset: ImageDataset, device: torch.device, options: Any, recipe: Any) -> None:
        src = dataset.image_source
        assert src is not None
        self.src, self.device, self.recipe = src, device, recipe
        self.opts = src.options
        self.paths = src.train_paths + src.val_paths
        self.n_train, self.n_val = len(src.train_paths), len(src.val_paths)
        if self.n_train == 0 or self.n_val == 0:
            raise TrainingError(f"The data set '{dataset.name}' needs training and validation samples.", "data")
        self.bad = src.bad
        self.seed = options.seed
        cuda = device.type == "cuda"
        self.mean, self.std = pixel_stats(src, device)      # the same normalisation analysis uses
        self.workers = src.workers
        self.mode, self.reason = src.mode, src.reason
        if self.mode == "cache" and options.epochs == 1:
            self.mode, self.reason = "stream", "one epoch: nothing to reuse, so nothing is kept"
        # where uint8 pixels live: the device when they fit in a quarter of its free memory
        self.x: dict[str, torch.Tensor | None] = {"train": None, "val": None}
        self.filled = {"train": False, "val": False}
        self.on_device = device.type == "cpu"
        if self.mode in ("memory", "cache"):
            size = (self.n_train + self.n_val) * self.opts.sample_bytes
            if cuda:
                try:
                    free, _ = torch.cuda.mem_get_info(device)
                    self.on_device = size <= free / 4
                except RuntimeError:
                    self.on_device = True
            if self.mode == "memory":
                for split, arr in (("train", dataset.x_train), ("val", dataset.x_val)):
                    self.x[split] = self._place(torch.from_numpy(np.ascontiguousarray(arr)))
                    self.filled[split] = True
            else:
                for split, n in (("train", self.n_train), ("val", self.n_val)):
                    self.x[split] = torch.zeros((n, *self.opts.shape), dtype=torch.uint8)
            where = "on the GPU" if cuda and self.on_device else "in memory"
            if cuda and not self.on_device:
                self.reason += f"; kept in host memory, too big for {device}"
            elif self.mode == "memory":
                self.reason += f"; kept {where}"
        #: training batches are gathered on the device only when the pixels are there from the start
        self.host_data = not (self.mode == "memory" and self.on_device)
        self.bad_rows = {"train": torch.zeros(self.n_train, dtype=torch.bool),
                         "val": torch.zeros(self.n_val, dtype=torch.bool)}
        self._mark_known_bad()
        targets_host = self.host_data
        self.y_train, self.m_train = self._targets(dataset.y_train, targets_host)
        self.y_val, self.m_val = self._targets(dataset.y_val, targets_host)
        probe = torch.empty(0)
        self.same = recipe.split_targets(probe, torch.from_numpy(dataset.y_train[:0]))[0] is probe
        self.x_train, self.x_val = _View(self, "train"), _View(self, "val")
        aug = AugmentOptions.from_dict(self.opts.augment)
        self.num_classes = 0
        if aug.mixing:
            if getattr(recipe, "name", "") == "classification" and dataset.y_train.ndim == 1 and \
                    getattr(recipe, "positions", 1) <= 1:
                self.num_classes = int(getattr(recipe, "num_classes", dataset.num_classes or 0))
            else:
                log.warning("Mixup and CutMix apply to classification of whole images only: ignored here")
        self.augmenter = Augmenter(aug, self.opts.shape, self.seed) if aug.active else None
        self.loader: Any = None
        self.plan = BatchPlan()
        self.pin = cuda
        log.info("%s", self.describe())
        src.mode, src.reason = self.mode, self.reason    # what dataset.describe() (the CLI, the panel) shows

    def describe(self) -> str:
        return self.src.describe_mode()

    def summary(self) -> dict[str, Any]:
        """For the run report: the mode, why, and the images that could not be read."""
        return {"mode": self.mode, "reason": self.reason, "workers": self.workers if self.mode != "memory" else 0,
                "decoded_size": format_bytes((self.n_train + self.n_val) * self.opts.sample_bytes),
                "unreadable": self.bad.summary()}

    # -- set-up helpers ---------------------------------------------------------------------------
    def _place(self, t: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cpu":
            return t
        if self.on_device:
            return t.to(self.device)
        try:
            return t.pin_memory()
        except RuntimeError:
            return t

    def _targets(self, y: np.ndarray, host: bool) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.from_numpy(np.ascontiguousarray(y))
        if not host:
            t = t.to(self.device)
        return self.recipe.targets(t)

    def _mark_known_bad(self) -> None:
        if not self.bad.count:
            return
        for split, paths in (("train", self.src.train_paths), ("val", self.src.val_paths)):
            for i, p in enumerate(paths):
                if p in self.bad.failures:
                    self.bad_rows[split][i] = True

    def _loader(self) -> Any:
        if self.loader is None:
            self.loader = image_loader(ImageFiles(self.paths, self.opts), self.plan, self.workers, self.pin)
        return self.loader

    # -- per batch ----------------------------------------------------------------------------------
    def normalize(self, xb: torch.Tensor) -> torch.Tensor:
        return normalize_pixels(xb, self.mean, self.std)

    def gather(self, split: str, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 pixels of rows ``idx`` of a split (decoding them here when not held), and their bad mask."""
        x = self.x[split]
        if x is not None and self.filled[split]:
            xb = x.index_select(0, idx.to(x.device))
            return xb, self.bad_rows[split].index_select(0, idx.cpu())
        offset = 0 if split == "train" else self.n_train
        rows, bad = [], []
        for i in idx.tolist():
            pixels, why = try_decode(self.paths[offset + i], self.opts)
            rows.append(torch.from_numpy(pixels) if pixels is not None else torch.zeros(self.opts.shape,
                                                                                         dtype=torch.uint8))
            bad.append(pixels is None)
        return torch.stack(rows), torch.tensor(bad)

    def _stream(self, split: str, batches: list[torch.Tensor]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Decoded batches from the workers, in order; fills the cache and records failures on the way."""
        offset = 0 if split == "train" else self.n_train
        self.plan.batches = [(b + offset).tolist() for b in batches]
        cache = self.x[split] if self.mode == "cache" else None
        for xb, index, why in self._loader():
            local = index - offset
            bad = torch.tensor([bool(w) for w in why])
            if bad.any():
                for j in bad.nonzero().flatten().tolist():
                    self._failed(split, int(local[j]), why[j])
            if cache is not None:
                cache[local] = xb if xb.device.type == "cpu" else xb.cpu()
            yield xb, bad

    def _failed(self, split: str, row: int, why: str) -> None:
        paths = self.src.train_paths if split == "train" else self.src.val_paths
        self.bad_rows[split][row] = True
        self.bad.add(paths[row], why)
        if self.bad.too_many():
            raise TrainingError(self.bad.error_text(), "data")

    def _finish_pass(self, split: str) -> None:
        if self.mode == "cache" and not self.filled[split]:
            self.filled[split] = True
            x = self.x[split]
            if x is not None and self.device.type != "cpu":
                self.x[split] = self._place(x)
            log.info("The %s images are now held %s", split,
                     "on the GPU" if self.on_device and self.device.type != "cpu" else "in memory")

    def train_batches(self, perm: torch.Tensor, bs: int, steps: int, epoch: int
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x, y) training batches on the device in ``perm``'s order, augmented; rows replaced for bad images
        are written back into ``perm``."""
        chunks = [perm[b * bs: (b + 1) * bs] if b < steps - 1 else perm[b * bs:] for b in range(steps)]
        if self.filled["train"]:
            source: Iterator[tuple[torch.Tensor, torch.Tensor]] = (self.gather("train", c) for c in chunks)
        else:
            source = self._stream("train", [c.cpu() for c in chunks])
        for b, (xb, bad) in enumerate(source):
            idx = chunks[b]
            if bad.any():
                xb = replace_unreadable(xb, bad, idx)     # idx is a view of perm: the epoch's order
                if xb is None:
                    raise TrainingError(f"No image of training batch {b + 1} could be read: "
                                        f"{self.bad.listing()}.", "data")
            yb = None if self.same else self.y_train.index_select(0, idx.to(self.y_train.device))
            x, yb = augment_and_normalize(xb, self.device, self.mean, self.std, self.augmenter, epoch, b, yb,
                                          self.num_classes)
            if self.same:
                yield x, x
            else:
                yield x, yb.to(self.device, non_blocking=True)
        if not self.filled["train"]:
            self._finish_pass("train")

    def val_batches(self, bs: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(x, y, metric targets) validation batches on the device, never augmented; unreadable images left out."""
        chunks = list(torch.arange(self.n_val).split(bs))
        if self.filled["val"]:
            source: Iterator[tuple[torch.Tensor, torch.Tensor]] = (self.gather("val", c) for c in chunks)
        else:
            source = self._stream("val", chunks)
        for b, (xb, bad) in enumerate(source):
            idx = chunks[b]
            if bad.any():
                keep = (~bad).nonzero().flatten()
                if len(keep) == 0:
                    continue
                xb, idx = xb.index_select(0, keep.to(xb.device)), idx.index_select(0, keep)
            x = self.normalize(xb)
            if self.same:
                yield x, x, x
            else:
                rows = idx.to(self.y_val.device)
                yield (x, self.y_val.index_select(0, rows).to(self.device, non_blocking=True),
                       self.m_val.index_select(0, rows).to(self.device, non_blocking=True))
        if not self.filled["val"]:
            self._finish_pass("val")
