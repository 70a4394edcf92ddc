"""MNIST-format IDX files (e.g. MNIST, Fashion-MNIST, KMNIST), parsed directly so no downloader is needed.

IDX layout: two zero bytes, a type code, the number of dimensions, then each dimension as a
big-endian uint32, then the data in big-endian order.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from pathlib import Path

import numpy as np

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.labels import encode_labels
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped if its name ends in .gz) as an array with the dimensions from its header."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"The file {path} is a damaged or truncated gzip archive ({exc}): download it again."
        ) from None
    except OSError as exc:
        raise DatasetError(f"The file {path} could not be read: {exc.strerror or exc}.") from None
    if len(raw) < 4:
        raise DatasetError(
            f"The IDX file {path} is truncated: it has only {len(raw)} bytes, not even a header."
        )
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DatasetError(
            f"The file {path} is not an IDX file: bad magic number 0x{raw[:4].hex()} (expected 0x0000 followed by "
            "a type code such as 0x08 and the number of dimensions)."
        )
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header_len = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header_len:
        raise DatasetError(
            f"The IDX file {path} is truncated or damaged: its header of {ndim} dimensions is incomplete."
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_len
    if found < expected:
        shape = "×".join(str(d) for d in dims)
        raise DatasetError(
            f"The IDX file {path} is truncated: its header promises {shape} values ({expected} bytes) but only "
            f"{found} bytes follow. Download it again."
        )
    if found > expected:
        logger.warning("Ignoring %d extra byte(s) at the end of %s", found - expected, path)
    return np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header_len).reshape(dims)


def _find(folder: Path, prefix: str, kind: str) -> Path | None:
    """Both the official names (train-images-idx3-ubyte) and the common dotted variant, optionally gzipped."""
    for stem in (f"{prefix}-{kind}", f"{prefix}-{kind.replace('-idx', '.idx')}"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _read_pair(folder: Path, prefix: str) -> tuple[np.ndarray, np.ndarray] | None:
    images_path = _find(folder, prefix, "images-idx3-ubyte")
    labels_path = _find(folder, prefix, "labels-idx1-ubyte")
    if images_path is None and labels_path is None:
        return None
    if images_path is None or labels_path is None:
        present, missing = (labels_path, "images") if images_path is None else (images_path, "labels")
        raise DatasetError(
            f"{folder} has {present.name} but no matching {prefix}-{missing}-idx file: put both files in the folder."
        )
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim < 2:
        raise DatasetError(f"{images_path} holds {images.ndim}-D data, not images: is it a labels file?")
    if labels.ndim != 1:
        raise DatasetError(
            f"{labels_path} holds {labels.ndim}-D data, not one label per image: is it an images file?"
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path.name} has {len(images)} images but {labels_path.name} has {len(labels)} labels: the two "
            "files do not belong together."
        )
    if images.ndim == 3:
        images = images[:, None]  # add the channel axis convolution layers expect
    return images.astype(np.float32), labels


def load_idx(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Uses the t10k-* files as the validation set when present (the standard split), else splits train-*."""
    folder = Path(str(spec.path)).expanduser()
    if not folder.exists():
        raise DatasetError(f"The folder {folder} does not exist: choose the folder holding the IDX files.")
    if not folder.is_dir():
        raise DatasetError(
            f"{folder} is a file; choose the folder that holds train-images-idx3-ubyte and train-labels-idx1-ubyte."
        )
    train = _read_pair(folder, "train")
    if train is None:
        raise DatasetError(
            f"{folder} has no train-images-idx3-ubyte / train-labels-idx1-ubyte files (optionally .gz): choose the "
            "folder where the MNIST-format files were unpacked."
        )
    test = _read_pair(folder, "t10k")
    if test is not None and test[0].shape[1:] != train[0].shape[1:]:
        raise DatasetError(
            f"In {folder}, t10k images are {test[0].shape[1:]} but train images are {train[0].shape[1:]}: they must "
            "be the same size."
        )
    all_labels = np.concatenate([train[1], test[1]]) if test else train[1]
    encoded, class_names = encode_labels(all_labels)
    y_train = encoded[: len(train[1])]
    val = (test[0], encoded[len(train[1]) :]) if test else None
    if test:
        logger.info("Using the t10k files in %s as validation data; 'val_fraction' is not used", folder)
    return build_dataset(
        name=folder.name,
        task="classification",
        x=train[0],
        y=y_train,
        spec=spec,
        input_norm="global",
        class_names=class_names,
        val=val,
    )
