"""Training in this process: the run folder, the metrics, every option, and faults that end with a
clear message (NaN loss, shapes, data files, memory) while keeping what was saved."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from engine.events import EpochMetrics, LogMessage, RunError, RunFinished, RunStarted, StepMetrics
from graph import NetworkBuilder
from tests.engine.conftest import diabetes_project, digits_mlp_project, moons_project, of_type

EPOCH_KEYS = {"epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_precision", "val_recall",
              "val_f1", "val_confusion", "lr", "samples_per_sec", "grad_norm", "grad_norms"}


def test_one_epoch_writes_the_run_folder(run_in_process):
    report, events, run_dir = run_in_process(digits_mlp_project(epochs=1))
    assert report["status"] == "completed", report
    assert {p.name for p in run_dir.iterdir()} >= {"settings.json", "metrics.jsonl", "last.safetensors",
                                                  "best.safetensors", "report.json"}
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [line for line in lines if line["type"] == "epoch"]
    assert len(epochs) == 1 and EPOCH_KEYS <= set(epochs[0])
    assert epochs[0]["epoch"] == 1 and 0.3 < epochs[0]["val_accuracy"] <= 1.0
    assert np.array(epochs[0]["val_confusion"]).sum() == 360
    assert set(epochs[0]["grad_norms"]) == {"dense_1", "dense_2"}
    assert any(line["type"] == "step" and "loss" in line for line in lines)
    settings = json.loads((run_dir / "settings.json").read_text())
    assert settings["training"]["epochs"] == 1 and settings["dataset"]["kind"] == "digits"
    assert settings["project"]["networks"][0]["name"] == "main"
    saved = json.loads((run_dir / "report.json").read_text())
    assert saved["status"] == "completed" and saved["epochs_done"] == 1
    assert saved["final_metrics"]["val_accuracy"] == epochs[0]["val_accuracy"]
    # event order: started, then metrics, finished last
    kinds = [type(e) for e in events]
    assert kinds.index(RunStarted) < kinds.index(StepMetrics) < kinds.index(EpochMetrics)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    started = of_type(events, RunStarted)[0]
    assert started.layers == {"dense_1": "n3", "dense_2": "n5"}
    assert started.steps_per_epoch == math.ceil(1437 / 64)


def test_same_seed_same_run(run_in_process):
    first, _, _ = run_in_process(moons_project(epochs=2))
    second, _, _ = run_in_process(moons_project(epochs=2))
    assert first["final_metrics"]["val_loss"] == second["final_metrics"]["val_loss"]
    third, _, _ = run_in_process(moons_project(epochs=2, seed=3))
    assert third["final_metrics"]["val_loss"] != first["final_metrics"]["val_loss"]


def test_regression_metrics_in_data_units(run_in_process):
    report, events, _ = run_in_process(diabetes_project(epochs=3, lr=0.01))
    assert report["status"] == "completed", report
    metrics = of_type(events, EpochMetrics)[-1].metrics
    assert {"val_mse", "val_mae", "val_r2", "train_loss", "val_loss"} <= set(metrics)
    assert "val_accuracy" not in metrics
    # the target (disease progression, ~25..346) is normalised for training; MAE is reported in its units
    assert 20 < metrics["val_mae"] < 150 and metrics["val_r2"] > 0


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("schedule", ["none", "step", "cosine", "one_cycle", "plateau"])
def test_every_optimizer_and_schedule_trains(run_in_process, optimizer, schedule):
    report, events, _ = run_in_process(moons_project(epochs=2, n_samples=100, optimizer=optimizer,
                                                     schedule=schedule, lr=0.05, step_size=1, gamma=0.5,
                                                     grad_clip=1.0, weight_decay=1e-4))
    assert report["status"] == "completed", report
    lrs = [e.metrics["lr"] for e in of_type(events, EpochMetrics)]
    if schedule == "step":
        assert lrs == pytest.approx([0.05, 0.025])   # the rate used during each epoch
    if schedule == "none":
        assert lrs == [0.05, 0.05]


@pytest.mark.parametrize("loss, units", [("cross_entropy", 2), ("bce", 2), ("bce", 1)])
def test_classification_losses(run_in_process, loss, units):
    report, events, _ = run_in_process(moons_project(units=8, classes=units, epochs=3, loss=loss, lr=0.05,
                                                     label_smoothing=0.1 if loss == "cross_entropy" else 0.0))
    assert report["status"] == "completed", report
    assert of_type(events, EpochMetrics)[-1].metrics["val_accuracy"] > 0.6


@pytest.mark.parametrize("loss", ["mse", "l1", "huber"])
def test_regression_losses(run_in_process, loss):
    report, _, _ = run_in_process(diabetes_project(epochs=1, loss=loss))
    assert report["status"] == "completed", report


def test_tokens_per_position(run_in_process):
    """Sequence-to-sequence token targets train as classification at every position."""
    b = NetworkBuilder()
    x = b.input((6,), dtype="int64", name="tokens")
    h = b.chain(x, ("Embedding", {"num_embeddings": 5, "embedding_dim": 8}), ("Dense", {"units": 5}))
    b.output(h, name="logits")
    project = b.project("copy", {"dataset": {"kind": "sequence_copy",
                                             "options": {"n_samples": 200, "seq_len": 6, "vocab_size": 5}},
                                 "training": {"epochs": 3, "lr": 0.05}})
    report, events, _ = run_in_process(project)
    assert report["status"] == "completed", report
    metrics = of_type(events, EpochMetrics)[-1].metrics
    assert metrics["val_accuracy"] > 0.6 and len(metrics["val_confusion"]) == 5


def test_early_stopping_and_best_epoch(run_in_process):
    report, events, _ = run_in_process(moons_project(epochs=10, early_stopping=2, min_delta=1e9))
    assert report["status"] == "completed" and report["reason"] == "early_stopping"
    assert report["epochs_done"] == 3 and report["best_epoch"] == 1
    assert [e.is_best for e in of_type(events, EpochMetrics)] == [True, False, False]


def test_nan_loss_stops_and_names_the_step(run_in_process):
    report, events, run_dir = run_in_process(moons_project(epochs=3, lr=1e6, optimizer="sgd"))
    assert report["status"] == "failed"
    error = of_type(events, RunError)[0]
    assert error.kind == "nan" and error.step is not None and error.step >= 1
    assert f"step {error.step}" in error.message and "learning rate" in error.message
    assert "1e+06" in error.message
    assert report["error"]["step"] == error.step
    assert isinstance(events[-1], RunFinished) and events[-1].status == "failed"
    assert json.loads((run_dir / "report.json").read_text())["error"]["kind"] == "nan"


def test_nan_after_good_epochs_keeps_their_weights(run_in_process):
    """A NaN mid-run never overwrites the weights of the last good epoch."""
    import engine.loop as loop

    original = loop.Trainer._end_epoch

    def poison_after_first(self, epoch, started):
        metrics = original(self, epoch, started)
        if epoch == 1:
            for p in self.model.parameters():
                p.data.fill_(float("nan"))
        return metrics

    loop.Trainer._end_epoch = poison_after_first
    try:
        report, events, run_dir = run_in_process(moons_project(epochs=3))
    finally:
        loop.Trainer._end_epoch = original
    assert report["status"] == "failed" and report["error"]["kind"] == "nan"
    from engine.runs import load_run_weights

    weights = load_run_weights(run_dir, "last")
    assert all(torch.isfinite(t).all() for t in weights.values())
    assert "weights of the last good epoch are kept" in of_type(events, RunError)[0].message


def test_input_shape_mismatch_is_found_before_training(run_in_process):
    b = NetworkBuilder()
    x = b.input((64,), name="pixels")
    b.output(b.chain(x, ("Dense", {"units": 10})), name="logits")
    report, events, _ = run_in_process(b.project("wrong", {"dataset": {"kind": "digits"}}))
    error = of_type(events, RunError)[0]
    assert error.kind == "shape" and error.node == "n1"
    assert "Input 'pixels'" in error.message and "1×8×8" in error.message
    assert not of_type(events, StepMetrics)


def test_output_width_mismatch_names_the_dense(run_in_process):
    report, events, _ = run_in_process(moons_project(classes=3))
    error = of_type(events, RunError)[0]
    assert error.kind == "shape" and error.node == "n4"
    assert "2 classes" in error.message and "set the units of Dense 'dense_2' to 2" in error.message


def test_recipe_mismatch_says_what_to_set(run_in_process):
    report, events, _ = run_in_process(diabetes_project(recipe="classification"))
    error = of_type(events, RunError)[0]
    assert error.kind == "options" and "set the task to regression" in error.message


def test_regression_output_width(run_in_process):
    b = NetworkBuilder()
    x = b.input((10,), name="features")
    b.output(b.chain(x, ("Dense", {"units": 3})), name="out")
    report, events, _ = run_in_process(b.project("r", {"dataset": {"kind": "diabetes"},
                                                       "training": {"recipe": "regression"}}))
    error = of_type(events, RunError)[0]
    assert "one number per sample" in error.message and "to 1" in error.message


def test_runtime_failure_names_the_node(run_in_process):
    """Token ids beyond an Embedding's size pass shape inference but fail on real data. (An Embedding
    fed straight by the Input is checked against the data's vocabulary before training; behind a
    Reshape it is not, so the failure happens in the first step and is traced to the node.)"""
    b = NetworkBuilder()
    x = b.input((8,), dtype="int64", name="tokens")
    h = b.chain(x, ("Reshape", {"shape": (8,)}), ("Embedding", {"num_embeddings": 3, "embedding_dim": 4}),
                ("SequencePool", {"mode": "mean"}), ("Dense", {"units": 4}))
    b.output(h, name="logits")
    project = b.project("emb", {"dataset": {"kind": "sequence_majority",
                                            "options": {"n_samples": 100, "seq_len": 8, "vocab_size": 4}}})
    report, events, _ = run_in_process(project)
    error = of_type(events, RunError)[0]
    assert error.kind == "shape" and error.node == "n3" and error.step == 1
    assert error.message.startswith("Embedding 'embedding_1' failed on the data at step 1")


def test_an_embedding_too_small_for_the_data_is_refused_before_training(run_in_process):
    b = NetworkBuilder()
    x = b.input((8,), dtype="int64", name="tokens")
    h = b.chain(x, ("Embedding", {"num_embeddings": 3, "embedding_dim": 4}), ("SequencePool", {"mode": "mean"}),
                ("Dense", {"units": 4}))
    b.output(h, name="logits")
    project = b.project("emb", {"dataset": {"kind": "sequence_majority",
                                            "options": {"n_samples": 100, "seq_len": 8, "vocab_size": 4}}})
    report, events, _ = run_in_process(project)
    error = of_type(events, RunError)[0]
    assert error.kind == "shape" and error.node == "n2" and error.step is None
    assert error.message == ("Embedding 'embedding_1' has vectors for 3 token ids but the data set "
                             "'sequence_majority' holds ids 0 to 3: set its num_embeddings to 4.")


def test_missing_and_corrupt_data_files(run_in_process, tmp_path):
    b = NetworkBuilder()
    x = b.input((3,), name="x")
    b.output(b.chain(x, ("Dense", {"units": 2})), name="y")
    project = b.project("npz", {"dataset": {"kind": "npz", "path": "data/missing.npz"}})
    report, events, _ = run_in_process(project, base_dir=str(tmp_path))
    error = of_type(events, RunError)[0]
    assert error.kind == "data" and "missing.npz" in error.message and "does not exist" in error.message
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "missing.npz").write_bytes(b"PK\x03\x04 definitely not a zip")
    report, events, run_dir = run_in_process(project, base_dir=str(tmp_path))
    error = of_type(events, RunError)[0]
    assert error.kind == "data" and "damaged" in error.message
    assert json.loads((run_dir / "report.json").read_text())["status"] == "failed"


def test_relative_data_paths_are_read_beside_the_project(run_in_process, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    np.savez(tmp_path / "points.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    b = NetworkBuilder()
    inp = b.input((3,), name="x")
    b.output(b.chain(inp, ("Dense", {"units": 2})), name="y")
    report, _, _ = run_in_process(b.project("npz", {"dataset": {"kind": "npz", "path": "points.npz"}}),
                                  base_dir=str(tmp_path))
    assert report["status"] == "completed", report


def test_out_of_memory_suggests_a_smaller_batch(run_in_process, monkeypatch):
    from graph.compiler import CompiledNetwork

    def explode(self, *inputs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(CompiledNetwork, "forward", explode)
    report, events, _ = run_in_process(moons_project(batch_size=64))
    error = of_type(events, RunError)[0]
    assert error.kind == "oom" and "batch size 64" in error.message and "(e.g. to 32)" in error.message


def test_unexpected_errors_are_reported_not_raised(run_in_process, monkeypatch):
    import engine.loop as loop

    def broken(self):
        raise KeyError("surprise")

    monkeypatch.setattr(loop.Trainer, "evaluate", broken)
    report, events, _ = run_in_process(moons_project())
    error = of_type(events, RunError)[0]
    assert error.kind == "internal" and "surprise" in error.message and "Traceback" in error.details
    assert report["status"] == "failed"


def test_softmax_before_output_warns(run_in_process):
    b = NetworkBuilder()
    x = b.input((2,), name="xy")
    b.output(b.chain(x, ("Dense", {"units": 2}), "Softmax"), name="p")
    _, events, _ = run_in_process(b.project("s", {"dataset": {"kind": "moons", "options": {"n_samples": 100}},
                                                  "training": {"epochs": 1}}))
    assert any("Softmax" in e.message and "logits" in e.message for e in of_type(events, LogMessage))


def test_unavailable_device_is_an_error(run_in_process):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    report, events, _ = run_in_process(moons_project(device="cuda"))
    error = of_type(events, RunError)[0]
    assert error.kind == "device" and "set the device to auto or cpu" in error.message


def test_stop_and_pause_in_process():
    """The loop reads the control at step boundaries: pausing holds it, stopping ends it cleanly."""
    import threading
    import time

    from engine.data import DatasetSpec, load_dataset
    from engine.loop import Control, Trainer
    from engine.options import TrainingOptions
    from engine.recipes import make_recipe
    from graph import compile_network

    project = moons_project(epochs=10_000)
    options = TrainingOptions.from_dict(project.settings["training"])
    dataset = load_dataset(DatasetSpec.from_dict(project.settings["dataset"]))
    control = Control()
    events = []
    trainer = Trainer(compile_network(project), dataset, options, make_recipe(options, dataset, project.main),
                      torch.device("cpu"), events.append, control, report_interval=0.02)
    def wait_for(condition, timeout=10.0):
        end = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < end, "timed out"
            time.sleep(0.01)

    thread = threading.Thread(target=lambda: events.append(trainer.run()))
    thread.start()
    wait_for(lambda: trainer.step > 5)
    control.pause()
    wait_for(lambda: any(getattr(e, "status", "") == "paused" for e in events))
    paused_at = trainer.step
    time.sleep(0.3)
    assert trainer.step == paused_at
    control.resume()
    wait_for(lambda: trainer.step > paused_at)
    control.stop()
    thread.join(5)
    result = events[-1]
    assert result.status == "stopped" and result.reason == "user"
    statuses = [e.status for e in events if hasattr(e, "status") and not hasattr(e, "reason")]
    assert statuses[:3] == ["paused", "running", "stopping"]


def test_stop_before_training_starts(run_in_process):
    from engine.control import Control

    control = Control()
    control.stop()
    report, events, run_dir = run_in_process(moons_project(epochs=50), control=control)
    assert report["status"] == "stopped" and report["epochs_done"] == 0 and report["steps"] == 0
    assert not of_type(events, StepMetrics)
    assert (run_dir / "last.safetensors").exists()


@pytest.mark.parametrize("norms, words", [((1.0, {"dense_1": 1e-9, "dense_2": 1.0}), "vanish in dense_1"),
                                          ((1e6, {"dense_1": 1e5, "dense_2": 1e6}), "exploding")])
def test_gradient_health_warnings(run_in_process, monkeypatch, norms, words):
    from engine.metrics import GradNorms

    monkeypatch.setattr(GradNorms, "read", lambda self, scale=1.0: norms)
    _, events, _ = run_in_process(moons_project(epochs=3))
    warnings = [e.message for e in of_type(events, LogMessage) if "gradients" in e.message]
    assert len(warnings) == 1 and words in warnings[0]
