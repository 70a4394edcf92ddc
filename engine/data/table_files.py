"""User tables from CSV and Parquet files: numeric, text and true/false columns, missing values, and a
target column chosen by name that is predicted as classes or as a number.

Portable: only the standard library, numpy, pandas (pyarrow) and other portable modules (see
engine/export_training_code.py), because exported training scripts contain this very code, so a
script reads and encodes the table exactly as the app does.

Files are parsed by pandas (its pyarrow engine for CSV, ``read_parquet`` for Parquet) and every
column is encoded with whole-array operations, so a table of a million rows loads in seconds. The
Python ``csv`` module is kept for what pyarrow refuses: it reads the file the way DeepCanvas always
has (blank lines skipped, cells stripped) and names the line at fault when the table is ragged.

Encoding, the same for both formats:
- a column whose present cells are all numbers is used as is, missing cells get the column mean;
  a number too large for a float (``1e999``) or infinite is reported, naming its row, and counts as
  missing, instead of quietly turning the whole column into text;
- a true/false column becomes one 0/1 feature;
- any other column is one-hot encoded, one feature per distinct value in sorted order, missing
  cells forming a category of their own.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.data.errors import DatasetError
from engine.data.labels import encode_labels
from engine.data.split import split_by_spec
from graph.quoting import cut, cut_path, quote

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
#: every spelling of the missing markers pyarrow should turn into nulls (it compares exactly)
_NA_TOKENS = sorted(
    {"".join(chars) for token in MISSING for chars in itertools.product(*((c.lower(), c.upper()) for c in token))}
)
_AUTO_CLASS_LIMIT = 20  # integer targets with at most this many values are taken as class labels
_MISSING_CATEGORY = "(missing)"
_DELIMITERS = (",", ";", "\t", "|")
#: bytes read to find the header line and guess the delimiter
_HEAD_BYTES = 1 << 16
_HEAD_LIMIT = 1 << 24
PARQUET_MAGIC = b"PAR1"


# -- reading --------------------------------------------------------------------------------------
def _check_file(path: Path, what: str, suffix: str) -> None:
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as exc:     # a name too long for the file system, a path through a file, ...
        raise DatasetError(
            f"The {what} file {cut_path(path)} cannot be opened ({exc.strerror or exc}): choose an existing file."
        ) from None
    if not exists:
        raise DatasetError(f"The {what} file {cut_path(path)} does not exist: choose an existing file.")
    if not is_file:
        raise DatasetError(f"{cut_path(path)} is a folder, not a {what} file: choose a {suffix} file.")


def _utf8_error(path: Path) -> DatasetError:
    """The message for a file that is not UTF-8, naming the first bad byte (found on this error path
    only, by decoding the file piece by piece)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                offset += exc.start
                break
            offset += len(chunk)
    return DatasetError(
        f"The CSV file {cut_path(path)} is not UTF-8 text (byte {offset}): export it again as UTF-8 CSV."
    )


