"""The text-classifier template learns the generated sentiment task, trains from a CSV of texts
through ``python main.py train``, exports a script that runs, and an Embedding too small for the
learned vocabulary is refused before training with a message naming it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from engine.data.sentiment import generate_sentiment
from engine.export_training import write_training_export
from graph import save_project
from graph.templates import make_template

ROOT = Path(__file__).resolve().parents[2]


def sentiment_csv(path: Path, n: int, seed: int = 0) -> Path:
    texts, labels = generate_sentiment(n, seed)
    pd.DataFrame({"review": texts, "mood": labels}).to_csv(path, index=False)
    return path


def csv_project(path: str, epochs: int = 1):
    project = make_template("text-classifier")
    project.settings["dataset"] = {"kind": "text_csv", "path": path,
                                   "options": {"text_column": "review", "label_column": "mood"}}
    project.settings["training"]["epochs"] = epochs
    return project


def test_template_learns_the_sentiment_task_in_a_short_run(run_in_process):
    project = make_template("text-classifier")
    project.settings["dataset"]["options"] = {"n_samples": 1500}
    project.settings["training"]["epochs"] = 5
    report, _, _ = run_in_process(project)
    assert report["status"] == "completed", report
    # the full run (3000 reviews, 8 epochs) is held to 95% by bench/template_quality.py
    assert report["final_metrics"]["val_accuracy"] >= 0.9


def test_cli_trains_from_a_csv_of_texts(tmp_path):
    sentiment_csv(tmp_path / "reviews.csv", 300)
    save_project(csv_project("reviews.csv"), tmp_path / "text.dcproj")
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "text.dcproj", "--json",
                             "--device", "cpu", "--run-dir", "run"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "completed" and report["epochs_done"] == 1
    assert report["dataset"] == "reviews.csv: 240 train / 60 val, input 32 int64, 2 classes"
    settings = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert settings["class_names"] == ["negative", "positive"]


def test_exported_script_trains_on_the_text_data(tmp_path):
    csv = sentiment_csv(tmp_path / "reviews.csv", 200)
    files = write_training_export(csv_project(str(csv)), tmp_path / "train_text.py")
    assert [f.name for f in files] == ["train_text.py", "train_text_data.npz"]
    result = subprocess.run([sys.executable, str(tmp_path / "train_text.py"), "--json", "--epochs", "1"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines[-1]["epoch"] == 1 and 0.0 <= lines[-1]["val_accuracy"] <= 1.0


def test_an_embedding_smaller_than_the_vocabulary_is_named_before_training(run_in_process):
    project = make_template("text-classifier")
    project.settings["dataset"]["options"] = {"n_samples": 100}
    network = project.main
    embedding = next(n for n in network.nodes if n.type_id == "Embedding")
    network.set_param(embedding.id, "num_embeddings", 20)
    report, _, _ = run_in_process(project)
    assert report["status"] == "failed"
    error = report["error"]
    assert error["kind"] == "shape" and error["node"] == embedding.id
    assert f"Embedding '{embedding.name}' has vectors for 20 token ids" in error["message"]
    assert "set its num_embeddings to" in error["message"] and "'vocab_size' option to 20" in error["message"]
