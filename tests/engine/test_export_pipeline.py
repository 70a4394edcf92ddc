"""One pipeline for the app and the exported script: for a user's image folder (with and without
augmentation), a CSV table with numeric, text, true/false and missing cells, and a text CSV, the
script's first epoch gives the engine's first-epoch losses. The script runs in a subprocess with
one thread, as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.export_training import write_training_export
from graph import NetworkBuilder, Project


def run_script(path: Path) -> dict:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, path.name, "--epochs", "1", "--device", "cpu", "--json"],
                            capture_output=True, text=True, timeout=180, cwd=path.parent, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")][0]


def engine_first_epoch(run_in_process, project: Project, base_dir: str | None = None) -> dict:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        report, _, _ = run_in_process(project, base_dir=base_dir, overrides={"epochs": 1})
    finally:
        torch.set_num_threads(threads)
    assert report["status"] == "completed", report
    return report["final_metrics"]


def assert_same_first_epoch(script: dict, engine: dict) -> None:
    for key in ("train_loss", "val_loss"):
        assert script[key] == pytest.approx(engine[key], rel=1e-6, abs=1e-8), key
    if "val_accuracy" in engine:
        assert script["val_accuracy"] == pytest.approx(engine["val_accuracy"])


def image_folder(root: Path) -> Path:
    """60 small PNGs of three sizes in three class folders, each class with its own colour."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog", "fox"]):
        (root / name).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 256, (12 + i % 3, 10 + i % 4, 3), dtype=np.uint8)
            pixels[..., c] = 220
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def image_project(root: Path, **options) -> Project:
    b = NetworkBuilder()
    h = b.chain(b.input((3, 8, 8), name="image"), ("Conv2d", {"filters": 4, "kernel_size": 3}), "ReLU",
                "Flatten", ("Dense", {"units": 3}))
    b.output(h, name="logits")
    dataset = {"kind": "image_folder", "path": str(root), "seed": 3,
               "options": {"size": [8, 8], "grayscale": False, "resize": "crop", **options}}
    return b.project("photos", {"dataset": dataset, "training": {"epochs": 1, "batch_size": 8, "seed": 11}})


@pytest.mark.parametrize("augment", [{}, {"hflip": True, "rotation": 15.0, "brightness": 0.2, "mixup": 0.4}],
                         ids=["plain", "augmented"])
def test_image_folder_script_matches_the_engine(tmp_path, run_in_process, augment):
    root = image_folder(tmp_path / "images")
    project = image_project(root, augment=augment, normalization="per_channel")
    (tmp_path / "out").mkdir()
    files = write_training_export(project, tmp_path / "out" / "train.py")
    assert [f.name for f in files] == ["train.py"]          # the images are read where they are
    text = files[0].read_text()
    assert "def decode_image(" in text and "class ImageBatches" in text   # the engine's own code
    assert_same_first_epoch(run_script(files[0]), engine_first_epoch(run_in_process, project))


def test_image_list_script_matches_the_engine(tmp_path, run_in_process):
    root = image_folder(tmp_path / "images")
    rows = ["file,label"] + [f"{p.relative_to(root).as_posix()},{p.parent.name}" for p in sorted(root.rglob("*.png"))]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    project = image_project(root)
    project.settings["dataset"].update(kind="image_list", path=str(root / "labels.csv"))
    project.settings["dataset"]["options"]["target"] = "label"
    files = write_training_export(project, tmp_path / "train.py")
    assert [f.name for f in files] == ["train.py", "train_images.json"]
    assert_same_first_epoch(run_script(files[0]), engine_first_epoch(run_in_process, project))


def table_project(tmp_path: Path) -> Project:
    """Numbers with gaps, a text column with gaps, a true/false column and a class target named 'kind'."""
    rng = np.random.default_rng(2)
    rows = ["height,colour,indoor,weight,kind"]
    for i in range(90):
        colour = ["red", "green", "", "blue"][i % 4]
        weight = "" if i % 9 == 0 else f"{rng.normal(50, 10):.2f}"
        indoor = ["true", "false", "True", ""][i % 4]
        rows.append(f"{rng.normal(170, 8):.1f},{colour},{indoor},{weight},{['a', 'b', 'c'][i % 3]}")
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    b = NetworkBuilder()
    from engine.data import DatasetSpec, load_dataset

    features = load_dataset(DatasetSpec("csv", str(tmp_path / "table.csv"), {"target": "kind"})).input_shape
    h = b.chain(b.input(features, name="row"), ("Dense", {"units": 8}), "ReLU", ("Dense", {"units": 3}))
    b.output(h, name="kind")
    return b.project("table", {"dataset": {"kind": "csv", "path": "table.csv", "options": {"target": "kind"}},
                               "training": {"epochs": 1, "batch_size": 16}})


def test_csv_script_matches_the_engine(tmp_path, run_in_process):
    project = table_project(tmp_path)
    files = write_training_export(project, tmp_path / "train.py", base_dir=str(tmp_path))
    assert "def encode_table(" in files[0].read_text()
    assert_same_first_epoch(run_script(files[0]), engine_first_epoch(run_in_process, project, str(tmp_path)))


def test_text_csv_script_matches_the_engine(tmp_path, run_in_process):
    """Text is tokenised by the app (the vocabulary is learned with tokenizers) and the token ids
    travel beside the script, so the script needs no tokenizer and trains on the same ids."""
    words = {0: ["good", "great", "fine", "nice"], 1: ["bad", "awful", "poor", "sad"]}
    rng = np.random.default_rng(4)
    rows = ["text,label"] + [" ".join(rng.choice(words[i % 2], 5)) + f",{['neg', 'pos'][i % 2]}" for i in range(60)]
    (tmp_path / "reviews.csv").write_text("\n".join(rows) + "\n")
    b = NetworkBuilder()
    h = b.chain(b.input((8,), dtype="int64", name="tokens"), ("Embedding", {"num_embeddings": 64,
                                                                            "embedding_dim": 4}),
                "Flatten", ("Dense", {"units": 2}))
    b.output(h, name="label")
    project = b.project("reviews", {"dataset": {"kind": "text_csv", "path": str(tmp_path / "reviews.csv"),
                                                "options": {"max_length": 8, "vocab_size": 64}},
                                    "training": {"epochs": 1, "batch_size": 16}})
    files = write_training_export(project, tmp_path / "train.py")
    assert [f.name for f in files] == ["train.py", "train_data.npz"]
    assert_same_first_epoch(run_script(files[0]), engine_first_epoch(run_in_process, project))
