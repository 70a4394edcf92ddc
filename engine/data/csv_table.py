"""User tables from CSV files: numeric and text columns, missing values, class or number targets."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.labels import encode_labels
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
_AUTO_CLASS_LIMIT = 20  # integer targets with at most this many values are taken as class labels
_MISSING_CATEGORY = "(missing)"


@dataclass
class _Column:
    name: str
    cells: list[str]

    def missing(self) -> np.ndarray:
        return np.array([c.lower() in MISSING for c in self.cells], dtype=bool)

    def numbers(self) -> np.ndarray | None:
        """The column as floats (NaN where missing), or None if any present cell is not a number."""
        values = np.full(len(self.cells), np.nan)
        for i, cell in enumerate(self.cells):
            if cell.lower() in MISSING:
                continue
            try:
                values[i] = float(cell)
            except ValueError:
                return None
        if not np.all(np.isfinite(values[~np.isnan(values)])):
            return None
        return values


def _read_rows(path: Path, delimiter: str | None) -> tuple[list[str], list[list[str]]]:
    if not path.exists():
        raise DatasetError(f"The CSV file {path} does not exist: choose an existing file.")
    if not path.is_file():
        raise DatasetError(f"{path} is a folder, not a CSV file: choose a .csv file.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"The CSV file {path} is not UTF-8 text (byte {exc.start}): export it again as UTF-8 CSV."
        ) from None
    except OSError as exc:
        raise DatasetError(f"The CSV file {path} could not be read: {exc.strerror or exc}.") from None
    first_line = text.split("\n", 1)[0]
    if delimiter is None:
        # Spreadsheets in many locales write ';' or tabs; the header line tells which one was used.
        delimiter = max([",", ";", "\t", "|"], key=first_line.count)
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
                    f"Line {reader.line_num} of {path} has {len(cells)} values but the header has "
                    f"{len(header)} columns: fix that line or remove it."
                )
            rows.append(cells)
    except csv.Error as exc:
        raise DatasetError(f"The CSV file {path} is malformed near line {reader.line_num}: {exc}.") from None
    if header is None:
        raise DatasetError(f"The CSV file {path} is empty: it needs a header line and data rows.")
    if not rows:
        raise DatasetError(f"The CSV file {path} has a header but no data rows.")
    header = [name or f"column {i + 1}" for i, name in enumerate(header)]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DatasetError(
            f"The CSV file {path} has duplicate column names: {', '.join(duplicates)}. Rename them."
        )
    return header, rows


def _column_list(header: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in header)


def load_csv(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Numeric columns are used as-is (missing -> column mean); text columns are one-hot encoded."""
    path = Path(str(spec.path)).expanduser()
    target = opts.get_str("target")
    task = opts.get_choice("task", "auto", ["auto", "classification", "regression"])
    delimiter = opts.get_str("delimiter")
    exclude = set(opts.get_str_list("exclude"))
    max_categories = opts.get_int("max_categories", 50, minimum=2, maximum=10_000)
    if delimiter is not None and len(delimiter) != 1:
        raise DatasetError(
            f"Option 'delimiter' of the 'csv' data set must be one character, not {delimiter!r}."
        )

    header, rows = _read_rows(path, delimiter)
    if not target:
        raise DatasetError(
            f"Choose the target column to predict (option 'target'); the columns in {path.name} are: "
            f"{_column_list(header)}."
        )
    if target not in header:
        raise DatasetError(
            f"The CSV file {path.name} has no column '{target}'; available columns: {_column_list(header)}."
        )
    unknown_excluded = sorted(exclude - set(header))
    if unknown_excluded:
        raise DatasetError(
            f"Option 'exclude' names columns that {path.name} does not have: {', '.join(unknown_excluded)}; "
            f"available columns: {_column_list(header)}."
        )
    columns = {name: _Column(name, [row[i] for row in rows]) for i, name in enumerate(header)}

    target_col = columns[target]
    keep = ~target_col.missing()
    dropped = int((~keep).sum())
    if dropped:
        logger.warning("Dropped %d row(s) of %s whose target '%s' is missing", dropped, path.name, target)
        columns = {
            name: _Column(name, [c for c, k in zip(col.cells, keep, strict=True) if k])
            for name, col in columns.items()
        }
        target_col = columns[target]
    if not target_col.cells:
        raise DatasetError(
            f"Every row of {path.name} is missing the target '{target}': there is nothing to learn."
        )

    y, task, class_names = _encode_target(target_col, task, path)
    feature_cols = [columns[name] for name in header if name != target and name not in exclude]
    x, feature_names, mask = _encode_features(feature_cols, max_categories, path)
    return build_dataset(
        name=path.name,
        task=task,
        x=x,
        y=y,
        spec=spec,
        input_norm="per_feature",
        class_names=class_names,
        feature_names=feature_names,
        feature_mask=mask,
        normalize_target=True,
    )


