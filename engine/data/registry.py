"""Every data set kind DeepCanvas knows, with its loader and options, and the single entry point to load one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from engine.data import (
    csv_table,
    idx_files,
    image_folder,
    image_list,
    image_stream,
    npz_arrays,
    points,
    sentiment,
    sklearn_sets,
    text,
    text_table,
    token_tasks,
    waves,
)
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec
from graph.quoting import cut, quote

logger = logging.getLogger(__name__)

Loader = Callable[[DatasetSpec, OptionReader], Dataset]


@dataclass(frozen=True)
class DatasetKind:
    """A loader with the option names it accepts, so typos in options are reported instead of ignored."""

    kind: str
    description: str
    loader: Loader
    options: frozenset[str] = frozenset()
    needs_path: bool = False


_SEQ = frozenset({"n_samples", "seq_len", "vocab_size"})

KINDS: dict[str, DatasetKind] = {
    k.kind: k
    for k in [
        DatasetKind(
            "digits",
            "Handwritten digits, 1797 images of 1×8×8, 10 classes",
            sklearn_sets.load_digits,
            frozenset({"flat"}),
        ),
        DatasetKind("iris", "Iris flowers, 150 samples of 4 measurements, 3 species", sklearn_sets.load_iris),
        DatasetKind(
            "wine",
            "Wine cultivars, 178 samples of 13 chemical measurements, 3 classes",
            sklearn_sets.load_wine,
        ),
        DatasetKind(
            "breast_cancer",
            "Breast tumours, 569 samples of 30 measurements, benign or malignant",
            sklearn_sets.load_breast_cancer,
        ),
        DatasetKind(
            "diabetes",
            "Diabetes progression, 442 patients with 10 measurements, regression",
            sklearn_sets.load_diabetes,
        ),
        DatasetKind(
            "moons",
            "Two interleaving half-moons of 2-D points, 2 classes",
            points.load_moons,
            frozenset({"n_samples", "noise"}),
        ),
        DatasetKind(
            "spirals",
            "Interleaved 2-D spiral arms, one class per arm",
            points.load_spirals,
            frozenset({"n_samples", "noise", "classes"}),
        ),
        DatasetKind(
            "gaussian_mixture",
            "A ring of 2-D Gaussian blobs, labelled by blob (handy for GANs)",
            points.load_gaussian_mixture,
            frozenset({"n_samples", "modes", "radius", "std"}),
        ),
        DatasetKind(
            "sine",
            "Sine-wave windows: predict the next value (many-to-one regression)",
            waves.load_sine,
            frozenset({"n_samples", "seq_len", "noise"}),
        ),
        DatasetKind(
            "sine_forecast",
            "Sine-wave windows: predict the window one step ahead (many-to-many)",
            waves.load_sine_forecast,
            frozenset({"n_samples", "seq_len", "noise"}),
        ),
        DatasetKind(
            "sequence_majority",
            "Token sequences: classify by the most frequent token",
            token_tasks.load_sequence_majority,
            _SEQ,
        ),
        DatasetKind(
            "sequence_copy",
            "Token sequences: output a copy of the input (seq2seq)",
            token_tasks.load_sequence_copy,
            _SEQ,
        ),
        DatasetKind(
            "sequence_reverse",
            "Token sequences: output the input reversed (seq2seq)",
            token_tasks.load_sequence_reverse,
            _SEQ,
        ),
        DatasetKind(
            "text",
            "Character-level text: predict the next character (built-in story or your .txt)",
            text.load_text,
            frozenset({"seq_len", "stride"}),
        ),
        DatasetKind(
            "sentiment",
            "Short generated reviews labelled positive or negative (negations, 'but'): text classification",
            sentiment.load_sentiment,
            sentiment.OPTIONS,
        ),
        DatasetKind(
            "csv",
            "Your CSV table: pick a target column to predict",
            csv_table.load_csv,
            frozenset({"target", "task", "delimiter", "exclude", "max_categories"}),
            needs_path=True,
        ),
        DatasetKind(
            "parquet",
            "Your Parquet table: pick a target column to predict",
            csv_table.load_parquet,
            frozenset({"target", "task", "exclude", "max_categories"}),
            needs_path=True,
        ),
        DatasetKind(
            "text_csv",
            "Your CSV of texts and labels (text_column, label_column): text classification with a learned "
            "vocabulary",
            text_table.load_text_csv,
            text_table.CSV_OPTIONS,
            needs_path=True,
        ),
        DatasetKind(
            "npz",
            "Your NumPy .npz file with arrays x and y",
            npz_arrays.load_npz,
            frozenset({"x_key", "y_key", "task", "tokens"}),
            needs_path=True,
        ),
        DatasetKind(
            "image_folder",
            "Your images, one sub-folder per class",
            image_folder.load_image_folder,
            image_stream.IMAGE_OPTIONS,
            needs_path=True,
        ),
        DatasetKind(
            "image_list",
            "Your images listed in a CSV or JSON file with a label (or number) column",
            image_list.load_image_list,
            image_list.LIST_OPTIONS,
            needs_path=True,
        ),
        DatasetKind(
            "idx",
            "MNIST-format IDX files in a folder (MNIST, Fashion-MNIST, ...)",
            idx_files.load_idx,
            needs_path=True,
        ),
    ]
}


def builtin_datasets() -> list[tuple[str, str]]:
    """Kinds that work without any file, for the picker; "text" is included since it has a built-in story."""
    return [(k.kind, k.description) for k in KINDS.values() if not k.needs_path]


def user_data_kinds() -> list[tuple[str, str]]:
    """Kinds that read the user's own file or folder given as the spec's path."""
    return [(k.kind, k.description) for k in KINDS.values() if k.needs_path]


def load_dataset(spec: DatasetSpec) -> Dataset:
    """Load, split and normalise the data set a spec describes; the same spec always gives the same arrays."""
    if not isinstance(spec, DatasetSpec):
        raise DatasetError(f"Expected a data set description, got {type(spec).__name__}.")
    entry = KINDS.get(spec.kind)
    if entry is None:
        raise DatasetError(f"Unknown data set kind {quote(spec.kind)}; known kinds: {', '.join(KINDS)}.")
    unknown = sorted(set(spec.options) - entry.options)
    if unknown:
        allowed = ", ".join(sorted(entry.options)) if entry.options else "none"
        raise DatasetError(
            f"The '{spec.kind}' data set has no option {', '.join(cut(repr(u)) for u in unknown[:10])}"
            f"{f' (and {len(unknown) - 10} more)' if len(unknown) > 10 else ''}; its options are: {allowed}."
        )
    if entry.needs_path and not spec.path:
        raise DatasetError(f"The '{spec.kind}' data set reads your own data: choose a file or folder for it.")
    try:
        dataset = entry.loader(spec, OptionReader(spec.kind, spec.options))
    except MemoryError:
        raise DatasetError(
            f"Not enough memory to load the '{spec.kind}' data set: use fewer samples or a smaller file."
        ) from None
    except OSError as exc:
        # Loaders report the errors they expect; this is the safety net for e.g. a disk vanishing mid-read.
        where = exc.filename or spec.path or spec.kind
        raise DatasetError(f"Could not read {cut(where, 160)}: {exc.strerror or exc}.") from None
    logger.info("Loaded %s", dataset.describe())
    return dataset
