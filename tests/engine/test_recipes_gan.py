"""GAN training: the generator and discriminator are found in one network, trained against each other
with both losses reported, sample quality measured and previewed; the weights load back into the
whole project; faults name the part to fix; the exported script trains the same way."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.control import Control
from engine.events import EpochMetrics, PreviewSamples, RunError, RunFinished, StepMetrics
from engine.export_training import write_training_export
from engine.runs import load_run, load_run_weights, load_weights_into
from graph import NetworkBuilder, compile_network
from graph.templates import make_template
from tests.engine.conftest import of_type


def mixture_project(epochs: int = 2, **training) -> object:
    """The template: Generator and Discriminator blocks, found by their blocks."""
    project = make_template("gan-mixture")
    project.settings["dataset"]["options"] = {"n_samples": 400}
    project.settings["training"].update(epochs=epochs, **training)
    return project


def plain_mixture_project(epochs: int = 2, **training) -> object:
    """The same GAN drawn with plain layers, the parts found by the nodes named after them."""
    b = NetworkBuilder()
    z = b.input((8,), name="noise")
    g = b.add("Dense", z, name="generator", units=32)
    b.output(b.chain(g, "ReLU", ("Dense", {"units": 2})), name="fake")
    s = b.input((2,), name="sample")
    d = b.add("Dense", s, name="discriminator", units=32)
    d = b.chain(d, ("LeakyReLU", {"negative_slope": 0.2}), ("Dense", {"units": 32}),
                ("LeakyReLU", {"negative_slope": 0.2}), ("Dense", {"units": 1}))
    b.output(d, name="score")
    return b.project("plain GAN", {"dataset": {"kind": "gaussian_mixture", "options": {"n_samples": 400}},
                                   "training": {"recipe": "gan", "epochs": epochs, **training}})


def test_gan_trains_both_parts_and_reports_quality(run_in_process):
    report, events, run_dir = run_in_process(mixture_project(epochs=2), report_interval=0.0)
    assert report["status"] == "completed", report
    steps = of_type(events, StepMetrics)
    assert steps and all(set(s.losses) == {"g_loss", "d_loss"} for s in steps)
    assert steps[-1].loss == pytest.approx(steps[-1].losses["g_loss"] + steps[-1].losses["d_loss"], rel=1e-5)
    metrics = of_type(events, EpochMetrics)[-1].metrics
    assert {"g_loss", "d_loss", "modes_covered", "modes_total", "high_quality_fraction", "val_quality"} <= set(metrics)
    assert metrics["modes_total"] == 8 and 0 <= metrics["modes_covered"] <= 8
    assert report["monitor"] == "val_quality"
    generated = [e for e in of_type(events, PreviewSamples) if e.kind == "generated"]
    assert [g.epoch for g in generated] == [1, 2]
    data = generated[-1].data
    assert len(data["samples"]) == 500 and len(data["samples"][0]) == 2 and data["image_shape"] is None
    assert len(data["real"]) == 80 and len(data["real"][0]) == 2
    # real points in data units: the ring has radius 2
    assert max(abs(v) for point in data["real"] for v in point) > 1.5
    lines = [line for line in load_run(run_dir).steps if "g_loss" in line]
    assert lines and "d_loss" in lines[0]
    assert "generated" in load_run(run_dir).previews()
    # the saved weights are the whole network's and load into it
    model = compile_network(mixture_project(), seed=5)
    load_weights_into(model, load_run_weights(run_dir, "last"))


def test_gan_on_images_judges_classes_and_previews_a_grid(run_in_process):
    project = make_template("gan-digits")
    project.settings["training"]["epochs"] = 1
    report, events, _ = run_in_process(project)
    assert report["status"] == "completed", report
    metrics = of_type(events, EpochMetrics)[-1].metrics
    assert metrics["classes_total"] == 10 and 0 <= metrics["confident_fraction"] <= 1
    data = [e for e in of_type(events, PreviewSamples) if e.kind == "generated"][-1].data
    assert data["image_shape"] == [1, 8, 8] and len(data["samples"]) == 16 and data["real"] is None


def test_both_parts_train_and_their_weights_keep_the_network_names(run_in_process):
    import torch

    project = mixture_project(epochs=1)
    report, _, run_dir = run_in_process(project)
    assert report["status"] == "completed", report
    initial = compile_network(project, seed=0).state_dict()
    trained = load_run_weights(run_dir, "last")
    assert set(trained) == set(initial)
    for key in ("generator.hidden_1.weight", "generator.sample.weight", "discriminator.hidden_1.weight",
                "discriminator.score.weight"):
        assert not torch.equal(trained[key], initial[key]), key


def test_frozen_generator_layer_stays_put(run_in_process):
    import torch

    project = plain_mixture_project(epochs=1, frozen_nodes=["generator"])
    report, _, run_dir = run_in_process(project)
    assert report["status"] == "completed", report
    initial = compile_network(project, seed=0).state_dict()
    trained = load_run_weights(run_dir, "last")
    assert torch.equal(trained["generator.weight"], initial["generator.weight"])
    assert not torch.equal(trained["dense_1.weight"], initial["dense_1.weight"])    # the generator's other layer


def test_parts_are_picked_by_the_named_options_and_wrong_ones_are_named(run_in_process):
    project = plain_mixture_project(epochs=1, generator_node="dense_1", discriminator_node="dense_3")
    report, _, _ = run_in_process(project)
    assert report["status"] == "completed", report
    report, events, _ = run_in_process(mixture_project(epochs=1, generator_node="ghost"))
    message = of_type(events, RunError)[0].message
    assert "'generator_node'" in message and "'ghost'" in message
    report, events, _ = run_in_process(plain_mixture_project(epochs=1, generator_node="dense_1",
                                                             discriminator_node="relu_1"))
    assert "same part" in of_type(events, RunError)[0].message


def test_missing_discriminator_is_explained(run_in_process):
    b = NetworkBuilder()
    z = b.input((4,), name="noise")
    b.output(b.chain(z, ("Dense", {"units": 16}), "ReLU", ("Dense", {"units": 2})), name="fake")
    project = b.project("half a GAN", {"dataset": {"kind": "gaussian_mixture", "options": {"n_samples": 100}},
                                       "training": {"recipe": "gan", "epochs": 1}})
    report, events, _ = run_in_process(project)
    assert report["status"] == "failed"
    message = of_type(events, RunError)[0].message
    assert "needs a discriminator" in message and "one score per sample" in message


def test_discriminator_must_give_one_score(run_in_process):
    project = plain_mixture_project(epochs=1)
    net = project.main
    net.set_param(net.find("dense_3").id, "units", 3)
    report, events, _ = run_in_process(project)
    message = of_type(events, RunError)[0].message
    assert "discriminator" in message.lower() and "set the units of Dense 'dense_3' to 1" in message


def test_gan_stops_cleanly(run_in_process):
    control = Control()
    events: list = []

    def watch(event):
        events.append(event)
        if isinstance(event, EpochMetrics):
            control.stop()

    import tempfile

    from engine.runner import make_request
    from engine.session import execute_run

    with tempfile.TemporaryDirectory() as tmp:
        report = execute_run(make_request(mixture_project(epochs=5), tmp + "/run"), watch, control)
    assert report["status"] == "stopped" and report["epochs_done"] == 1
    assert isinstance(events[-1], RunFinished)


def test_exported_gan_script_trains(tmp_path):
    project = mixture_project(epochs=1)
    path = tmp_path / "train_gan.py"
    write_training_export(project, path)
    text = path.read_text()
    assert "def train_gan" in text and "torchrun is refused" in text
    result = subprocess.run([sys.executable, str(path), "--json", "--save", "w.pt"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"g_loss"' in result.stdout and (tmp_path / "w.pt").exists()