def _encode_target(col: _Column, task: str, path: Path) -> tuple[np.ndarray, str, list[str] | None]:
    numbers = col.numbers()
    if task == "auto":
        if numbers is None:
            task = "classification"
        else:
            whole = bool(np.all(numbers == np.round(numbers)))
            task = (
                "classification" if whole and len(np.unique(numbers)) <= _AUTO_CLASS_LIMIT else "regression"
            )
        logger.info("Target '%s' of %s treated as %s", col.name, path.name, task)
    if task == "regression":
        if numbers is None:
            example = next(c for c in col.cells if _not_number(c))
            raise DatasetError(
                f"The target column '{col.name}' holds text such as '{example}', so it cannot be predicted as a "
                "number: set the task to classification."
            )
        return numbers.astype(np.float32), task, None
    y, class_names = encode_labels(numbers if numbers is not None else np.array(col.cells))
    if len(class_names) < 2:
        raise DatasetError(
            f"The target column '{col.name}' has only one value ('{class_names[0]}'): a classifier needs at least "
            "two classes."
        )
    return y, task, class_names


def _not_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _encode_features(
    cols: list[_Column], max_categories: int, path: Path
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Returns the feature matrix, its column names, and which columns are numeric (to be normalised)."""
    blocks: list[np.ndarray] = []
    names: list[str] = []
    numeric_mask: list[bool] = []
    for col in cols:
        numbers = col.numbers()
        if numbers is not None:
            missing = np.isnan(numbers)
            if missing.all():
                logger.warning("Ignoring column '%s' of %s: it has no values", col.name, path.name)
                continue
            if missing.any():
                mean = float(np.nanmean(numbers))
                numbers[missing] = mean
                logger.warning(
                    "Filled %d missing value(s) in column '%s' of %s with the column mean %.4g",
                    int(missing.sum()),
                    col.name,
                    path.name,
                    mean,
                )
            blocks.append(numbers[:, None])
            names.append(col.name)
            numeric_mask.append(True)
            continue
        cells = [_MISSING_CATEGORY if c.lower() in MISSING else c for c in col.cells]
        categories = sorted(set(cells))
        if len(categories) > max_categories:
            raise DatasetError(
                f"Column '{col.name}' of {path.name} has {len(categories)} different text values (such as "
                f"'{categories[0]}'), too many to use as categories: leave it out with the 'exclude' option, or "
                "raise 'max_categories'."
            )
        missing_count = cells.count(_MISSING_CATEGORY)
        if missing_count and _MISSING_CATEGORY not in col.cells:
            logger.warning(
                "Column '%s' of %s: %d missing value(s) put in their own category '%s'",
                col.name,
                path.name,
                missing_count,
                _MISSING_CATEGORY,
            )
        index = {c: i for i, c in enumerate(categories)}
        one_hot = np.zeros((len(cells), len(categories)))
        one_hot[np.arange(len(cells)), [index[c] for c in cells]] = 1.0
        blocks.append(one_hot)
        names.extend(f"{col.name}={c}" for c in categories)
        numeric_mask.extend([False] * len(categories))
    if not blocks:
        raise DatasetError(
            f"{path.name} has no usable feature columns besides the target: add input columns."
        )
    return np.concatenate(blocks, axis=1).astype(np.float32), names, np.array(numeric_mask)
