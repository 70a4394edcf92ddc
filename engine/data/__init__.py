"""Data sets to train on: built-in samples and the user's own files, split and normalised the same way."""

from engine.data.compat import check_input_shape
from engine.data.dataset import Dataset, format_shape
from engine.data.errors import DatasetError
from engine.data.registry import builtin_datasets, load_dataset, user_data_kinds
from engine.data.spec import DatasetSpec

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "builtin_datasets",
    "check_input_shape",
    "format_shape",
    "load_dataset",
    "user_data_kinds",
]
