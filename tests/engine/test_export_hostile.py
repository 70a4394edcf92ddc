"""No text a user controls turns into code in the exported training script: not the project's or
nodes' names, not a data file's path, an .npz key, a CSV column, class or category name, an image
folder's class names, nor an option value. Each reaches the script only as data in its data block.

A handful of scripts with the worst text run end to end (one short epoch, in an empty folder); the
whole corpus is swept statically against a harmless twin (see tests/hostile_text.py).
"""

from __future__ import annotations

import ast
import csv
import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetSpec, load_dataset
from engine.export_training import export_training_script, write_training_export
from graph import NetworkBuilder, Project
from graph.naming import script_names
from tests.hostile_text import HOSTILE, LONE_SURROGATE, PWNED, assert_inert, file_safe

NAMES = [*HOSTILE, LONE_SURROGATE]


def dense_project(name: str, node_name: str, features: int, classes: int, dataset: dict,
                  frozen: str = "frozen layer") -> Project:
    """Input -> Dense (named ``node_name``, set raw as a hand-edited file could) -> Dense -> Output,
    with ``frozen`` as the name of the second Dense and a frozen node."""
    b = NetworkBuilder()
    x = b.input((features,), name="x")
    hidden = b.add("Dense", x, units=4)
    out = b.add("Dense", hidden, units=classes)
    b.output(out, name="y")
    project = b.project("project", {"dataset": dataset, "training": {
        "epochs": 1, "batch_size": 16, "frozen_nodes": [frozen], "latent_node": node_name}})
    net = project.main
    net.node(hidden).name, net.node(out).name = node_name, frozen
    net.node(net.find("y").id).name = node_name + " out"
    project.name = name
    return project


# -- .npz: path, keys ---------------------------------------------------------------------------
def npz_project(folder: Path, text: str) -> Project:
    folder = folder / file_safe(text, "dir ")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (file_safe(text) + ".npz")
    x_key, y_key = file_safe(text, "x"), file_safe(text, "y")
    rng = np.random.default_rng(0)
    np.savez(path, **{x_key: rng.normal(size=(40, 3)), y_key: np.arange(40) % 2})
    options = {"x_key": x_key, "y_key": y_key}
    return dense_project(text, text, 3, 2, {"kind": "npz", "path": str(path), "options": options})


@functools.cache
def npz_twin(folder: Path) -> str:
    return export_training_script(npz_project(folder, "harmless"))


@pytest.mark.parametrize("text", NAMES, ids=range(len(NAMES)))
def test_npz_names_paths_and_keys_stay_data(tmp_path_factory, text):
    folder = tmp_path_factory.getbasetemp() / "npz"
    project = npz_project(folder / "hostile", text)
    data = assert_inert(export_training_script(project), npz_twin(folder / "twin"))
    source = data["SOURCE"]
    assert source["x_key"] == file_safe(text, "x") and source["y_key"] == file_safe(text, "y")
    assert Path(source["path"]).name == file_safe(text) + ".npz"
    assert data["TITLE"] == text and text in data["NODE_NAMES"].values()
    assert data["OPTIONS"]["latent_node"] == text.strip()


# -- CSV: path, column names, class and category values, an excluded column -----------------------
def write_csv(path: Path, target: str, feature: str, excluded: str, labels: tuple[str, str],
              categories: tuple[str, str, str]) -> None:
    rng = np.random.default_rng(1)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["size", feature, excluded, target])
        for i in range(40):
            writer.writerow([f"{rng.normal():.3f}", categories[i % 3], f"{rng.normal():.3f}", labels[i % 2]])


