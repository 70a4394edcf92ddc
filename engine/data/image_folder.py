"""User images sorted into one sub-folder per class, the layout most people already have on disk."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
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


def load_image_folder(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Images are resized to `size` (default 28×28) and kept as raw 0..255 values before normalisation.

    Grayscale is the default because it matches the MNIST-style 1×28×28 input most small models
    start from; set `grayscale` to false for 3-channel colour input.
    """
    height, width = opts.get_size("size", (28, 28))
    grayscale = opts.get_bool("grayscale", True)
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError(
            "Loading an image folder needs the Pillow package, which is not installed: run 'pip install pillow'."
        ) from None

    root = Path(str(spec.path)).expanduser()
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

    mode = "L" if grayscale else "RGB"
    images: list[np.ndarray] = []
    labels: list[int] = []
    for index, (_, files) in enumerate(classes):
        for file in files:
            try:
                with Image.open(file) as img:
                    pixels = np.asarray(img.convert(mode).resize((width, height), Image.Resampling.BILINEAR))
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                raise DatasetError(
                    f"The image {file} could not be read ({exc}): remove or replace it."
                ) from None
            images.append(pixels[None] if grayscale else pixels.transpose(2, 0, 1))
            labels.append(index)
    logger.info("Read %d images in %d classes from %s", len(images), len(classes), root)
    return build_dataset(
        name=root.name,
        task="classification",
        x=np.stack(images).astype(np.float32),
        y=np.array(labels, dtype=np.int64),
        spec=spec,
        input_norm="global",
        class_names=[name for name, _ in classes],
    )
