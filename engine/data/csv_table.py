"""The 'csv' and 'parquet' data sets: the project's options read and checked, then the table read and
encoded by engine/data/table_files.py (the code exported training scripts contain as well) and
split and normalised like every other kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec
from engine.data.table_files import MISSING, encode_table, read_csv_frame, read_parquet_frame  # noqa: F401
from graph.quoting import cut


def table_options(opts: OptionReader) -> dict[str, Any]:
    """The encoding options of a table data set, checked (the exporter writes them into scripts as data)."""
    return {"target": opts.get_str("target"),
            "task": opts.get_choice("task", "auto", ["auto", "classification", "regression"]),
            "exclude": sorted(set(opts.get_str_list("exclude"))),
            "max_categories": opts.get_int("max_categories", 50, minimum=2, maximum=10_000)}


def csv_delimiter(opts: OptionReader) -> str | None:
    delimiter = opts.get_str("delimiter")
    if delimiter is not None and len(delimiter) != 1:
        raise DatasetError(
            f"Option 'delimiter' of the 'csv' data set must be one character, not {cut(repr(delimiter))}."
        )
    return delimiter


def load_csv(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Numeric columns are used as-is (missing -> column mean); text columns are one-hot encoded."""
    path = Path(str(spec.path)).expanduser()
    delimiter = csv_delimiter(opts)
    return _table_dataset(spec, opts, path, lambda: read_csv_frame(path, delimiter), "CSV file")


def load_parquet(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """A Parquet table, encoded exactly like a CSV one."""
    path = Path(str(spec.path)).expanduser()
    return _table_dataset(spec, opts, path, lambda: read_parquet_frame(path), "Parquet file")


def _table_dataset(spec: DatasetSpec, opts: OptionReader, path: Path, read: Any, what: str) -> Dataset:
    table = encode_table(read(), file_name=path.name, what=what, **table_options(opts))
    return build_dataset(
        name=path.name,
        task=table.task,
        x=table.x,
        y=table.y,
        spec=spec,
        input_norm="per_feature",
        class_names=table.class_names,
        feature_names=table.feature_names,
        feature_mask=table.numeric_mask,
        normalize_target=True,
    )
