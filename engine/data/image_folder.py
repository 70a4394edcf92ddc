"""User images sorted into one sub-folder per class, the layout most people already have on disk."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.image_stream import ImageOptions, build_image_dataset, pil_image_module
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

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
