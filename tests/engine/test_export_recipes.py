"""The exported training script of each new recipe runs with no edits and trains the way the app does
(the GAN's script is tested with the GAN in test_recipes_gan.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.export_training import write_training_export
from graph.templates import make_template
from tests.engine.test_recipes_generative import autoencoder_project


def run_script(path, *args: str, torchrun: bool = False) -> list[dict]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"] if torchrun \
        else [sys.executable]
    result = subprocess.run([*launcher, str(path), "--json", *args], capture_output=True, text=True, timeout=180,
                            cwd=path.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_autoencoder_script_reproduces_the_engine_run(tmp_path, run_in_process):
    project = autoencoder_project(epochs=1, frozen_nodes=["dense_1"])
    path = tmp_path / "train_ae.py"
    write_training_export(project, path)
    lines = run_script(path)
    report, _, _ = run_in_process(autoencoder_project(epochs=1, frozen_nodes=["dense_1"]))
    engine = report["final_metrics"]
    assert set(lines[0]) >= {"train_loss", "val_loss", "val_reconstruction_error"}
    for key in ("train_loss", "val_loss", "val_reconstruction_error"):
        assert lines[0][key] == pytest.approx(engine[key], rel=1e-5), key


def test_language_model_script_trains(tmp_path):
    project = make_template("char-lm")
    project.settings["dataset"]["options"] = {"seq_len": 64, "stride": 40}
    project.settings["training"]["frozen_nodes"] = ["embedding_1"]
    path = tmp_path / "train_lm.py"
    written = write_training_export(project, path)
    assert len(written) == 2              # the text's windows travel as arrays beside the script
    assert "FROZEN = ['embedding_1']" in path.read_text()
    lines = run_script(path, "--epochs", "1")
    assert 0 < lines[0]["val_accuracy"] < 1 and lines[0]["val_perplexity"] > 1


def test_autoencoder_script_runs_data_parallel(tmp_path):
    path = tmp_path / "train_ae.py"
    write_training_export(autoencoder_project(epochs=1, frozen_nodes=["code"]), path)
    lines = run_script(path, torchrun=True)
    assert len(lines) == 1 and lines[0]["val_reconstruction_error"] > 0
