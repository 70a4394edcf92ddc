"""The autoencoder, the language model, forecasting previews and frozen nodes, trained for an epoch or
two on small data: each recipe trains, reports its metrics, sends the previews the panel draws and
keeps them in the run folder; bad settings end with a sentence that names what to change."""

from __future__ import annotations

import json

import pytest
import torch

from engine.events import EpochMetrics, PreviewSamples, RunError
from engine.runs import load_run, load_run_weights
from graph import NetworkBuilder
from graph.templates import make_template
from tests.engine.conftest import digits_mlp_project, of_type


def autoencoder_project(latent: int = 2, epochs: int = 2, **training) -> object:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    h = b.chain(x, "Flatten", ("Dense", {"units": 32}), "ReLU")
    code = b.add("Dense", h, name="code", units=latent)
    h = b.chain(code, ("Dense", {"units": 32}), "ReLU", ("Dense", {"units": 64}), ("Reshape", {"shape": (1, 8, 8)}))
    b.output(h, name="reconstruction")
    return b.project("AE test", {"dataset": {"kind": "digits"},
                                 "training": {"recipe": "autoencoder", "epochs": epochs, "batch_size": 64,
                                              "lr": 3e-3, **training}})


def previews_of(events, kind):
    return [e for e in of_type(events, PreviewSamples) if e.kind == kind]


def test_autoencoder_learns_and_previews_reconstructions_and_latent(run_in_process):
    report, events, run_dir = run_in_process(autoencoder_project(epochs=3))
    assert report["status"] == "completed", report
    epochs = [e.metrics for e in of_type(events, EpochMetrics)]
    assert {"val_loss", "val_reconstruction_error", "train_loss"} <= set(epochs[0])
    assert "val_accuracy" not in epochs[0]
    # the error is in pixel units (digits go 0..16): it falls as the network learns
    assert epochs[-1]["val_reconstruction_error"] < epochs[0]["val_reconstruction_error"] < 40
    recon = previews_of(events, "reconstruction")
    assert [p.epoch for p in recon] == [1, 2, 3]
    data = recon[-1].data
    assert data["image_shape"] == [1, 8, 8] and len(data["inputs"]) == len(data["outputs"]) == 8
    assert len(data["inputs"][0][0]) == 8 and max(max(max(row) for row in s[0]) for s in data["inputs"]) > 8
    # the narrowest node ("code", 2 values) is picked as the latent and plotted with the digit labels
    latent = previews_of(events, "latent")[-1].data
    assert len(latent["points"]) == 360 and len(latent["points"][0]) == 2
    assert len(latent["labels"]) == 360 and set(latent["labels"]) == set(range(10))
    assert latent["class_names"][:2] == ["0", "1"]
    # the run folder keeps the latest preview of each kind
    saved = load_run(run_dir).previews()
    assert set(saved) == {"reconstruction", "latent"} and saved["latent"]["epoch"] == 3
    assert saved["reconstruction"]["data"] == json.loads(json.dumps(data))


def test_autoencoder_without_a_2d_code_sends_no_latent_plot(run_in_process):
    report, events, _ = run_in_process(autoencoder_project(latent=8, epochs=1))
    assert report["status"] == "completed", report
    assert previews_of(events, "reconstruction") and not previews_of(events, "latent")


def test_autoencoder_errors_name_the_fix(run_in_process):
    project = autoencoder_project(epochs=1, latent_node="nowhere")
    report, events, _ = run_in_process(project)
    message = of_type(events, RunError)[0].message
    assert report["status"] == "failed" and "'latent_node'" in message and "'nowhere'" in message
    assert "'code'" in message                       # it lists the nodes to pick from
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    b.output(b.chain(x, "Flatten", ("Dense", {"units": 10})), name="out")
    project = b.project("bad AE", {"dataset": {"kind": "digits"}, "training": {"recipe": "autoencoder"}})
    report, events, _ = run_in_process(project)
    message = of_type(events, RunError)[0].message
    assert "autoencoder gives back its input" in message and "1×8×8" in message and "Reshape" in message