def csv_project(folder: Path, text: str) -> Project:
    folder = folder / file_safe(text, "dir ")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (file_safe(text) + ".csv")
    target, feature, excluded = file_safe(text, "target "), file_safe(text, "colour "), file_safe(text, "id ")
    write_csv(path, target, feature, excluded, (file_safe(text, "yes "), file_safe(text, "no ")),
              tuple(file_safe(text, f"{c} ") for c in "abc"))
    dataset = {"kind": "csv", "path": str(path), "options": {"target": target, "exclude": [excluded]}}
    features = load_dataset(DatasetSpec.from_dict(dataset)).input_shape[0]
    return dense_project(text, text, features, 2, dataset)


@functools.cache
def csv_twin(folder: Path) -> str:
    return export_training_script(csv_project(folder, "harmless"))


CSV_NAMES = [t for t in HOSTILE if "\x00" not in t and "\r" not in t and "\n" not in t]


@pytest.mark.parametrize("text", CSV_NAMES, ids=range(len(CSV_NAMES)))
def test_csv_paths_and_column_names_stay_data(tmp_path_factory, text):
    folder = tmp_path_factory.getbasetemp() / "csv"
    project = csv_project(folder / "hostile", text)
    data = assert_inert(export_training_script(project), csv_twin(folder / "twin"))
    source = data["SOURCE"]
    assert source["target"] == file_safe(text, "target ") and source["exclude"] == [file_safe(text, "id ")]
    assert Path(source["path"]).name == file_safe(text) + ".csv"


# -- the model's class never shadows a name of the script ---------------------------------------------
def own_capitalised_names() -> list[str]:
    """Every name the training script binds or reads that a project name could become as a class
    name (class names start with a capital), read from the script itself."""
    b = NetworkBuilder()
    b.output(b.add("Dense", b.input((64,), name="x"), units=10), name="y")
    text = export_training_script(b.project("x", {"dataset": {"kind": "digits", "options": {"flat": True}}}))
    return sorted(n for n in script_names(text) if n[:1].isupper())


def test_the_scripts_own_capitalised_names_are_found():
    assert {"F", "OPTIONS", "DATASET", "SOURCE", "LOSS", "TARGETS", "FROZEN", "TITLE"} <= set(own_capitalised_names())


@pytest.mark.parametrize("name", [*own_capitalised_names(), "Ｆ", "PARTS", "NOISE_SHAPE"])
def test_a_project_named_like_the_scripts_own_names_gets_another_class_name(name):
    b = NetworkBuilder()
    b.output(b.add("Dense", b.input((64,), name="x"), units=10), name="y")
    project = b.project(name, {"dataset": {"kind": "digits", "options": {"flat": True}}})
    tree = ast.parse(export_training_script(project))
    # the model class (the script's one nn.Module; the inlined data code has classes of its own)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)
               and any(ast.unparse(base) == "nn.Module" for base in n.bases)]
    assert len(classes) == 1 and classes[0] not in script_names(export_training_script(
        b.project("Harmless", {"dataset": {"kind": "digits", "options": {"flat": True}}})))


def test_gan_parts_and_block_names_stay_data():
    from graph.templates import make_template

    def gan(text: str) -> Project:
        project = make_template("gan-mixture")
        project.settings["dataset"]["options"] = {"n_samples": 64}
        project.settings["training"]["epochs"] = 1
        for node in project.main.nodes:
            if node.spec.role == "layer":
                node.name = f"{node.name} {text}"
        project.name = text
        return project

    twin = export_training_script(gan("harmless"), arrays_file="data.npz")
    for text in (f'x"""; open("{PWNED}", "w"); """', "F", "\u2028\\", "PARTS"):
        data = assert_inert(export_training_script(gan(text), arrays_file=text + ".npz"), twin)
        assert data["SOURCE"]["file"] == text + ".npz" and data["TITLE"] == text
        assert set(data["PARTS"]) == {"generator", "discriminator"}


# -- end to end: the worst text, run -------------------------------------------------------------------
RUN_TEXT = f'x"""; open("{PWNED}", "w"); """ \\ \u2028 {{open("{PWNED}")}}'