def _head_text(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
            # a wide table's header can be longer than one read: go on to the end of its first row
            while len(head) < _HEAD_LIMIT and head.strip() and b"\n" not in head.lstrip(b"\r\n \t"):
                more = fh.read(_HEAD_BYTES)
                if not more:
                    break
                head += more
    except OSError as exc:
        raise DatasetError(f"The CSV file {cut_path(path)} could not be read: {exc.strerror or exc}.") from None
    if head.startswith(PARQUET_MAGIC):
        raise DatasetError(
            f"{cut_path(path)} is a Parquet file, not CSV text: choose the 'parquet' data set for it."
        )
    return head.decode("utf-8-sig", errors="replace")


def _guess_delimiter(head: str) -> str:
    # Spreadsheets in many locales write ';' or tabs; the header line tells which one was used.
    first_line = head.split("\n", 1)[0]
    return max(_DELIMITERS, key=first_line.count)


def _clean_header(cells: list[str], path: Path) -> list[str]:
    header = [cell.strip() or f"column {i + 1}" for i, cell in enumerate(cells)]
    seen: set[str] = set()
    duplicates = sorted({name for name in header if name in seen or seen.add(name)})  # type: ignore[func-returns-value]
    if duplicates:
        raise DatasetError(
            f"The CSV file {cut_path(path)} has duplicate column names: "
            f"{_column_list(duplicates)}. Rename them."
        )
    return header


def _header_of(head: str, delimiter: str, path: Path) -> list[str] | None:
    """The first non-blank row of the file's start, as the csv module reads it (None: no such row)."""
    try:
        for row in csv.reader(io.StringIO(head), delimiter=delimiter):
            if any(cell.strip() for cell in row):
                return _clean_header(row, path)
    except csv.Error:
        return None
    return None


def read_csv_frame(path: Path, delimiter: str | None) -> pd.DataFrame:
    """The table as a DataFrame whose columns are the cleaned header names; rows where every cell is
    missing are left out. pyarrow parses it; the csv module takes over where pyarrow refuses."""
    _check_file(path, "CSV", ".csv")
    head = _head_text(path)
    if delimiter is None:
        delimiter = _guess_delimiter(head)
    header = _header_of(head, delimiter, path)
    reason = ""
    if header is not None:
        try:
            import pandas as pd

            frame = pd.read_csv(
                path, sep=delimiter, engine="pyarrow", encoding="utf-8",
                keep_default_na=False, na_values=_NA_TOKENS,
            )
        except ImportError as exc:
            reason = f"pyarrow is not available ({exc})"
        except (ValueError, TypeError, OSError) as exc:   # pandas.errors.ParserError is a ValueError
            reason = " ".join(str(exc).split())
        else:
            if len(frame.columns) == len(header):
                frame.columns = header
                _refuse_bytes(frame, path)
                return _drop_empty_rows(frame)
            reason = f"it found {len(frame.columns)} columns where the header has {len(header)}"
    if reason:
        logger.info("Reading %s with the csv module: pyarrow could not parse it (%s)", path.name, cut(reason, 200))
    return _read_with_csv_module(path, delimiter)


def _refuse_bytes(frame: pd.DataFrame, path: Path) -> None:
    """pyarrow hands undecodable text back as bytes; today's answer to that is a clear message."""
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and column.map(type).eq(bytes).any():
            raise _utf8_error(path)


def _drop_empty_rows(frame: pd.DataFrame) -> pd.DataFrame:
    empty = frame.isna().all(axis=1).to_numpy()
    if empty.any():
        logger.info("Skipped %d row(s) with no values", int(empty.sum()))
        frame = frame.loc[~empty].reset_index(drop=True)
    return frame


def _read_with_csv_module(path: Path, delimiter: str) -> pd.DataFrame:
    """The slow, exact reader: blank rows skipped, cells stripped, and a ragged line reported by number."""
    import pandas as pd

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _utf8_error(path) from None
    except OSError as exc:
        raise DatasetError(f"The CSV file {cut_path(path)} could not be read: {exc.strerror or exc}.") from None
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            cells = [cell.strip() for cell in row]
            if header is None:
                header = cells
                continue
            if len(cells) != len(header):
                raise DatasetError(
                    f"Line {reader.line_num} of {cut_path(path)} has {len(cells)} values but the header has "
                    f"{len(header)} columns: fix that line or remove it."
                )
            rows.append(cells)
    except csv.Error as exc:
        raise DatasetError(
            f"The CSV file {cut_path(path)} is malformed near line {reader.line_num}: {cut(exc)}."
        ) from None
    if header is None:
        raise DatasetError(f"The CSV file {cut_path(path)} is empty: it needs a header line and data rows.")
    header = _clean_header(header, path)
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header)
    return frame


def read_parquet_frame(path: Path) -> pd.DataFrame:
    _check_file(path, "Parquet", ".parquet")
    try:
        import pandas as pd

        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise DatasetError(
            f"Reading Parquet files needs pyarrow ({cut(exc)}): install it with pip install pyarrow."
        ) from None
    except (ValueError, TypeError, OSError, RuntimeError) as exc:   # pyarrow's ArrowInvalid is a ValueError
        raise DatasetError(
            f"{cut_path(path)} is not a readable Parquet file ({cut(' '.join(str(exc).split()), 160)}): "
            "choose a .parquet file, or the 'csv' data set for text tables."
        ) from None
    header = [str(name) for name in frame.columns]
    frame.columns = _clean_header(header, path)
    return _drop_empty_rows(frame)


