"""User images sorted into one sub-folder per class, the layout most people already have on disk."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.data.dataset import Dataset
from engine.data.image_files import IMAGE_SUFFIXES, list_image_folder  # noqa: F401  (re-exported)
from engine.data.image_stream import ImageOptions, build_image_dataset, pil_image_module
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

def load_image_folder(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Images are resized to `size` (default 28×28) and kept as raw 0..255 values until each batch.

    Grayscale is the default because it matches the MNIST-style 1×28×28 input most small models
    start from; set `grayscale` to false (or `channels` to 3 or 4) for colour input.
    """
    options = ImageOptions.read(opts)
    pil_image_module()
    root = Path(str(spec.path)).expanduser()
    paths, labels, class_names = list_image_folder(root)
    logger.info("Found %d images in %d classes in %s", len(paths), len(class_names), root)
    return build_image_dataset(name=root.name, paths=paths, y=labels, task="classification", spec=spec,
                               opts=options, class_names=class_names)
