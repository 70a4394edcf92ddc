"""Past runs: listed, reopened with their curves, and their weights loaded back into the network."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import torch

from engine.errors import TrainingError
from engine.runs import list_runs, load_run, load_run_weights, load_weights_into, new_run_dir, read_metrics
from graph import compile_network
from tests.engine.conftest import moons_project


@pytest.fixture
def finished_run(run_in_process):
    project = moons_project(epochs=4, lr=0.02)
    report, events, run_dir = run_in_process(project)
    assert report["status"] == "completed"
    return project, report, run_dir


def test_load_run_gives_the_curves_back(finished_run):
    project, report, run_dir = finished_run
    run = load_run(run_dir)
    assert run.status == "completed" and len(run.epochs) == 4
    x, y = run.curve("val_accuracy")
    assert x == [1.0, 2.0, 3.0, 4.0] and all(0 <= v <= 1 for v in y)
    steps_x, losses = run.curve("loss")
    assert steps_x and steps_x == sorted(steps_x) and steps_x[-1] <= 4.0
    assert {"train_loss", "val_loss", "val_f1", "lr"} <= set(run.metric_names())
    assert run.project().main.find("logits").type_id == "Output"


def test_weights_load_back_into_the_compiled_network(finished_run):
    project, report, run_dir = finished_run
    model = compile_network(project, seed=123)
    state = load_run_weights(run_dir, "best")
    load_weights_into(model, state)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    # the best weights reproduce the best epoch's validation accuracy
    from engine.data import DatasetSpec, load_dataset

    data = load_dataset(DatasetSpec.from_dict(project.settings["dataset"]))
    with torch.no_grad():
        pred = model.eval()(torch.from_numpy(data.x_val)).argmax(1).numpy()
    accuracy = float((pred == data.y_val).mean())
    best = next(e for e in load_run(run_dir).epochs if e["epoch"] == report["best_epoch"])
    assert accuracy == pytest.approx(best["val_accuracy"])


def test_weights_that_no_longer_fit_say_why(finished_run):
    project, _, run_dir = finished_run
    project.main.set_param(project.main.find("dense_1").id, "units", 7)
    with pytest.raises(TrainingError, match="changed size.*dense_1.weight"):
        load_weights_into(compile_network(project), load_run_weights(run_dir, "last"))


def test_list_runs_newest_first(tmp_path):
    assert list_runs(tmp_path / "nothing.dcproj") == []
    root = tmp_path / "proj"
    older = new_run_dir(root / "runs", "moons", now=datetime(2025, 1, 1, 12, 0, 0))
    newer = new_run_dir(root / "runs", "moons", now=datetime(2025, 1, 2, 12, 0, 0))
    for path, started in ((older, "2025-01-01T12:00:00"), (newer, "2025-01-02T12:00:00")):
        (path / "settings.json").write_text(json.dumps({"format": "deepcanvas-run", "started": started,
                                                        "project_name": "Moons", "dataset": {"kind": "moons"}}))
    (newer / "report.json").write_text(json.dumps({"status": "completed", "epochs_done": 3,
                                                   "final_metrics": {"val_accuracy": 0.9}}))
    runs = list_runs(root / "net.dcproj")
    assert [r.path for r in runs] == [newer, older]
    assert runs[0].status == "completed" and runs[0].summary["val_accuracy"] == 0.9
    assert runs[1].status == "incomplete" and runs[1].dataset == "moons"
    assert list_runs(root, project="Other") == []
    assert older.name == "20250101-120000-moons"
    assert new_run_dir(root / "runs", "moons", now=datetime(2025, 1, 1, 12, 0, 0)).name.endswith("-moons-2")


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"type": "epoch", "epoch": 1, "val_loss": 0.5}\n{"type": "epo')
    epochs, steps = read_metrics(tmp_path / "metrics.jsonl")
    assert epochs == [{"type": "epoch", "epoch": 1, "val_loss": 0.5}] and steps == []


def test_missing_or_damaged_weights(tmp_path):
    with pytest.raises(TrainingError, match="saved no weights"):
        load_run_weights(tmp_path, "best")
    (tmp_path / "last.safetensors").write_bytes(b"garbage")
    with pytest.raises(TrainingError, match="damaged"):
        load_run_weights(tmp_path, "best")
    with pytest.raises(TrainingError, match="not a run folder"):
        load_run(tmp_path)
