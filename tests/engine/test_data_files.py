"""Loading the user's own files (CSV, .npz, image folders, IDX) and the messages shown when they are wrong."""

from __future__ import annotations

import gzip
import logging
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetError, DatasetSpec, load_dataset

CSV_TEXT = """\
age,color,size,species
1.0,red,10,cat
2.0,green,11,dog
,blue,12,cat
4.0,red,13,dog
5.0,green,14,cat
6.0,blue,15,dog
7.0,red,16,cat
8.0,green,17,dog
9.0,blue,18,cat
10.0,red,19,dog
"""


def _csv(tmp_path: Path, text: str = CSV_TEXT, name: str = "pets.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _load(kind: str, path: Path, **kwargs: object) -> object:
    return load_dataset(DatasetSpec(kind, path=str(path), **kwargs))  # type: ignore[arg-type]


# --- CSV -----------------------------------------------------------------------------------------------


def test_csv_encodes_categories_fills_missing_and_indexes_text_target(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _csv(tmp_path)
    with caplog.at_level(logging.WARNING, logger="engine.data"):
        ds = _load("csv", path, options={"target": "species"}, normalize=False, val_fraction=0.2)
    assert ds.task == "classification" and ds.class_names == ["cat", "dog"] and ds.num_classes == 2
    assert ds.feature_names == ["age", "color=blue", "color=green", "color=red", "size"]
    assert ds.input_shape == (5,) and ds.name == "pets.csv"
    assert len(ds.x_train) == 8 and len(ds.x_val) == 2
    assert "Filled 1 missing value(s) in column 'age'" in caplog.text
    x = np.concatenate([ds.x_train, ds.x_val])
    filled_row = x[x[:, 4] == 12][0]  # the row whose age was missing
    assert filled_row[0] == pytest.approx(np.mean([1, 2, 4, 5, 6, 7, 8, 9, 10]))
    assert filled_row[1:4].tolist() == [1.0, 0.0, 0.0]  # blue


def test_csv_normalises_numeric_columns_but_not_one_hot(tmp_path: Path) -> None:
    ds = _load("csv", _csv(tmp_path), options={"target": "species"})
    stats = ds.normalization["input"]
    assert stats["mean"][1:4] == [0.0, 0.0, 0.0] and stats["std"][1:4] == [1.0, 1.0, 1.0]
    assert set(np.unique(ds.x_train[:, 1:4])) <= {0.0, 1.0}
    assert abs(float(ds.x_train[:, 4].mean())) < 1e-5


def test_csv_auto_task_picks_regression_for_measurements(tmp_path: Path) -> None:
    rows = "\n".join(f"{i};{i * 0.5 + 0.25}" for i in range(30))
    path = _csv(tmp_path, "x;price\n" + rows + "\n", name="prices.csv")
    ds = _load("csv", path, options={"target": "price"})
    assert ds.task == "regression" and ds.target_shape == () and ds.num_classes is None
    assert "target" in ds.normalization and ds.input_shape == (1,)


def test_csv_integer_target_with_few_values_is_classification(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},{i % 3}" for i in range(30))
    ds = _load("csv", _csv(tmp_path, "x,label\n" + rows + "\n"), options={"target": "label"})
    assert ds.task == "classification" and ds.class_names == ["0", "1", "2"]


def test_csv_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nothere\.csv does not exist"):
        _load("csv", tmp_path / "nothere.csv", options={"target": "y"})


def test_csv_unknown_target_lists_available_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    with pytest.raises(DatasetError, match="no column 'kind'.*'age', 'color', 'size', 'species'"):
        _load("csv", path, options={"target": "kind"})
    with pytest.raises(DatasetError, match="option 'target'.*'age', 'color', 'size', 'species'"):
        _load("csv", path)


def test_csv_ragged_row_names_the_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b,y\n1,2,3\n4,5\n")
    with pytest.raises(DatasetError, match="Line 3 .* 2 values but the header has 3 columns"):
        _load("csv", path, options={"target": "y"})


def test_csv_text_target_cannot_be_regression(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="'species' holds text such as 'cat'.*classification"):
        _load("csv", _csv(tmp_path), options={"target": "species", "task": "regression"})


# --- npz -----------------------------------------------------------------------------------------------


def test_npz_maps_labels_to_class_indices(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "arrays.npz"
    np.savez(path, x=rng.normal(size=(40, 5)), y=np.array([3, 7] * 20))
    ds = _load("npz", path)
    assert ds.task == "classification" and ds.class_names == ["3", "7"]
    assert ds.input_shape == (5,) and ds.x_train.dtype == np.float32
    assert set(np.unique(ds.y_train)) == {0, 1}
    assert len(ds.x_train) + len(ds.x_val) == 40


def test_npz_uses_given_validation_arrays(tmp_path: Path) -> None:
    path = tmp_path / "split.npz"
    np.savez(
        path, x=np.ones((10, 2, 3)), y=np.linspace(0, 1, 10), x_val=np.zeros((4, 2, 3)), y_val=np.ones(4)
    )
    ds = _load("npz", path)
    assert ds.task == "regression" and len(ds.x_train) == 10 and len(ds.x_val) == 4
    assert ds.input_shape == (2, 3) and ds.normalization["input"]["mode"] == "global"


def test_npz_without_y_names_the_missing_and_present_keys(tmp_path: Path) -> None:
    path = tmp_path / "no_y.npz"
    np.savez(path, x=np.zeros((5, 2)), labels=np.zeros(5))
    with pytest.raises(DatasetError, match="no array named 'y' \\(arrays present: 'labels', 'x'\\)"):
        _load("npz", path)


def test_npz_that_is_not_an_archive_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "fake.npz"
    path.write_text("hello")
    with pytest.raises(DatasetError, match="fake.npz is not a NumPy .npz file"):
        _load("npz", path)


# --- image folders -------------------------------------------------------------------------------------


def _image_folder(tmp_path: Path) -> Path:
    from PIL import Image

    root = tmp_path / "shapes"
    for name, value in [("dark", 30), ("light", 220)]:
        (root / name).mkdir(parents=True)
        for i in range(4):
            pixels = np.full((12, 10, 3), value + i, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    (root / "dark" / "notes.txt").write_text("not an image")
    return root


def test_image_folder_gives_one_class_per_subfolder(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    root = _image_folder(tmp_path)
    ds = _load("image_folder", root, options={"size": 8}, normalize=False, val_fraction=0.25)
    assert ds.class_names == ["dark", "light"] and ds.input_shape == (1, 8, 8)
    assert len(ds.x_train) == 6 and len(ds.x_val) == 2
    for x, y in zip(ds.x_train, ds.y_train, strict=True):
        assert (x.mean() < 100) == (y == 0)
    colour = _load("image_folder", root, options={"size": [6, 7], "grayscale": False})
    assert colour.input_shape == (3, 6, 7) and colour.normalization["input"]["mode"] == "global"


def test_image_folder_without_class_folders_says_how_to_arrange_it(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "loose.png")
    with pytest.raises(DatasetError, match="no class sub-folders with images. It has 1 images directly"):
        _load("image_folder", tmp_path)


def test_image_folder_names_a_corrupt_image(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    root = _image_folder(tmp_path)
    (root / "light" / "broken.png").write_bytes(b"not really a png")
    with pytest.raises(DatasetError, match="broken.png could not be read"):
        _load("image_folder", root)


def test_image_folder_without_pillow_says_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(DatasetError, match="pip install pillow"):
        _load("image_folder", tmp_path)


def test_missing_image_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="gone does not exist"):
        _load("image_folder", tmp_path / "gone")


# --- IDX (MNIST format) --------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray) -> bytes:
    """The real MNIST layout: 0x0000, type 0x08 (ubyte), ndim, big-endian uint32 dims, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx(folder: Path, name: str, array: np.ndarray, gz: bool) -> Path:
    path = folder / (name + (".gz" if gz else ""))
    data = _idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _mnist_folder(tmp_path: Path, gz: bool, test_set: bool = True) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 6, 5), dtype=np.uint8)
    _write_idx(tmp_path, "train-images-idx3-ubyte", images, gz)
    _write_idx(tmp_path, "train-labels-idx1-ubyte", np.arange(20) % 4, gz)
    if test_set:
        _write_idx(tmp_path, "t10k-images-idx3-ubyte", images[:6], gz)
        _write_idx(tmp_path, "t10k-labels-idx1-ubyte", np.arange(6) % 4, gz)
    return tmp_path, images


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzipped"])
def test_idx_folder_loads_train_and_t10k(tmp_path: Path, gz: bool) -> None:
    folder, images = _mnist_folder(tmp_path, gz)
    ds = _load("idx", folder, normalize=False)
    assert ds.input_shape == (1, 6, 5) and ds.num_classes == 4 and ds.class_names == ["0", "1", "2", "3"]
    assert len(ds.x_train) == 20 and len(ds.x_val) == 6
    np.testing.assert_array_equal(ds.x_val[:, 0], images[:6].astype(np.float32))
    np.testing.assert_array_equal(ds.y_val, np.arange(6) % 4)
    train_sums = sorted(ds.x_train.reshape(20, -1).sum(axis=1).tolist())
    assert train_sums == sorted(images.reshape(20, -1).sum(axis=1).astype(float).tolist())


def test_idx_without_t10k_splits_the_training_files(tmp_path: Path) -> None:
    folder, _ = _mnist_folder(tmp_path, gz=False, test_set=False)
    ds = _load("idx", folder, val_fraction=0.2)
    assert len(ds.x_train) == 16 and len(ds.x_val) == 4
    assert ds.normalization["input"]["mode"] == "global"


def test_idx_bad_magic_is_reported(tmp_path: Path) -> None:
    folder, _ = _mnist_folder(tmp_path, gz=False, test_set=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(b"\x01\x02" + path.read_bytes()[2:])
    with pytest.raises(
        DatasetError, match="train-images-idx3-ubyte is not an IDX file: bad magic number 0x0102"
    ):
        _load("idx", folder)


def test_idx_truncated_file_is_reported(tmp_path: Path) -> None:
    folder, _ = _mnist_folder(tmp_path, gz=False, test_set=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte is truncated: .*20×6×5 values"):
        _load("idx", folder)


def test_idx_truncated_gzip_is_reported(tmp_path: Path) -> None:
    folder, _ = _mnist_folder(tmp_path, gz=True, test_set=False)
    path = folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz is a damaged or truncated gzip"):
        _load("idx", folder)


def test_idx_count_mismatch_names_both_files(tmp_path: Path) -> None:
    folder, _ = _mnist_folder(tmp_path, gz=False, test_set=False)
    _write_idx(folder, "train-labels-idx1-ubyte", np.zeros(19), gz=False)
    with pytest.raises(DatasetError, match="has 20 images but train-labels-idx1-ubyte has 19 labels"):
        _load("idx", folder)


def test_idx_folder_without_files_is_explained(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no train-images-idx3-ubyte"):
        _load("idx", tmp_path)
    _write_idx(tmp_path, "train-images-idx3-ubyte", np.zeros((3, 2, 2)), gz=False)
    with pytest.raises(DatasetError, match="no matching train-labels-idx file"):
        _load("idx", tmp_path)


# --- text ----------------------------------------------------------------------------------------------


def test_text_file_becomes_next_character_windows(tmp_path: Path) -> None:
    path = tmp_path / "poem.txt"
    path.write_text("abcab" * 40, encoding="utf-8")
    ds = _load("text", path, options={"seq_len": 8})
    assert ds.vocab == ["a", "b", "c"] and ds.task == "language" and ds.name == "poem.txt"
    assert ds.x_train.shape[1:] == (8,) and ds.y_train.shape[1:] == (8,)
    np.testing.assert_array_equal(ds.y_train[:, :-1], ds.x_train[:, 1:])


def test_text_too_short_or_missing_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("tiny", encoding="utf-8")
    with pytest.raises(DatasetError, match="4 characters, too short .* 'seq_len'"):
        _load("text", path, options={"seq_len": 8})
    with pytest.raises(DatasetError, match="missing.txt does not exist"):
        _load("text", tmp_path / "missing.txt")


# --- tables at scale: pandas/pyarrow reading, Parquet, odd cells ----------------------------------------


def test_csv_a_number_too_large_is_reported_and_counts_as_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = CSV_TEXT.replace("4.0,red,13,dog", "1e999,red,13,dog")
    with caplog.at_level(logging.WARNING, logger="engine.data"):
        ds = _load("csv", _csv(tmp_path, text), options={"target": "species"}, normalize=False)
    assert ds.feature_names == ["age", "color=blue", "color=green", "color=red", "size"]   # still numeric
    assert "Column 'age' of pets.csv: data row 4 holds a number too large to use" in caplog.text
    x = np.concatenate([ds.x_train, ds.x_val])
    assert np.isfinite(x).all()
    assert x[x[:, 4] == 13][0][0] == pytest.approx(np.mean([1, 2, 5, 6, 7, 8, 9, 10]))


def test_csv_true_false_column_is_one_zero_one_feature(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},{'true' if i % 3 else 'false'},{i % 2}" for i in range(30))
    ds = _load("csv", _csv(tmp_path, "x,flag,y\n" + rows + "\n"), options={"target": "y"}, normalize=False)
    assert ds.feature_names == ["x", "flag"]
    x = np.concatenate([ds.x_train, ds.x_val])
    np.testing.assert_array_equal(x[:, 1], (x[:, 0] % 3 != 0).astype(np.float32))


def test_csv_that_pyarrow_refuses_is_read_the_old_way(tmp_path: Path) -> None:
    spaced = CSV_TEXT.replace("5.0,green,14,cat\n", "5.0,green,14,cat\n   \n")  # a line of spaces
    plain = _load("csv", _csv(tmp_path), options={"target": "species"})
    odd = _load("csv", _csv(tmp_path, spaced, name="odd.csv"), options={"target": "species"})
    assert odd.feature_names == plain.feature_names
    np.testing.assert_array_equal(odd.x_train, plain.x_train)


def test_csv_semicolons_quotes_spaces_and_missing_markers(tmp_path: Path) -> None:
    text = 'size; kind ;label\n1;"a";x\n2;NA;y\n 3 ;b;x\n4; N/A ;y\nnull;a;x\n6;b;y\n'
    ds = _load("csv", _csv(tmp_path, text), options={"target": "label"}, normalize=False, val_fraction=0.5)
    assert ds.feature_names == ["size", "kind=(missing)", "kind=a", "kind=b"]
    x = np.concatenate([ds.x_train, ds.x_val])
    assert sorted(x[:, 0].tolist()) == pytest.approx([1, 2, 3, 3.2, 4, 6])          # null -> mean of 1, 2, 3, 4, 6
    assert x[:, 1].sum() == 2


def test_csv_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,b\n1,x\n2,caf\xe9\n")
    with pytest.raises(DatasetError, match=r"not UTF-8 text \(byte 13\)"):
        _load("csv", path, options={"target": "b"})


def test_parquet_loads_like_the_same_csv(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({
        "age": [1.0, 2.0, None, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        "color": ["red", "green", "blue", "red", None, "blue", "red", "green", "blue", "red"],
        "indoor": [True, False, True, True, False, False, True, False, True, True],
        "species": ["cat", "dog"] * 5,
    })
    frame.to_parquet(tmp_path / "pets.parquet")
    frame.to_csv(tmp_path / "pets.csv", index=False)
    from_parquet = _load("parquet", tmp_path / "pets.parquet", options={"target": "species"})
    from_csv = _load("csv", tmp_path / "pets.csv", options={"target": "species"})
    assert from_parquet.feature_names == from_csv.feature_names == [
        "age", "color=(missing)", "color=blue", "color=green", "color=red", "indoor"]
    np.testing.assert_allclose(from_parquet.x_train, from_csv.x_train)
    assert from_parquet.class_names == ["cat", "dog"]


def test_parquet_errors_are_explained(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet")
    with pytest.raises(DatasetError, match="fake.parquet is not a readable Parquet file"):
        _load("parquet", fake, options={"target": "y"})
    with pytest.raises(DatasetError, match="gone.parquet does not exist"):
        _load("parquet", tmp_path / "gone.parquet", options={"target": "y"})
    real = tmp_path / "real.parquet"
    __import__("pandas").DataFrame({"a": [1, 2], "y": [0, 1]}).to_parquet(real)
    with pytest.raises(DatasetError, match="is a Parquet file, not CSV text: choose the 'parquet' data set"):
        _load("csv", real, options={"target": "y"})