# -- columns --------------------------------------------------------------------------------------
@dataclass
class _Column:
    """One column, classified once: numbers (NaN where missing), true/false, or text as codes into
    its distinct values (-1 where missing), so text is compared once per distinct value, not per cell."""

    name: str
    numbers: np.ndarray | None = None      # float64, NaN = missing
    flags: np.ndarray | None = None        # float64 0/1, NaN = missing
    codes: np.ndarray | None = None        # int64 index into ``values``, -1 = missing
    values: list[str] | None = None        # the distinct stripped texts, in no particular order

    def missing(self) -> np.ndarray:
        if self.numbers is not None:
            return np.isnan(self.numbers)
        if self.flags is not None:
            return np.isnan(self.flags)
        assert self.codes is not None
        return self.codes < 0

    def take(self, keep: np.ndarray) -> _Column:
        return _Column(
            self.name,
            None if self.numbers is None else self.numbers[keep],
            None if self.flags is None else self.flags[keep],
            None if self.codes is None else self.codes[keep],
            self.values,
        )


def _classify(series: pd.Series, name: str, file_name: str) -> _Column:
    import pandas as pd
    from pandas.api import types

    if types.is_bool_dtype(series.dtype):
        return _Column(name, flags=series.to_numpy(dtype=np.float64, na_value=np.nan))
    if types.is_numeric_dtype(series.dtype) and not types.is_complex_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _Column(name, numbers=_finite(values, series, name, file_name))
    if types.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.PeriodDtype):
        raise DatasetError(
            f"Column {quote(name)} of {cut(file_name)} holds dates or times, which cannot be used as they are: "
            "leave it out with the 'exclude' option, or turn it into numbers first."
        )
    present = series.notna().to_numpy()
    if series.dtype == object and present.any() and types.infer_dtype(series[present], skipna=True) == "boolean":
        flags = np.full(len(series), np.nan)
        flags[present] = series[present].to_numpy(dtype=np.float64)
        return _Column(name, flags=flags)
    # Text: work on the distinct values (a hash pass in pandas), then look at each one once in Python,
    # with float() deciding what is a number exactly as it always has.
    raw_codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = [str(u).strip() for u in (uniques.tolist() if hasattr(uniques, "tolist") else list(uniques))]
    gone = [t.lower() in MISSING for t in texts]
    numbers = np.full(len(texts) + 1, np.nan)        # the extra last slot is where code -1 lands
    numeric = True
    for i, (t, m) in enumerate(zip(texts, gone, strict=True)):
        if m:
            continue
        try:
            numbers[i] = float(t)
        except ValueError:
            numeric = False
            break
    raw_codes = np.asarray(raw_codes, dtype=np.int64)
    if numeric:
        values = numbers[raw_codes]
        shown = pd.Series(np.array(texts + [""], dtype=object)[raw_codes])
        return _Column(name, numbers=_finite(values, shown, name, file_name))
    distinct = sorted({t for t, m in zip(texts, gone, strict=True) if not m})
    index = {t: i for i, t in enumerate(distinct)}
    remap = np.array([-1 if m else index[t] for t, m in zip(texts, gone, strict=True)] + [-1], dtype=np.int64)
    return _Column(name, codes=remap[raw_codes], values=distinct)


