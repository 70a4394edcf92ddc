"""``python main.py train``: the same engine and run folder from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from graph import save_project
from tests.engine.conftest import moons_project

ROOT = Path(__file__).resolve().parents[2]


def train(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "train", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_train_one_epoch(tmp_path):
    save_project(moons_project(epochs=5), tmp_path / "moons.dcproj")
    result = train("moons.dcproj", "--epochs", "1", "--device", "cpu", "--run-dir", "out/run1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout and "run folder: out/run1" in result.stdout
    run_dir = tmp_path / "out" / "run1"
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epoch_lines = [line for line in lines if line.get("type") == "epoch"]
    assert len(epoch_lines) == 1
    assert {"epoch", "train_loss", "val_loss", "val_accuracy", "val_f1", "val_precision", "val_recall"} <= set(
        epoch_lines[0])
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "completed" and report["epochs_done"] == 1
    assert {"settings.json", "last.safetensors", "best.safetensors"} <= {p.name for p in run_dir.iterdir()}


def test_default_run_folder_and_json_report(tmp_path):
    save_project(moons_project(epochs=1), tmp_path / "moons.dcproj")
    result = train("moons.dcproj", "--json", "--batch-size", "16", "--lr", "0.01", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    run_dir = Path(report["run_dir"])
    assert run_dir.parent == Path("runs") and (tmp_path / run_dir / "report.json").exists()
    settings = json.loads((tmp_path / run_dir / "settings.json").read_text())
    assert settings["training"]["batch_size"] == 16 and settings["training"]["lr"] == 0.01


def test_failures_exit_1_with_the_message(tmp_path):
    project = moons_project(classes=3)
    save_project(project, tmp_path / "bad.dcproj")
    result = train("bad.dcproj", "--run-dir", "r", cwd=tmp_path)
    assert result.returncode == 1
    assert "error: Output 'logits' gives 3 scores per sample" in result.stderr
    assert json.loads((tmp_path / "r" / "report.json").read_text())["error"]["kind"] == "shape"
    if not torch.cuda.is_available():
        save_project(moons_project(), tmp_path / "ok.dcproj")
        result = train("ok.dcproj", "--device", "cuda", "--run-dir", "r2", cwd=tmp_path)
        assert result.returncode == 1 and "CUDA was chosen" in result.stderr