def image_folder_project(root: Path, text: str) -> Project:
    """Images in class folders named with ``text``, inside a folder named with it."""
    from PIL import Image

    folder = root / file_safe(text, "images ")
    rng = np.random.default_rng(2)
    for label in (file_safe(text, "cat "), file_safe(text, "dog ")):
        (folder / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / label / f"{i}.png")
    dataset = {"kind": "image_folder", "path": str(folder), "options": {"size": 8, "grayscale": True}}
    shape = load_dataset(DatasetSpec.from_dict(dataset)).input_shape
    b = NetworkBuilder()
    h = b.add("Flatten", b.input(shape, name="image"))
    b.output(b.add("Dense", h, units=2, name=text), name="logits")
    return b.project(text, {"dataset": dataset, "training": {"epochs": 1, "batch_size": 4}})


def test_image_folder_and_class_names_stay_data(tmp_path):
    """The folder's name (the data set's name) and its class folders' names: the script lists the
    folder when it runs, so its path reaches the script only as a literal and the class names not at all."""
    twin = export_training_script(image_folder_project(tmp_path / "twin", "harmless"))
    for i, text in enumerate((RUN_TEXT, "'''", "\\", "F", "\u2029#")):
        project = image_folder_project(tmp_path / str(i), text)
        data = assert_inert(export_training_script(project), twin)
        assert Path(data["SOURCE"]["path"]).name == file_safe(text, "images ")
        assert data["DATASET"]["path"].endswith(file_safe(text, "images "))


def text_project(root: Path) -> Project:
    """A character language model on a text file whose folder, name and characters (its
    vocabulary) are hostile; the text kind is exported with its arrays beside the script."""
    folder = root / file_safe(RUN_TEXT, "texts ")
    folder.mkdir(parents=True)
    path = folder / (file_safe(RUN_TEXT) + ".txt")
    path.write_text((RUN_TEXT + "\n'''\\\"\u2029") * 12, encoding="utf-8")
    dataset = {"kind": "text", "path": str(path), "options": {"seq_len": 8, "stride": 4}}
    vocab = len(load_dataset(DatasetSpec.from_dict(dataset)).vocab)
    b = NetworkBuilder()
    h = b.add("Embedding", b.input((8,), dtype="int64", name="characters"), num_embeddings=vocab, embedding_dim=4)
    b.output(b.add("Dense", h, units=vocab, name=RUN_TEXT), name="next")
    return b.project("OPTIONS", {"dataset": dataset, "training": {"recipe": "language_model", "epochs": 1,
                                                                 "batch_size": 16}})


def test_the_worst_text_runs_as_data_end_to_end(tmp_path):
    """npz (the PWNED key, a project named F), CSV (a file name and columns full of quotes) and a
    text file (hostile name and characters, exported with its arrays): each script parses, trains
    one epoch in an empty folder with exit code 0, and creates no file."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    npz = npz_project(data_dir, RUN_TEXT)
    npz.name = "F"
    projects = {"npz": npz, "csv": csv_project(data_dir, RUN_TEXT.replace("\u2028", " ")),
                "text": text_project(data_dir)}
    runs, before = {}, sorted(data_dir.rglob("*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    for key, project in projects.items():
        work = tmp_path / key
        work.mkdir()
        written = write_training_export(project, work / "train.py")
        ast.parse(written[0].read_text(encoding="utf-8"))
        runs[key] = (work, {p.name for p in written}, subprocess.Popen(
            [sys.executable, "train.py", "--epochs", "1", "--device", "cpu", "--json"], cwd=work, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for key, (work, written, proc) in runs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"{key}: {err[-2000:]}"
        assert '"train_loss"' in out, key
        assert {p.name for p in work.iterdir()} == written, f"{key}: the script created a file"
    assert sorted(data_dir.rglob("*")) == before, "a script wrote next to the data"
    assert not list(tmp_path.rglob(PWNED))
