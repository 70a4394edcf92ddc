"""Checks a model's Input node against the data before training, so mismatches read as advice, not tracebacks."""

from __future__ import annotations

from collections.abc import Sequence

from engine.data.dataset import Dataset, format_shape

_DTYPE_ALIASES = {
    "float": "float32",
    "float32": "float32",
    "torch.float32": "float32",
    "int64": "int64",
    "long": "int64",
    "int": "int64",
    "torch.int64": "int64",
    "torch.long": "int64",
}


def _describe_dtype(dtype: str) -> str:
    return "int64 token ids" if dtype == "int64" else "float32 values"


def check_input_shape(
    dataset: Dataset, input_shape: Sequence[int | None], input_dtype: str, input_name: str
) -> str | None:
    """None when the Input node fits the data; otherwise one sentence saying what to change.

    Dimensions given as None or a negative number are treated as free (e.g. a variable sequence length).
    """
    problems: list[str] = []
    fixes: list[str] = []
    wanted = tuple(input_shape)
    actual = dataset.input_shape
    free = [d is None or d < 0 for d in wanted]
    if len(wanted) != len(actual) or any(
        not is_free and w != a for w, a, is_free in zip(wanted, actual, free, strict=False)
    ):
        problems.append(
            f"expects {format_shape(wanted)} but the data set '{dataset.name}' gives {format_shape(actual)} samples"
        )
        fixes.append(f"set the Input shape to {format_shape(actual)}")
    dtype = _DTYPE_ALIASES.get(str(input_dtype).lower())
    if dtype is None:
        problems.append(f"has the unknown data type '{input_dtype}'")
        fixes.append(f"set the Input data type to {dataset.input_dtype}")
    elif dtype != dataset.input_dtype:
        problems.append(
            f"expects {_describe_dtype(dtype)} but the data set '{dataset.name}' gives "
            f"{_describe_dtype(dataset.input_dtype)}"
        )
        fix = f"set the Input data type to {dataset.input_dtype}"
        if dataset.input_dtype == "int64":
            fix += " and feed it into an Embedding layer"
        fixes.append(fix)
    if not problems:
        return None
    return f"Input '{input_name}' " + " and ".join(problems) + ": " + " and ".join(fixes) + "."


def check_vocabulary(dataset: Dataset, num_embeddings: int, node_label: str) -> str | None:
    """None when an Embedding fed by the data has a vector for every token id the data holds.

    Without this check an id past the table fails deep inside the first step with PyTorch's "index
    out of range"; a learned vocabulary (a CSV of your own) easily outgrows an Embedding drawn for
    another data set.
    """
    if dataset.input_dtype != "int64":
        return None
    needed = len(dataset.vocab) if dataset.vocab else 0
    for ids in (dataset.x_train, dataset.x_val):
        if ids.size:
            needed = max(needed, int(ids.max()) + 1)
    if num_embeddings >= needed:
        return None
    fix = f"set its num_embeddings to {needed}"
    if dataset.vocab and dataset.vocab[:2] == ["[PAD]", "[UNK]"]:
        fix += f" (or the data set's 'vocab_size' option to {num_embeddings})"
    return (f"{node_label} has vectors for {num_embeddings} token ids but the data set '{dataset.name}' holds "
            f"ids 0 to {needed - 1}: {fix}.")
