"""User arrays saved with numpy.savez: the escape hatch for any data DeepCanvas has no loader for."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.labels import encode_labels
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec

logger = logging.getLogger(__name__)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise DatasetError(f"The .npz file {path} does not exist: choose an existing file.")
    if not path.is_file():
        raise DatasetError(f"{path} is a folder, not an .npz file.")
    try:
        with path.open("rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise DatasetError(f"The .npz file {path} could not be read: {exc.strerror or exc}.") from None
    if magic.startswith(b"\x93NUMPY"):
        raise DatasetError(
            f"{path} holds a single .npy array, not named arrays: save it with numpy.savez(path, x=inputs, y=targets)."
        )
    if not magic.startswith(b"PK"):
        raise DatasetError(
            f"{path} is not a NumPy .npz file (it is not a zip archive): save it with numpy.savez."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DatasetError(
                f"{path} contains Python objects (pickled arrays), which DeepCanvas does not load for safety: "
                "save plain numeric arrays."
            ) from None
        raise DatasetError(f"{path} is not a readable NumPy .npz file ({exc}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(
            f"{path} is a damaged .npz file ({exc}): save it again with numpy.savez."
        ) from None


def _pick(arrays: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    if key not in arrays:
        present = ", ".join(f"'{k}'" for k in sorted(arrays)) or "none"
        raise DatasetError(
            f"{path.name} has no array named '{key}' (arrays present: {present}): save it with "
            "numpy.savez(path, x=inputs, y=targets)."
        )
    return arrays[key]


def _check_numeric(a: np.ndarray, key: str, path: Path, allow_text: bool = False) -> None:
    if a.ndim == 0:
        raise DatasetError(f"Array '{key}' in {path.name} is a single value; it needs one entry per sample.")
    if allow_text and a.dtype.kind in "USb":
        return
    if a.dtype.kind not in "biuf":
        raise DatasetError(f"Array '{key}' in {path.name} has type {a.dtype}; it must hold numbers.")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        bad = int((~np.isfinite(a)).sum())
        raise DatasetError(
            f"Array '{key}' in {path.name} contains {bad} missing (NaN) or infinite values: fill or remove them."
        )


def load_npz(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Arrays `x` and `y`, plus optional `x_val`/`y_val` for a fixed validation set.

    Inputs are float32 unless option `tokens` says they are token ids. The task is guessed from y
    (integers or text in one column -> classification, otherwise regression) unless given.
    """
    path = Path(str(spec.path)).expanduser()
    x_key = opts.get_str("x_key", "x") or "x"
    y_key = opts.get_str("y_key", "y") or "y"
    task = opts.get_choice("task", "auto", ["auto", "classification", "regression", "sequence"])
    tokens = opts.get_bool("tokens", False)

    arrays = _read_arrays(path)
    x, y = _pick(arrays, x_key, path), _pick(arrays, y_key, path)
    val = None
    if f"{x_key}_val" in arrays and f"{y_key}_val" in arrays:
        val = (arrays[f"{x_key}_val"], arrays[f"{y_key}_val"])
        logger.info(
            "Using the arrays '%s_val' and '%s_val' of %s as validation data", x_key, y_key, path.name
        )
    pairs = [(x, y, x_key, y_key)] + ([(val[0], val[1], f"{x_key}_val", f"{y_key}_val")] if val else [])
    for xs, ys, xk, yk in pairs:
        _check_numeric(xs, xk, path)
        _check_numeric(ys, yk, path, allow_text=True)
        if len(xs) != len(ys):
            raise DatasetError(
                f"In {path.name}, '{xk}' has {len(xs)} samples but '{yk}' has {len(ys)}: they must have the same "
                "first dimension."
            )
    if val is not None and val[0].shape[1:] != x.shape[1:]:
        raise DatasetError(
            f"In {path.name}, '{x_key}_val' samples have shape {val[0].shape[1:]} but '{x_key}' samples have "
            f"shape {x.shape[1:]}: they must match."
        )
    if tokens and x.dtype.kind not in "biu":
        raise DatasetError(
            f"Option 'tokens' needs whole-number token ids in '{x_key}', but it holds {x.dtype}."
        )

    if task == "auto":
        if y.dtype.kind in "USb" or (y.dtype.kind in "iu" and y.ndim == 1):
            task = "classification"
        elif tokens and y.ndim >= 2:
            task = "sequence"
        else:
            task = "regression"
        logger.info("%s treated as %s", path.name, task)
    if task == "regression" and y.dtype.kind in "USb":
        raise DatasetError(f"'{y_key}' in {path.name} holds text labels: set the task to classification.")

    class_names = None
    if task == "classification":
        if y.ndim != 1:
            raise DatasetError(
                f"For classification '{y_key}' in {path.name} must hold one label per sample, but it has shape "
                f"{y.shape}: set the task to regression or sequence."
            )
        all_labels = np.concatenate([y, val[1]]) if val else y
        encoded, class_names = encode_labels(all_labels)
        y = encoded[: len(y)]
        if val:
            val = (val[0], encoded[len(y) :])

    x_dtype = np.int64 if tokens else np.float32
    x = x.astype(x_dtype)
    if val:
        val = (val[0].astype(x_dtype), val[1])
    vocab = None
    if tokens:
        top = int(max(x.max(initial=0), val[0].max(initial=0) if val else 0))
        vocab = [str(i) for i in range(top + 1)]
    input_norm = None if tokens else ("per_feature" if x.ndim == 2 else "global")
    return build_dataset(
        name=path.name,
        task=task,
        x=x,
        y=y,
        spec=spec,
        input_norm=input_norm,
        class_names=class_names,
        vocab=vocab,
        normalize_target=True,
        val=val,
    )