def _finite(values: np.ndarray, cells: pd.Series, name: str, file_name: str) -> np.ndarray:
    """Infinite numbers (``1e999`` is one: too large for a float) are reported and count as missing,
    so one bad cell neither breaks training nor makes the whole column text."""
    bad = np.isinf(values)
    if bad.any():
        rows = np.flatnonzero(bad)
        first = int(rows[0])
        shown = cells.iloc[first]
        text = f" ({quote(shown)})" if isinstance(shown, str) and shown else " (it reads as infinity)"
        more = f" and {len(rows) - 1} more row(s)" if len(rows) > 1 else ""
        logger.warning(
            "Column %s of %s: data row %d holds a number too large to use%s%s; treated as missing. "
            "Fix the cell, or leave the column out with the 'exclude' option.",
            quote(name), cut(file_name), first + 1, text, more,
        )
        values = values.copy()
        values[bad] = np.nan
    return values


def _column_list(header: list[str], limit: int = 40) -> str:
    shown = ", ".join(quote(name) for name in header[:limit])
    return shown + (f" and {len(header) - limit} more" if len(header) > limit else "")


# -- the feature matrix ----------------------------------------------------------------------------
@dataclass
class EncodedTable:
    """A table as numbers: features (float32), targets, the task and the names of classes and features."""

    x: np.ndarray
    y: np.ndarray
    task: str
    class_names: list[str] | None
    feature_names: list[str]
    #: True for measured features (normalised), False for one-hot and 0/1 ones (left as they are)
    numeric_mask: np.ndarray


def encode_table(frame: pd.DataFrame, *, target: str | None, task: str = "auto", exclude: Any = (),
                 max_categories: int = 50, file_name: str = "", what: str = "CSV file") -> EncodedTable:
    """Numeric columns are used as-is (missing -> column mean); text columns are one-hot encoded;
    rows without a target are dropped. ``what`` names the file's kind in messages."""
    exclude = set(exclude)
    header = [str(name) for name in frame.columns]
    shown = cut(file_name)
    if not target:
        raise DatasetError(
            f"Choose the target column to predict (option 'target'); the columns in {shown} are: "
            f"{_column_list(header)}."
        )
    if target not in header:
        raise DatasetError(
            f"The {what} {shown} has no column {quote(target)}; available columns: {_column_list(header)}."
        )
    unknown_excluded = sorted(exclude - set(header))
    if unknown_excluded:
        raise DatasetError(
            f"Option 'exclude' names columns that {shown} does not have: {_column_list(unknown_excluded)}; "
            f"available columns: {_column_list(header)}."
        )
    if len(frame) == 0:
        raise DatasetError(f"The {what} {shown} has a header but no data rows.")

    target_col = _classify(frame[target], target, file_name)
    keep = ~target_col.missing()
    dropped = int((~keep).sum())
    if not keep.any():
        raise DatasetError(f"Every row of {shown} is missing the target {quote(target)}: there is nothing to learn.")
    if dropped:
        logger.warning("Dropped %d row(s) of %s whose target %s is missing", dropped, shown, quote(target))
        target_col = target_col.take(keep)
    y, task, class_names = _encode_target(target_col, task, file_name)

    blocks: list[np.ndarray] = []
    names: list[str] = []
    numeric_mask: list[bool] = []
    for name in header:
        if name == target or name in exclude:
            continue
        col = _classify(frame[name], name, file_name)
        if dropped:
            col = col.take(keep)
        encoded = _encode_feature(col, max_categories, file_name)
        if encoded is None:
            continue
        block, block_names, numeric = encoded
        blocks.append(block)
        names.extend(block_names)
        numeric_mask.extend([numeric] * len(block_names))
    if not blocks:
        raise DatasetError(f"{shown} has no usable feature columns besides the target: add input columns.")
    x = np.empty((len(y), len(names)), dtype=np.float32)     # filled in place: no float64 copy of the table
    column = 0
    for block in blocks:
        x[:, column:column + block.shape[1]] = block
        column += block.shape[1]
    return EncodedTable(x, y, task, class_names, names, np.array(numeric_mask))


