"""Image data sets of any size: folders and lists, resize policies, memory vs streamed feeding through
DataLoader workers, unreadable files skipped and counted, and batch augmentation (seeded, training only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from engine.data import DatasetError, DatasetSpec, load_dataset
from engine.events import LogMessage, RunStarted
from graph import NetworkBuilder
from tests.engine.conftest import of_type

Image = pytest.importorskip("PIL.Image")


def _folder(tmp_path: Path, per_class: int = 12, size: tuple[int, int] = (10, 14), corrupt: bool = False) -> Path:
    """Two classes (dark/light) of small RGB PNGs; optionally one broken file in the middle of a class."""
    root = tmp_path / "pics"
    rng = np.random.default_rng(0)
    for name, base in (("dark", 40), ("light", 200)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(base + rng.integers(-20, 20, (*size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")
    if corrupt:
        (root / "light" / "005b.png").write_bytes(b"this is not a png")
    return root


def _load(kind: str, path: Path, **options: Any) -> Any:
    return load_dataset(DatasetSpec(kind, path=str(path), options=options))


def _project(root: Path, options: dict[str, Any], shape: tuple[int, int, int], epochs: int = 2,
             **training: Any) -> Any:
    b = NetworkBuilder()
    x = b.input(shape, name="image")
    h = b.chain(x, "Flatten", ("Dense", {"units": 8}), "ReLU", ("Dense", {"units": 2}))
    b.output(h, name="logits")
    return b.project("Images", {
        "dataset": {"kind": "image_folder", "path": str(root), "options": options},
        "training": {"recipe": "classification", "epochs": epochs, "batch_size": 8, **training},
    })


# --- decoding ---------------------------------------------------------------------------------------------


def test_resize_policies_keep_or_fill_the_frame(tmp_path: Path) -> None:
    from engine.data.image_stream import ImageOptions, decode_image

    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, 10:30] = 255                      # a white centre band, black sides
    path = tmp_path / "wide.png"
    Image.fromarray(pixels).save(path)
    stretch = decode_image(str(path), ImageOptions(height=10, width=10, channels=3, resize="stretch"))
    crop = decode_image(str(path), ImageOptions(height=10, width=10, channels=3, resize="crop"))
    pad = decode_image(str(path), ImageOptions(height=10, width=10, channels=3, resize="pad"))
    assert stretch.shape == crop.shape == pad.shape == (3, 10, 10)
    assert stretch[:, :, 0].max() == 0 and stretch[:, :, 5].min() == 255     # squeezed: sides still black
    assert crop[:, :, 2:8].min() == 255                                      # centre crop: mostly the band
    assert pad[:, 0].max() == 0 and pad[:, 9].max() == 0 and pad[:, 5, 5].min() == 255   # letterboxed


def test_rgba_and_grayscale_channels(tmp_path: Path) -> None:
    from engine.data.image_stream import ImageOptions, decode_image

    path = tmp_path / "a.png"
    rgba = np.zeros((6, 6, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 77
    Image.fromarray(rgba, "RGBA").save(path)
    four = decode_image(str(path), ImageOptions(height=6, width=6, channels=4))
    assert four.shape == (4, 6, 6) and four[3].max() == 77 and four[0].min() == 200
    gray = decode_image(str(path), ImageOptions(height=6, width=6, channels=1))
    assert gray.shape == (1, 6, 6)
    root = _folder(tmp_path)
    ds = _load("image_folder", root, size=8, channels=4)
    assert ds.input_shape == (4, 8, 8) and ds.x_train.dtype == np.uint8


def test_small_folder_is_held_as_uint8_and_normalised_from_training(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    ds = _load("image_folder", root, size=8, grayscale=False, normalization="per_channel")
    src = ds.image_source
    assert src.mode == "memory" and ds.x_train.dtype == np.uint8 and ds.x_train.shape[1:] == (3, 8, 8)
    train = ds.x_train.astype(np.float64)
    np.testing.assert_allclose(src.mean, train.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(src.std, train.std(axis=(0, 2, 3)), rtol=1e-6)
    x, _ = ds.preview(1)[0]
    assert x.dtype == np.float32 and abs(float(x.mean())) < 3
    imagenet = _load("image_folder", root, size=8, grayscale=False, normalization="imagenet")
    assert imagenet.normalization["input"]["preset"] == "imagenet"


# --- bad data ---------------------------------------------------------------------------------------------


def test_image_list_reports_missing_files_with_line_numbers(tmp_path: Path) -> None:
    root = _folder(tmp_path, per_class=3)
    rows = ["path,label"] + [f"pics/dark/{i:03d}.png,dark" for i in range(3)]
    rows.insert(3, "pics/dark/gone.png,dark")                     # file line 4
    rows += [f"pics/light/{i:03d}.png,light" for i in range(3)]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match=r"1 file\(s\) that do not exist \(line 4: pics/dark/gone.png\)"):
        _load("image_list", tmp_path / "list.csv")
    assert root.is_dir()


def test_image_list_csv_classes_and_json_regression(tmp_path: Path) -> None:
    _folder(tmp_path, per_class=4)
    files = [f"pics/{c}/{i:03d}.png" for c in ("dark", "light") for i in range(4)]
    (tmp_path / "list.csv").write_text("file,kind\n" + "".join(f"{f},{f.split('/')[1]}\n" for f in files))
    ds = _load("image_list", tmp_path / "list.csv", size=6)
    assert ds.task == "classification" and ds.class_names == ["dark", "light"]
    entries = [{"path": f, "brightness": 0.5 + i * 0.37, "size": float(i)} for i, f in enumerate(files)]
    (tmp_path / "list.json").write_text(json.dumps(entries))
    reg = _load("image_list", tmp_path / "list.json", size=6, target=["brightness", "size"])
    assert reg.task == "regression" and reg.target_shape == (2,) and "target" in reg.normalization
    entries[2]["path"] = "pics/nowhere.png"
    (tmp_path / "list.json").write_text(json.dumps(entries))
    with pytest.raises(DatasetError, match="entry 3: pics/nowhere.png"):
        _load("image_list", tmp_path / "list.json", target="brightness")


def test_too_many_unreadable_images_stop_loading_with_the_list(tmp_path: Path) -> None:
    root = _folder(tmp_path, per_class=4, corrupt=True)
    with pytest.raises(DatasetError, match=r"1 of 9 images could not be read.*005b.png could not be read"):
        _load("image_folder", root)
    ds = _load("image_folder", root, max_bad_fraction=0.2)       # tolerated: skipped and counted
    assert len(ds.x_train) + len(ds.x_val) == 8 and ds.image_source.bad.count == 1


def test_missing_class_in_validation_and_empty_folder_warn(tmp_path: Path, caplog) -> None:
    root = _folder(tmp_path, per_class=6)
    (root / "empty").mkdir()
    (root / "rare").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "rare" / "only.png")
    with caplog.at_level("WARNING"):
        _load("image_folder", root, size=4)
    text = caplog.text
    assert "without images: empty" in text and "has no image of class 'rare'" in text


# --- training: memory and streamed -------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_mode_skips_a_corrupt_file_mid_epoch(tmp_path: Path, run_in_process, workers: int) -> None:
    root = _folder(tmp_path, corrupt=True)
    options = {"size": 6, "grayscale": False, "memory_budget_mb": 0, "cache": "stream", "workers": workers,
               "max_bad_fraction": 0.1}
    report, events, _ = run_in_process(_project(root, options, (3, 6, 6)))
    assert report["status"] == "completed", report
    started = of_type(events, RunStarted)[0]
    assert "streamed from disk by" in started.dataset and "'cache' is 'stream'" in started.dataset
    assert report["images"]["mode"] == "stream"
    assert report["images"]["unreadable"]["count"] == 1
    assert report["images"]["unreadable"]["first"][0].endswith("005b.png")
    assert any("005b.png" in e.message for e in of_type(events, LogMessage))


def test_small_memory_budget_forces_streaming_and_matches_memory_mode(tmp_path: Path, run_in_process) -> None:
    from engine.data.image_stream import memory_budget

    root = _folder(tmp_path)
    memory, _, _ = run_in_process(_project(root, {"size": 6, "normalization": "none"}, (1, 6, 6), epochs=1))
    ds = _load("image_folder", root, size=6, memory_budget_mb=1)
    assert ds.image_source.mode == "memory" and memory_budget(ds.image_source.options) == 1 << 20
    tiny = {"size": 2000, "normalization": "none", "memory_budget_mb": 1, "workers": 0}
    streamed_ds = _load("image_folder", root, **tiny)
    assert streamed_ds.image_source.mode == "stream" and "over the memory budget" in streamed_ds.image_source.reason
    # the same pixels through the DataLoader give the same run as the in-memory path
    streamed, events, _ = run_in_process(_project(root, {**tiny, "size": 6, "memory_budget_mb": 0,
                                                         "cache": "stream"}, (1, 6, 6), epochs=1))
    assert streamed["images"]["mode"] == "stream" and memory["images"]["mode"] == "memory"
    assert streamed["final_metrics"]["val_loss"] == pytest.approx(memory["final_metrics"]["val_loss"], rel=1e-5)


def test_cache_mode_keeps_images_after_the_first_pass(tmp_path: Path, run_in_process, monkeypatch) -> None:
    import engine.data.image_files as image_files

    monkeypatch.setattr(image_files, "PRELOAD_LIMIT", 4)
    root = _folder(tmp_path)
    report, events, _ = run_in_process(_project(root, {"size": 6, "workers": 0}, (1, 6, 6), epochs=2))
    assert report["status"] == "completed" and report["images"]["mode"] == "cache"
    one, _, _ = run_in_process(_project(root, {"size": 6, "workers": 0}, (1, 6, 6), epochs=1))
    assert one["images"]["mode"] == "stream" and "one epoch" in one["images"]["reason"]


# --- augmentation -----------------------------------------------------------------------------------------


def test_augmentation_options_are_checked_by_name() -> None:
    from engine.augment import AugmentOptions

    assert AugmentOptions.from_dict({"hflip": True, "rotation": 10}).to_dict() == {"hflip": True, "rotation": 10.0}
    with pytest.raises(DatasetError, match="no augmentation 'flip'"):
        AugmentOptions.from_dict({"flip": True})
    with pytest.raises(DatasetError, match="'rotation' must be a number from 0 to 180"):
        AugmentOptions.from_dict({"rotation": 400})


def test_augmentation_is_seeded_and_mixup_mixes_labels() -> None:
    from engine.augment import Augmenter, AugmentOptions

    opts = AugmentOptions(crop_scale=0.5, hflip=True, rotation=20, brightness=0.3, erasing=0.5, noise=0.05,
                          mixup=0.4)
    x = torch.rand(6, 3, 12, 12)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    a, ya = Augmenter(opts, (3, 12, 12), seed=7)(x, epoch=1, batch=3, y=y, num_classes=3)
    b, yb = Augmenter(opts, (3, 12, 12), seed=7)(x, epoch=1, batch=3, y=y, num_classes=3)
    c, _ = Augmenter(opts, (3, 12, 12), seed=7)(x, epoch=1, batch=4, y=y, num_classes=3)
    assert torch.equal(a, b) and torch.equal(ya, yb) and not torch.equal(a, c) and not torch.equal(a, x)
    assert ya.shape == (6, 3) and torch.allclose(ya.sum(1), torch.ones(6))


def test_augmentation_applies_to_training_batches_only(tmp_path: Path) -> None:
    from engine.image_feed import ImageFeed
    from engine.options import TrainingOptions
    from engine.recipes import make_recipe

    root = _folder(tmp_path)
    plain = _load("image_folder", root, size=6, grayscale=False)
    augmented = _load("image_folder", root, size=6, grayscale=False,
                      augment={"hflip": True, "noise": 0.2, "brightness": 0.5})
    network = _project(root, {}, (3, 6, 6)).network()
    options = TrainingOptions(epochs=2, batch_size=8, seed=3)
    feeds = [ImageFeed(ds, torch.device("cpu"), options, make_recipe(options, ds, network))
             for ds in (plain, augmented)]
    val = [torch.cat([xb for xb, _, _ in f.val_batches(4)]) for f in feeds]
    assert torch.equal(val[0], val[1])
    perm = torch.arange(feeds[0].n_train)
    train = [next(f.train_batches(perm.clone(), 8, 2, epoch=1))[0] for f in feeds]
    again = next(feeds[1].train_batches(perm.clone(), 8, 2, epoch=1))[0]
    assert not torch.equal(train[0], train[1]) and torch.equal(train[1], again)


def test_augmented_grid_for_the_panel(tmp_path: Path) -> None:
    from engine.augment import AUGMENT_SPECS, augmented_grid

    root = _folder(tmp_path)
    spec = DatasetSpec("image_folder", path=str(root), options={"size": 8, "grayscale": False})
    grid = augmented_grid(spec, {"hflip": True, "noise": 0.3}, rows=3, cols=4, seed=1)
    assert grid.shape == (3 * 8 + 2 * 2, 4 * 8 + 3 * 2, 3) and grid.dtype == np.uint8
    assert not np.array_equal(grid[:8], grid[10:18])                # rows below the first are augmented
    assert np.array_equal(grid, augmented_grid(spec, {"hflip": True, "noise": 0.3}, rows=3, cols=4, seed=1))
    assert {s.name for s in AUGMENT_SPECS} >= {"crop_scale", "hflip", "mixup", "cutmix", "erasing", "noise"}
