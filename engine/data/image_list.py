"""Images named in a CSV or JSON list with their labels: a class column, or number columns for regression.

Paths are read relative to the list's folder. Every row is checked before training: rows whose file
is missing are reported by line number (CSV) or entry number (JSON), so nothing fails mid-run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.image_stream import IMAGE_OPTIONS, ImageOptions, build_image_dataset, pil_image_module
from engine.data.labels import encode_labels
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

LIST_OPTIONS = IMAGE_OPTIONS | {"path_column", "target", "task", "delimiter"}
#: column names taken as the image path when 'path_column' is not given
PATH_NAMES = ("path", "file", "filename", "image", "image_path", "img", "filepath")
SHOWN_ROWS = 10


def _read_table(path: Path, delimiter: str | None) -> tuple[Any, int]:
    """The list as a pandas DataFrame, and the file line of its first row (for messages)."""
    import pandas as pd

    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"The image list {path} is not valid JSON ({exc}): fix the file.") from None
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            data = lists[0] if len(lists) == 1 else data
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise DatasetError(f"The image list {path} must be a JSON list of objects such as "
                               '{"path": "img/1.png", "label": "cat"}.')
        return pd.DataFrame.from_records(data), 1
    try:
        frame = pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, keep_default_na=False,
                            skipinitialspace=True)
    except UnicodeDecodeError:
        raise DatasetError(f"The image list {path} is not UTF-8 text: save it as UTF-8 CSV.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DatasetError(f"The image list {path} could not be read as CSV ({_first_line(exc)}): "
                           "fix the file or set the 'delimiter' option.") from None
    return frame, 2


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _pick_path_column(columns: list[str], wanted: str | None, where: Path) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise DatasetError(f"The image list {where} has no column '{wanted}'; its columns are: "
                               f"{', '.join(columns)}. Set 'path_column' to the column with the image paths.")
        return wanted
    for name in columns:
        if name.strip().lower() in PATH_NAMES:
            return name
    return columns[0]


def read_image_list(spec: DatasetSpec, opts: OptionReader) -> tuple[list[str], np.ndarray, str, list[str] | None]:
    """(absolute image paths, targets, task, class names) from the list, with every file checked."""
    where = Path(str(spec.path)).expanduser()
    if not where.exists():
        raise DatasetError(f"The image list {where} does not exist: choose a CSV or JSON file of image paths.")
    if where.is_dir():
        raise DatasetError(f"{where} is a folder: for a folder of class sub-folders use the 'image_folder' kind; "
                           "this kind reads a CSV or JSON list of image paths.")
    frame, first_line = _read_table(where, opts.get_str("delimiter"))
    columns = [str(c) for c in frame.columns]
    if len(columns) < 2 or len(frame) == 0:
        raise DatasetError(f"The image list {where} needs a column of image paths and a label column, with at "
                           "least one row.")
    path_col = _pick_path_column(columns, opts.get_str("path_column"), where)
    targets = opts.get_str_list("target") or [c for c in columns if c != path_col][:1]
    unknown = [t for t in targets if t not in columns or t == path_col]
    if unknown:
        raise DatasetError(f"The image list {where} has no label column {', '.join(map(repr, unknown))}; its "
                           f"columns are: {', '.join(columns)}. Set 'target' to one of them.")
    base = where.parent
    raw_paths = frame[path_col].astype(str).str.strip().tolist()
    paths = [str(p if p.is_absolute() else base / p) for p in (Path(r).expanduser() for r in raw_paths)]
    missing = [(first_line + i, raw) for i, (raw, full) in enumerate(zip(raw_paths, paths, strict=True))
               if not raw or not Path(full).is_file()]
    if missing:
        what = "line" if first_line == 2 else "entry"
        shown = "; ".join(f"{what} {n}: {raw or '(empty)'}" for n, raw in missing[:SHOWN_ROWS])
        more = f"; and {len(missing) - SHOWN_ROWS} more" if len(missing) > SHOWN_ROWS else ""
        raise DatasetError(f"The image list {where} names {len(missing)} file(s) that do not exist ({shown}{more}): "
                           f"fix the paths (relative paths are read from {base}) or remove those rows.")
    task = opts.get_choice("task", "auto", ("auto", "classification", "regression"))
    values = frame[targets]
    numeric = values.apply(lambda col: _as_numbers(col)).notna().all().all()
    if task == "auto":
        task = "regression" if len(targets) > 1 or (numeric and _many_values(values[targets[0]])) else \
            "classification"
    if task == "classification":
        if len(targets) != 1:
            raise DatasetError(f"Classification reads one label column, but 'target' names {len(targets)}: name "
                               "one, or set 'task' to 'regression'.")
        y, class_names = encode_labels(values[targets[0]].astype(str).str.strip().to_numpy())
        if len(class_names) < 2:
            raise DatasetError(f"The label column '{targets[0]}' of {where} holds only one class "
                               f"('{class_names[0]}'): a classifier needs at least two.")
        return paths, y, task, class_names
    numbers = values.apply(lambda col: _as_numbers(col))
    bad_rows = numbers.isna().any(axis=1).to_numpy().nonzero()[0]
    if len(bad_rows):
        shown = ", ".join(str(first_line + int(i)) for i in bad_rows[:SHOWN_ROWS])
        raise DatasetError(f"Regression needs numbers in {', '.join(map(repr, targets))} of {where}, but line(s) "
                           f"{shown} hold none: fix those values or set 'task' to 'classification'.")
    y = numbers.to_numpy(dtype=np.float32)
    return paths, (y[:, 0] if len(targets) == 1 else y), task, None


def _as_numbers(col: Any) -> Any:
    import pandas as pd

    return pd.to_numeric(col.astype(str).str.strip(), errors="coerce")


def _many_values(col: Any) -> bool:
    """Integer labels with few distinct values are classes; anything else numeric is a measurement."""
    numbers = _as_numbers(col)
    whole = bool((numbers == numbers.round()).all())
    return not whole or numbers.nunique() > 20


def load_image_list(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """A CSV/JSON list of image paths with labels, decoded like an image folder."""
    options = ImageOptions.read(opts)
    pil_image_module()
    paths, y, task, class_names = read_image_list(spec, opts)
    logger.info("The image list names %d images (%s)", len(paths), task)
    return build_image_dataset(name=Path(str(spec.path)).stem, paths=paths, y=y, task=task, spec=spec,
                               opts=options, class_names=class_names)