def test_language_model_trains_and_samples_text(run_in_process, tmp_path):
    text = tmp_path / "poem.txt"
    text.write_text("the cat sat on the mat. the dog sat on the log. " * 20, encoding="utf-8")
    vocab = len(set(text.read_text()))
    b = NetworkBuilder()
    x = b.input((16,), dtype="int64", name="chars")
    h = b.chain(x, ("Embedding", {"num_embeddings": vocab, "embedding_dim": 16}),
                ("GRU", {"hidden_size": 32, "output": "sequence"}), ("Dense", {"units": vocab}))
    b.output(h, name="next")
    project = b.project("LM test", {"dataset": {"kind": "text", "path": str(text), "options": {"seq_len": 16}},
                                    "training": {"recipe": "language_model", "epochs": 2, "lr": 1e-2}})
    report, events, run_dir = run_in_process(project)
    assert report["status"] == "completed", report
    metrics = of_type(events, EpochMetrics)[-1].metrics
    assert {"val_accuracy", "val_perplexity", "val_loss"} <= set(metrics) and "val_confusion" not in metrics
    assert metrics["val_perplexity"] == pytest.approx(2.718281828 ** metrics["val_loss"], rel=1e-6)
    texts = previews_of(events, "text")
    assert len(texts) == 2
    sample = texts[-1].data
    assert len(sample["prompt"]) == 16 and sample["prompt"] in text.read_text()
    assert len(sample["samples"]) == 3 and all(len(s) == 80 for s in sample["samples"])
    assert set("".join(sample["samples"])) <= set(text.read_text())
    assert load_run(run_dir).previews()["text"]["data"]["samples"] == sample["samples"]


def test_language_model_needs_a_text_and_a_nonempty_file(run_in_process, tmp_path):
    project = digits_mlp_project(epochs=1, recipe="language_model")
    report, events, _ = run_in_process(project)
    assert "not a text" in of_type(events, RunError)[0].message
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    project = make_template("char-lm")
    project.settings["dataset"]["path"] = str(empty)
    report, events, _ = run_in_process(project)
    message = of_type(events, RunError)[0].message
    assert report["status"] == "failed" and "empty.txt is empty" in message


def test_forecast_preview_shows_history_truth_and_prediction(run_in_process):
    project = make_template("forecast-sine")
    project.settings["dataset"]["options"] = {"n_samples": 200}
    project.settings["training"]["epochs"] = 1
    report, events, _ = run_in_process(project)
    assert report["status"] == "completed", report
    assert "val_mse" in of_type(events, EpochMetrics)[-1].metrics
    forecast = previews_of(events, "forecast")[-1].data
    assert len(forecast["history"]) == len(forecast["true"]) == len(forecast["predicted"]) == 32
    assert forecast["steps"] == list(range(1, 33))
    # the truth is the history one step on (sine_forecast windows)
    assert forecast["true"][:-1] == pytest.approx(forecast["history"][1:])


def test_frozen_nodes_keep_their_weights(run_in_process):
    project = digits_mlp_project(epochs=2, frozen_nodes=["dense_1"])
    report, events, run_dir = run_in_process(project)
    assert report["status"] == "completed", report
    import graph

    initial = graph.compile_network(project, seed=0).state_dict()
    trained = load_run_weights(run_dir, "last")
    assert torch.equal(trained["dense_1.weight"], initial["dense_1.weight"])
    assert not torch.equal(trained["dense_2.weight"], initial["dense_2.weight"])
    assert "dense_1" not in of_type(events, EpochMetrics)[-1].metrics["grad_norms"]
    assert json.loads((run_dir / "settings.json").read_text())["training"]["frozen_nodes"] == ["dense_1"]


def test_frozen_batchnorm_keeps_its_statistics(run_in_process):
    project = make_template("cnn-digits")
    project.settings["training"].update(epochs=1, frozen_nodes=["batch_norm2d_1"])
    report, _, run_dir = run_in_process(project)
    assert report["status"] == "completed", report
    import graph

    initial = graph.compile_network(project, seed=0).state_dict()
    trained = load_run_weights(run_dir, "last")
    for key in ("batch_norm2d_1.running_mean", "batch_norm2d_1.weight"):
        assert torch.equal(trained[key], initial[key])
    assert not torch.equal(trained["batch_norm2d_2.running_mean"], initial["batch_norm2d_2.running_mean"])


def test_unknown_frozen_nodes_are_named(run_in_process):
    report, events, _ = run_in_process(digits_mlp_project(frozen_nodes=["dense_1", "backbone"]))
    message = of_type(events, RunError)[0].message
    assert report["status"] == "failed" and "'backbone'" in message and "frozen_nodes" in message
    assert "'dense_1'" not in message
