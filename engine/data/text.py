"""Character-level language modelling: predict each next character of a text file (or the built-in story)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.data.assemble import build_dataset
from engine.data.builtin_text import BUILTIN_TEXT
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

_MAX_WINDOWS = 20_000  # keeps memory and epoch time small for long texts when no stride is given


def read_text_file(path: Path) -> str:
    if not path.exists():
        raise DatasetError(f"The text file {path} does not exist: choose an existing .txt file.")
    if not path.is_file():
        raise DatasetError(f"{path} is a folder, not a text file: choose a .txt file.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"The text file {path} is not valid UTF-8 text (byte {exc.start}): save it as UTF-8 and load it again."
        ) from None
    except OSError as exc:
        raise DatasetError(f"The text file {path} could not be read: {exc.strerror or exc}.") from None


def _windows(ids: np.ndarray, seq_len: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    windows = np.lib.stride_tricks.sliding_window_view(ids, seq_len + 1)[::stride]
    return windows[:, :-1].copy(), windows[:, 1:].copy()


def load_text(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Train on the start of the text and validate on its end.

    A contiguous split, unlike a random one, keeps overlapping windows from appearing on both sides,
    which would make validation loss meaninglessly low.
    """
    seq_len = opts.get_int("seq_len", 64, minimum=2, maximum=4096)
    if spec.path:
        path = Path(spec.path).expanduser()
        text, name = read_text_file(path), path.name
        if not text.strip():
            raise DatasetError(f"The text file {path} is empty: choose a .txt file with some text in it (a few "
                               f"thousand characters or more train a language model best).")
    else:
        text, name = BUILTIN_TEXT, "text"
    stride = opts.get_int("stride", max(1, len(text) // _MAX_WINDOWS), minimum=1, maximum=1_000_000)
    vocab = sorted(set(text))
    lookup = {ch: i for i, ch in enumerate(vocab)}
    ids = np.fromiter((lookup[ch] for ch in text), dtype=np.int64, count=len(text))
    cut = int(round(len(ids) * (1.0 - spec.val_fraction)))
    train_ids, val_ids = ids[:cut], ids[cut:]
    if min(len(train_ids), len(val_ids)) < seq_len + 1:
        source = str(spec.path) if spec.path else "The built-in text"
        raise DatasetError(
            f"{source} has {len(text)} characters, too short for sequences of {seq_len} characters in both the "
            f"training and validation parts: lower the 'seq_len' option or use a longer text."
        )
    x_train, y_train = _windows(train_ids, seq_len, stride)
    x_val, y_val = _windows(val_ids, seq_len, stride)
    logger.info("Text %s: %d characters, %d distinct", name, len(text), len(vocab))
    return build_dataset(
        name=name,
        task="language",
        x=x_train,
        y=y_train,
        spec=spec,
        input_norm=None,
        vocab=vocab,
        val=(x_val, y_val),
    )
