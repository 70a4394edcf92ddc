"""Built-in data sets, splitting, normalisation, specs and Input-shape checks, as a user of the picker sees them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.data import (
    Dataset,
    DatasetError,
    DatasetSpec,
    builtin_datasets,
    check_input_shape,
    load_dataset,
    user_data_kinds,
)
from engine.data.assemble import split_indices

# kind, options, task, input_shape, input_dtype, target_shape, num_classes
BUILTIN_CASES = [
    ("digits", {}, "classification", (1, 8, 8), "float32", (), 10),
    ("digits", {"flat": True}, "classification", (64,), "float32", (), 10),
    ("iris", {}, "classification", (4,), "float32", (), 3),
    ("wine", {}, "classification", (13,), "float32", (), 3),
    ("breast_cancer", {}, "classification", (30,), "float32", (), 2),
    ("diabetes", {}, "regression", (10,), "float32", (), None),
    ("moons", {"n_samples": 200}, "classification", (2,), "float32", (), 2),
    ("spirals", {"n_samples": 200, "classes": 4}, "classification", (2,), "float32", (), 4),
    ("gaussian_mixture", {"n_samples": 300, "modes": 5}, "classification", (2,), "float32", (), 5),
    ("sine", {"n_samples": 100, "seq_len": 12}, "regression", (12, 1), "float32", (), None),
    ("sine_forecast", {"n_samples": 100, "seq_len": 12}, "sequence", (12, 1), "float32", (12, 1), None),
    (
        "sequence_majority",
        {"n_samples": 300, "seq_len": 9, "vocab_size": 3},
        "classification",
        (9,),
        "int64",
        (),
        3,
    ),
    (
        "sequence_copy",
        {"n_samples": 100, "seq_len": 6, "vocab_size": 5},
        "sequence",
        (6,),
        "int64",
        (6,),
        None,
    ),
    (
        "sequence_reverse",
        {"n_samples": 100, "seq_len": 6, "vocab_size": 5},
        "sequence",
        (6,),
        "int64",
        (6,),
        None,
    ),
    ("text", {"seq_len": 16}, "language", (16,), "int64", (16,), None),
]


def _load(kind: str, **kwargs: object) -> Dataset:
    return load_dataset(DatasetSpec(kind, **kwargs))  # type: ignore[arg-type]


def test_picker_lists_every_builtin_and_user_kind() -> None:
    builtin = dict(builtin_datasets())
    assert {case[0] for case in BUILTIN_CASES} <= set(builtin)
    assert all(isinstance(text, str) and text for text in builtin.values())
    assert {kind for kind, _ in user_data_kinds()} == {"csv", "parquet", "text_csv", "npz", "image_folder", "image_list", "idx"}


@pytest.mark.parametrize(
    ("kind", "options", "task", "input_shape", "input_dtype", "target_shape", "num_classes"),
    BUILTIN_CASES,
    ids=[f"{c[0]}{'-' + '-'.join(c[1]) if c[1] else ''}" for c in BUILTIN_CASES],
)
def test_builtin_kind_has_documented_shapes(
    kind: str,
    options: dict,
    task: str,
    input_shape: tuple[int, ...],
    input_dtype: str,
    target_shape: tuple[int, ...],
    num_classes: int | None,
) -> None:
    ds = load_dataset(DatasetSpec(kind, options=options))
    assert ds.task == task
    assert ds.input_shape == input_shape and ds.input_dtype == input_dtype
    assert ds.target_shape == target_shape and ds.num_classes == num_classes
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val)):
        assert len(x) == len(y) > 0
        assert x.shape[1:] == input_shape and x.dtype == np.dtype(input_dtype)
        assert y.shape[1:] == target_shape
        expected_y = (
            np.int64 if task in ("classification", "language") or input_dtype == "int64" else np.float32
        )
        assert y.dtype == expected_y
    if task == "classification":
        assert ds.class_names is not None and len(ds.class_names) == num_classes
        assert set(np.unique(ds.y_train)) <= set(range(num_classes))
    if input_dtype == "int64":
        assert ds.vocab and ds.x_train.max() < len(ds.vocab) and ds.x_train.min() >= 0
    json.dumps(ds.normalization)  # must be saveable next to a trained model
    assert ds.describe().startswith(f"{ds.name}: {len(ds.x_train)} train / {len(ds.x_val)} val")


def test_digits_describe_reads_like_the_status_bar() -> None:
    assert _load("digits").describe() == "digits: 1437 train / 360 val, input 1×8×8 float32, 10 classes"


def test_sequence_targets_follow_their_rule() -> None:
    forecast = _load("sine_forecast", options={"n_samples": 50, "seq_len": 10})
    np.testing.assert_array_equal(forecast.y_train[:, :-1], forecast.x_train[:, 1:])
    copy = _load("sequence_copy", options={"n_samples": 50})
    np.testing.assert_array_equal(copy.y_train, copy.x_train)
    reverse = _load("sequence_reverse", options={"n_samples": 50})
    np.testing.assert_array_equal(reverse.y_train, reverse.x_train[:, ::-1])
    text = _load("text", options={"seq_len": 20})
    np.testing.assert_array_equal(text.y_train[:, :-1], text.x_train[:, 1:])
    majority = _load("sequence_majority", options={"n_samples": 200, "vocab_size": 4})
    for x, y in zip(majority.x_train, majority.y_train, strict=True):
        counts = np.bincount(x, minlength=4)
        assert counts.argmax() == y and (counts == counts.max()).sum() == 1


def test_same_seed_same_data_other_seed_other_data() -> None:
    for kind, options in [
        ("moons", {"n_samples": 200}),
        ("digits", {}),
        ("sequence_copy", {"n_samples": 100}),
    ]:
        a = load_dataset(DatasetSpec(kind, options=options, seed=3))
        b = load_dataset(DatasetSpec(kind, options=options, seed=3))
        c = load_dataset(DatasetSpec(kind, options=options, seed=4))
        np.testing.assert_array_equal(a.x_train, b.x_train)
        np.testing.assert_array_equal(a.y_val, b.y_val)
        assert not np.array_equal(a.x_train, c.x_train)


def test_split_is_disjoint_and_covers_every_sample() -> None:
    train, val = split_indices(101, 0.25, seed=1, labels=np.arange(101) % 3)
    assert len(val) == 26 and len(train) == 75
    assert not set(train) & set(val)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(101))

    ds = _load("moons", options={"n_samples": 300}, normalize=False)
    train_rows = {tuple(row) for row in ds.x_train.tolist()}
    val_rows = {tuple(row) for row in ds.x_val.tolist()}
    assert not train_rows & val_rows
    assert len(train_rows) + len(val_rows) == 300


def test_too_few_samples_is_a_clear_error() -> None:
    with pytest.raises(DatasetError, match="only 1 sample"):
        split_indices(1, 0.2, seed=0)


def test_classification_split_is_stratified() -> None:
    ds = _load("wine", val_fraction=0.25)
    total = np.bincount(np.concatenate([ds.y_train, ds.y_val]))
    val_counts = np.bincount(ds.y_val, minlength=len(total))
    expected = total * len(ds.y_val) / total.sum()
    assert np.all(np.abs(val_counts - expected) <= 1)


def test_tabular_normalisation_uses_training_split_only() -> None:
    raw = _load("iris", normalize=False, seed=7)
    norm = _load("iris", seed=7)
    stats = norm.normalization["input"]
    assert stats["mode"] == "per_feature"
    np.testing.assert_allclose(stats["mean"], raw.x_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats["std"], raw.x_train.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(norm.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(norm.x_train.std(axis=0), 1.0, atol=1e-4)
    expected_val = (raw.x_val - np.array(stats["mean"])) / np.array(stats["std"])
    np.testing.assert_allclose(norm.x_val, expected_val, rtol=1e-5, atol=1e-5)
    assert raw.normalization is None


def test_images_use_one_global_mean_and_std() -> None:
    raw = _load("digits", normalize=False)
    stats = _load("digits").normalization["input"]
    assert stats["mode"] == "global"
    assert stats["mean"] == pytest.approx(float(raw.x_train.mean()), rel=1e-5)
    assert stats["std"] == pytest.approx(float(raw.x_train.std()), rel=1e-5)


def test_regression_target_normalisation_is_recorded_and_reversible() -> None:
    raw = _load("diabetes", normalize=False)
    norm = _load("diabetes")
    target = norm.normalization["target"]
    np.testing.assert_allclose(norm.y_val * target["std"] + target["mean"], raw.y_val, rtol=1e-4)
    assert abs(float(norm.y_train.mean())) < 1e-4


def test_preview_gives_copies_of_training_samples() -> None:
    ds = _load("iris")
    samples = ds.preview(3)
    assert len(samples) == 3
    x0, y0 = samples[0]
    assert isinstance(y0, int) and x0.shape == (4,)
    x0[:] = 99.0
    assert not np.any(ds.x_train[0] == 99.0)
    assert len(ds.preview(10_000)) == len(ds.x_train)


def test_spec_round_trips_through_json() -> None:
    spec = DatasetSpec(
        "image_folder",
        path="/data/pets",
        options={"size": (32, 32), "grayscale": False},
        val_fraction=0.1,
        seed=5,
    )
    saved = json.loads(json.dumps(spec.to_dict()))
    again = DatasetSpec.from_dict(saved)
    assert again.to_dict() == spec.to_dict()
    assert again.options == {"size": [32, 32], "grayscale": False}
    assert DatasetSpec.from_dict({"kind": "iris"}) == DatasetSpec("iris")


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"kind": "iris", "seed": "seven"}, "'seed'"),
        ({"kind": "iris", "val_fraction": 1.5}, "'val_fraction'"),
        ({"kind": "iris", "normalize": "yes"}, "'normalize'"),
        ({"kind": "iris", "options": [1, 2]}, "'options'"),
        ({"kind": "iris", "path": 3}, "'path'"),
        ({"kind": "iris", "options": {"n": object()}}, "'options.n'"),
        ({"seed": 1}, "'kind'"),
        (["iris"], "mapping"),
    ],
)
def test_bad_spec_dict_names_the_bad_key(data: object, named: str) -> None:
    with pytest.raises(DatasetError, match=named):
        DatasetSpec.from_dict(data)  # type: ignore[arg-type]


def test_unknown_kind_and_options_are_reported() -> None:
    with pytest.raises(DatasetError, match="Unknown data set kind 'mnist'.*digits"):
        _load("mnist")
    with pytest.raises(DatasetError, match="no option 'n_sample'.*n_samples"):
        _load("moons", options={"n_sample": 10})
    with pytest.raises(DatasetError, match="Option 'seq_len' of the 'sine' data set must be a whole number"):
        _load("sine", options={"seq_len": "long"})
    with pytest.raises(DatasetError, match="choose a file"):
        _load("csv", options={"target": "y"})


def test_check_input_shape_accepts_matching_input() -> None:
    digits = _load("digits")
    assert check_input_shape(digits, (1, 8, 8), "float32", "image") is None
    text = _load("text", options={"seq_len": 16})
    assert check_input_shape(text, [None], "int64", "tokens") is None


def test_check_input_shape_explains_mismatch() -> None:
    digits = _load("digits")
    assert check_input_shape(digits, (1, 28, 28), "float32", "image") == (
        "Input 'image' expects 1×28×28 but the data set 'digits' gives 1×8×8 samples: set the Input shape to 1×8×8."
    )
    text = _load("text", options={"seq_len": 16})
    message = check_input_shape(text, (16,), "float32", "x")
    assert message is not None and "int64 token ids" in message and "Embedding" in message
    both = check_input_shape(text, (32,), "float32", "x")
    assert both is not None and "set the Input shape to 16" in both and "data type to int64" in both


def test_engine_data_never_imports_qt() -> None:
    code = "import sys, engine.data; assert not [m for m in sys.modules if m.startswith(('PySide', 'PyQt'))]"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