def _encode_target(col: _Column, task: str, file_name: str) -> tuple[np.ndarray, str, list[str] | None]:
    numbers = col.numbers
    if task == "auto":
        if numbers is None:
            task = "classification"
        else:
            whole = bool(np.all(numbers == np.round(numbers)))
            task = (
                "classification" if whole and len(np.unique(numbers)) <= _AUTO_CLASS_LIMIT else "regression"
            )
        logger.info("Target %s of %s treated as %s", quote(col.name), cut(file_name), task)
    if task == "regression":
        if numbers is None:
            example = (
                "true" if col.flags is not None else col.values[int(col.codes[col.codes >= 0][0])]  # type: ignore[index]
            )
            raise DatasetError(
                f"The target column {quote(col.name)} holds text such as {quote(example)}, so it cannot be "
                "predicted as a number: set the task to classification."
            )
        return numbers.astype(np.float32), task, None
    if numbers is not None:
        labels: np.ndarray = numbers
    elif col.flags is not None:
        labels = np.where(col.flags > 0.5, "True", "False")
    else:
        labels = np.array(col.values, dtype=str)[col.codes]  # type: ignore[index]
    y, class_names = encode_labels(labels)
    if len(class_names) < 2:
        raise DatasetError(
            f"The target column {quote(col.name)} has only one value ({quote(class_names[0])}): a classifier "
            "needs at least two classes."
        )
    return y, task, class_names


def _encode_feature(
    col: _Column, max_categories: int, file_name: str
) -> tuple[np.ndarray, list[str], bool] | None:
    """The column's block of features, their names and whether they are measurements to normalise
    (one-hot and 0/1 columns are not); None for a column without any value."""
    if col.numbers is not None or col.flags is not None:
        values = (col.numbers if col.numbers is not None else col.flags).copy()  # type: ignore[union-attr]
        missing = np.isnan(values)
        if missing.all():
            logger.warning("Ignoring column %s of %s: it has no values", quote(col.name), cut(file_name))
            return None
        if missing.any():
            mean = float(np.nanmean(values))
            values[missing] = mean
            logger.warning(
                "Filled %d missing value(s) in column %s of %s with the column mean %.4g",
                int(missing.sum()), quote(col.name), cut(file_name), mean,
            )
        return values[:, None], [col.name], col.numbers is not None
    assert col.codes is not None and col.values is not None
    categories = list(col.values)                    # sorted already
    codes = col.codes
    missing_count = int((codes < 0).sum())
    if missing_count:
        if _MISSING_CATEGORY not in categories:
            logger.warning(
                "Column %s of %s: %d missing value(s) put in their own category '%s'",
                quote(col.name), cut(file_name), missing_count, _MISSING_CATEGORY,
            )
            categories = sorted([*categories, _MISSING_CATEGORY])
            shift = np.array([categories.index(v) for v in col.values] + [categories.index(_MISSING_CATEGORY)])
            codes = shift[codes]                         # -1 picks the last slot: the missing category
        else:
            codes = np.where(codes < 0, categories.index(_MISSING_CATEGORY), codes)
    if len(categories) > max_categories:
        raise DatasetError(
            f"Column {quote(col.name)} of {cut(file_name)} has {len(categories)} different text values (such as "
            f"{quote(categories[0])}), too many to use as categories: leave it out with the 'exclude' "
            "option, or raise 'max_categories'."
        )
    one_hot = np.zeros((len(codes), len(categories)), dtype=np.float32)
    one_hot[np.arange(len(codes)), codes] = 1.0
    return one_hot, [f"{col.name}={c}" for c in categories], False


def table_arrays(path: str, file_format: str, delimiter: str | None, encoding: dict[str, Any],
                 dataset: dict[str, Any]) -> list[np.ndarray]:
    """x_train, y_train, x_val, y_val of a CSV or Parquet table as the app loads it (what exported
    scripts call): read, encoded, split and normalised by the same functions as the 'csv' and
    'parquet' data sets."""
    file = Path(path).expanduser()
    frame = read_parquet_frame(file) if file_format == "parquet" else read_csv_frame(file, delimiter)
    table = encode_table(frame, file_name=file.name, what="Parquet file" if file_format == "parquet" else "CSV file",
                         **encoding)
    return split_by_spec(table.x, table.y, table.task, dataset, "per_feature", normalize_target=True,
                         feature_mask=table.numeric_mask, name=file.name)
