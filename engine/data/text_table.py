"""Text classification from a CSV table: one column of texts, one column of labels.

The rows are split first; the vocabulary is then learned from the training rows only and both
sides are encoded with it, padded or cut to `max_length` token ids for an Embedding.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.assemble import build_dataset, split_indices
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.labels import encode_labels
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec
from engine.data.text_tokens import TOKENIZERS, fit_text_encoder

logger = logging.getLogger(__name__)

#: options every text-classification kind takes (how texts become token ids)
TOKEN_OPTIONS = frozenset({"tokenizer", "vocab_size", "max_length", "lowercase", "min_frequency"})
#: options of the `text_csv` kind
CSV_OPTIONS = TOKEN_OPTIONS | {"text_column", "label_column", "delimiter"}

DEFAULT_VOCAB_SIZE = 2000
DEFAULT_MAX_LENGTH = 32
#: more classes than this (or more than half as many classes as rows) means the label column is
#: most likely free text or an id, not a label
MAX_CLASSES = 200
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|"}


def _rows(indices: Sequence[int] | np.ndarray) -> str:
    """Row numbers as people count them in a spreadsheet below the header (1 = first data row)."""
    shown = [str(int(i) + 1) for i in list(indices)[:5]]
    more = f" and {len(indices) - 5} more" if len(indices) > 5 else ""
    return ", ".join(shown) + more


def text_classification(name: str, texts: Sequence[str], labels: Sequence[Any], spec: DatasetSpec,
                        opts: OptionReader, source: str, label_source: str = "The labels") -> Dataset:
    """Split, learn the vocabulary from the training texts, encode both splits and wrap as a Dataset.

    `source` names where the texts come from in messages ("The text column 'review' of x.csv").
    """
    kind = opts.get_choice("tokenizer", "word", TOKENIZERS)
    vocab_size = opts.get_int("vocab_size", DEFAULT_VOCAB_SIZE, minimum=3, maximum=1_000_000)
    max_length = opts.get_int("max_length", DEFAULT_MAX_LENGTH, minimum=1, maximum=100_000)
    lowercase = opts.get_bool("lowercase", True)
    min_frequency = opts.get_int("min_frequency", 1, minimum=1, maximum=1_000_000)

    texts = [str(t) for t in texts]
    if not texts:
        raise DatasetError(f"{source} has no rows: it needs texts to learn from.")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise DatasetError(f"{source} is empty on {len(empty)} row(s) ({_rows(empty)}, counted from 1 below the "
                           f"header): fill in those texts or remove the rows.")
    if len(labels) != len(texts):
        raise DatasetError(f"{source} has {len(texts)} texts but {len(labels)} labels; they must match.")
    y, class_names = encode_labels(np.asarray(labels))
    if len(class_names) < 2:
        only = repr(class_names[0]) if class_names else "nothing"
        raise DatasetError(f"{label_source} hold only one class ({only}); a classifier needs at least two: check "
                           f"the column, or choose another with the 'label_column' option.")
    if len(class_names) > MAX_CLASSES or (len(class_names) > 20 and len(class_names) > len(texts) / 2):
        raise DatasetError(f"{label_source} hold {len(class_names)} different values in {len(texts)} rows, which "
                           f"looks like text or ids rather than classes: choose the column of labels with the "
                           f"'label_column' option.")

    train_idx, val_idx = split_indices(len(texts), spec.val_fraction, spec.seed, y)
    train_texts = [texts[i] for i in train_idx]
    encoder = fit_text_encoder(train_texts, kind=kind, vocab_size=vocab_size, max_length=max_length,
                               lowercase=lowercase, min_frequency=min_frequency)
    x_train, cut_train = encoder.encode(train_texts)
    x_val, cut_val = encoder.encode([texts[i] for i in val_idx])
    cut = cut_train + cut_val
    if cut:
        logger.info("%d of %d texts are longer than %d tokens and were cut (the 'max_length' option)",
                    cut, len(texts), max_length)
    return build_dataset(name=name, task="classification", x=x_train, y=y[train_idx], spec=spec, input_norm=None,
                         class_names=class_names, vocab=encoder.vocab, val=(x_val, y[val_idx]))


def _delimiter(opts: OptionReader, path: Path) -> str:
    value = opts.get_str("delimiter")
    if value is None or value == "":
        return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    value = _DELIMITER_NAMES.get(value.lower(), value)
    if len(value) != 1 or value in "\"\r\n":
        raise DatasetError(f"Option 'delimiter' of the 'text_csv' data set must be one character (like , or ; or "
                           f"tab), not {value!r}.")
    return value


def read_table(path: Path, delimiter: str) -> Any:
    """The whole file as text cells (pandas DataFrame); empty cells read as "", never as NaN."""
    import pandas as pd

    if not path.exists():
        raise DatasetError(f"The CSV file {path} does not exist: choose an existing file.")
    if not path.is_file():
        raise DatasetError(f"{path} is a folder, not a CSV file: choose a .csv file.")
    try:
        return pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                           skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"The CSV file {path} is empty: it needs a header row and one row per text.") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "it cannot be parsed"
        raise DatasetError(f"The CSV file {path} is not a valid table ({detail}): check its delimiter (the "
                           f"'delimiter' option) and quoting.") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"The CSV file {path} is not valid UTF-8 text (byte {exc.start}): save it as UTF-8 "
                           f"and load it again.") from None


def _pick_column(columns: list[str], wanted: str, option: str, path: Path, what: str) -> str:
    if wanted in columns:
        return wanted
    folded = [c for c in columns if c.strip().lower() == wanted.strip().lower()]
    if len(folded) == 1:
        return folded[0]
    listed = ", ".join(repr(c) for c in columns[:20]) + (" …" if len(columns) > 20 else "")
    raise DatasetError(f"The CSV file {path.name} has no column {wanted!r} (its columns: {listed}): set the "
                       f"{option!r} option to the column holding the {what}.")


def load_text_csv(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """A CSV with a text column and a label column, as a text-classification data set."""
    path = Path(str(spec.path)).expanduser()
    text_name = opts.get_str("text_column", "text") or "text"
    label_name = opts.get_str("label_column", "label") or "label"
    table = read_table(path, _delimiter(opts, path))
    columns = [str(c) for c in table.columns]
    text_col = _pick_column(columns, text_name, "text_column", path, "texts")
    label_col = _pick_column(columns, label_name, "label_column", path, "labels")
    if text_col == label_col:
        raise DatasetError(f"The column {text_col!r} of {path.name} is chosen for both the texts and the labels: "
                           f"set 'text_column' and 'label_column' to two different columns.")
    texts = table[text_col].tolist()
    raw_labels = [str(v).strip() for v in table[label_col].tolist()]
    missing = [i for i, v in enumerate(raw_labels) if not v]
    if missing:
        raise DatasetError(f"The label column {label_col!r} of {path.name} is empty on {len(missing)} row(s) "
                           f"({_rows(missing)}, counted from 1 below the header): fill in those labels or remove "
                           f"the rows.")
    labels: list[Any] = raw_labels
    numbers = _as_numbers(raw_labels)
    if numbers is not None:
        labels = numbers        # 2 sorts before 10, as numbers should
    return text_classification(path.name, texts, labels, spec, opts,
                               source=f"The text column {text_col!r} of {path.name}",
                               label_source=f"The labels in column {label_col!r} of {path.name}")


def _as_numbers(values: list[str]) -> list[float] | None:
    """Labels as numbers when every one is a finite number (so 2 sorts before 10), else None."""
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        return None
    return numbers if all(math.isfinite(n) for n in numbers) else None
