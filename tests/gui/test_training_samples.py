"""What the training panel shows for the generative and sequence recipes, fed with the events a run
sends (a scripted handle stands in for the worker): reconstructions above their inputs, the latent
space by class, generated samples, sampled text and forecasts in the Samples tab; a GAN's two
losses as named curves; the recipe's own metric in the metric plot; node options as combos of the
network's nodes; and the recorded previews of a reopened run."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import graph
from engine.events import EpochMetrics, PreviewSamples, RunFinished, RunStarted, StatusChanged, StepMetrics
from engine.options import SPECS
from graph.templates import make_template
from gui.main_window import MainWindow
from gui.training.panel import TrainingPanel


class ScriptedHandle:
    """Stands in for engine.runner.RunHandle: hands out the given events, then the run ends."""

    def __init__(self, run_dir: Path, events: list[Any], status: str = "completed") -> None:
        self.run_dir = run_dir
        self.pending = [StatusChanged(0.0, "running"), *events, RunFinished(9.0, status, {"status": status})]
        self.result: RunFinished | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None

    def poll(self) -> list[Any]:
        events, self.pending = self.pending, []
        for e in events:
            if isinstance(e, RunFinished):
                self.result = e
        return events

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...


def run_started(run_dir: Path, recipe: str, epochs: int = 3, monitor: str = "val_loss") -> RunStarted:
    return RunStarted(0.1, str(run_dir), "cpu", "digits: 1437 train / 360 val", recipe, epochs, 10, 1437, 360,
                      1234, {"dense_1": "n3"}, None, {"monitor": monitor})


# -- previews as the engine sends them -------------------------------------------------------------------
def digit_like(k: int, seed: int = 0) -> np.ndarray:
    """k 8×8 pictures with a bright stroke each (values 0..16 like the digits data set)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 3, size=(k, 1, 8, 8))
    for i in range(k):
        images[i, 0, :, 1 + i % 6] = 16.0
    return images


def reconstruction(epoch: int = 1, k: int = 8, images: bool = True) -> PreviewSamples:
    if images:
        x = digit_like(k)
        return PreviewSamples(1.0, epoch, "reconstruction", {"inputs": x.tolist(), "outputs": (x * 0.8).tolist(),
                                                              "image_shape": [1, 8, 8]})
    x = np.linspace(-1, 1, k * 12).reshape(k, 12)
    return PreviewSamples(1.0, epoch, "reconstruction", {"inputs": x.tolist(), "outputs": (x * 0.9).tolist(),
                                                          "image_shape": None})


def latent(epoch: int = 1, n: int = 300, classes: int = 10) -> PreviewSamples:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, classes, size=n)
    angles = labels * 2 * math.pi / classes
    pts = np.stack([np.cos(angles), np.sin(angles)], 1) * 3 + rng.normal(0, 0.4, size=(n, 2))
    return PreviewSamples(1.0, epoch, "latent", {"points": pts.tolist(), "labels": labels.tolist(),
                                                  "class_names": [str(i) for i in range(classes)]})


def generated_points(epoch: int = 1, n: int = 200) -> PreviewSamples:
    rng = np.random.default_rng(2)
    modes = np.array([[math.cos(a), math.sin(a)] for a in np.arange(8) * math.pi / 4]) * 2
    real = modes[rng.integers(0, 8, n)] + rng.normal(0, 0.05, (n, 2))
    fake = modes[rng.integers(0, 6, n)] + rng.normal(0, 0.15, (n, 2))
    return PreviewSamples(1.0, epoch, "generated", {"samples": fake.tolist(), "image_shape": None,
                                                     "real": real.tolist()})


def generated_images(epoch: int = 1, k: int = 32) -> PreviewSamples:
    return PreviewSamples(1.0, epoch, "generated", {"samples": digit_like(k, seed=3).tolist(),
                                                     "image_shape": [1, 8, 8], "real": None})


def text(epoch: int) -> PreviewSamples:
    return PreviewSamples(1.0, epoch, "text", {"prompt": "To be, or ",
                                                "samples": [f"To be, or not{'!' * epoch} <{epoch}a>",
                                                            f"To be, or maybe <{epoch}b>"]})


def forecast(epoch: int = 1) -> PreviewSamples:
    t = np.arange(60) * 0.2
    return PreviewSamples(1.0, epoch, "forecast", {"steps": list(range(40, 60)), "history": np.sin(t[:40]).tolist(),
                                                    "true": np.sin(t[40:]).tolist(),
                                                    "predicted": (0.9 * np.sin(t[40:]) + 0.05).tolist()})


def gan_epoch(epoch: int) -> list[Any]:
    steps = [StepMetrics(0.5 * epoch + 0.1 * k, 10 * (epoch - 1) + k, epoch, k / 5, 2.0, 2e-4, 900.0,
                         losses={"g_loss": 0.7 + 0.1 * k, "d_loss": 1.3 - 0.1 * k}) for k in range(1, 6)]
    return [*steps, EpochMetrics(0.5 * epoch + 0.6, epoch, 10 * epoch,
                                 {"train_loss": 2.0, "g_loss": 0.9, "d_loss": 1.1, "val_quality": 0.2 * epoch,
                                  "modes_covered": epoch},
                                 is_best=True),
            generated_points(epoch)]


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture
def panel(window: MainWindow, tmp_path: Path) -> TrainingPanel:
    path = tmp_path / "digits.dcproj"
    graph.save_project(make_template("mlp-digits"), path)
    assert window.files.open_path(path, ask_to_save=False)
    window.show_training()
    window.training.ensure_built()
    return window.training


def run(qtbot, panel: TrainingPanel, tmp_path: Path, recipe: str, events: list[Any], **started: Any) -> None:
    """Start a run of ``recipe`` that sends ``events`` and wait until the panel has drawn them."""
    run_dir = tmp_path / "runs" / f"fake-{recipe}-{time.monotonic_ns()}"
    panel.overrides = {"recipe": recipe}
    panel.controller.starter = lambda project, **kw: ScriptedHandle(
        run_dir, [run_started(run_dir, recipe, **started), *events])
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.active, timeout=10_000)
    qtbot.waitUntil(lambda: panel.plots.up_to_date, timeout=5_000)


# -- the tests -----------------------------------------------------------------------------------------
def test_autoencoder_shows_inputs_above_reconstructions_and_the_latent_space(qtbot, panel: TrainingPanel,
                                                                             tmp_path: Path) -> None:
    samples = panel.samples
    run(qtbot, panel, tmp_path, "autoencoder", [
        EpochMetrics(0.5, 1, 10, {"train_loss": 3.0, "val_loss": 2.9, "val_reconstruction_error": 2.5}),
        reconstruction(1), latent(1),
        EpochMetrics(0.9, 2, 20, {"train_loss": 2.0, "val_loss": 1.9, "val_reconstruction_error": 1.5}),
        reconstruction(2), latent(2)])
    detail = panel.detail
    assert detail.isTabVisible(detail.indexOf(samples)) and detail.currentWidget() is samples
    assert samples.shown_kinds() == ["reconstruction", "latent"]
    # 8 inputs above their 8 reconstructions
    grid = samples.recon_images
    assert grid.image_count == 16 and grid.columns == 8 and grid.row_labels == ["input", "output"]
    assert grid.isVisibleTo(samples) and not samples.recon_vectors.isVisibleTo(samples)
    assert samples.sections["reconstruction"].epoch.text() == "epoch 2"
    # 300 latent points in 10 colours, each class named in the legend
    assert sum(len(item.data) for item in samples.latent_items) == 300
    assert len(samples.latent_items) == 10
    assert samples.latent_legend.names == [str(i) for i in range(10)]
    # the metric plot shows the recipe's own metric, found by its name
    assert panel.curves.metric == "val_reconstruction_error"
    assert panel.plots.plots["metric"].titleLabel.text == "Reconstruction error"
    assert len(panel.plots.curve_items()[("metric", "validation")].yData) == 2


def test_vector_reconstructions_are_drawn_as_small_charts(qtbot, panel: TrainingPanel, tmp_path: Path) -> None:
    run(qtbot, panel, tmp_path, "autoencoder", [reconstruction(1, k=6, images=False)])
    samples = panel.samples
    assert samples.recon_vectors.chart_count == 6 and samples.recon_vectors.height() > 0
    assert not samples.recon_images.isVisibleTo(samples)


def test_gan_plots_both_losses_and_its_generated_points(qtbot, panel: TrainingPanel, tmp_path: Path) -> None:
    run(qtbot, panel, tmp_path, "gan", gan_epoch(1) + gan_epoch(2))
    items = panel.plots.curve_items()
    loss_curves = {name for group, name in items if group == "loss"}
    # two named losses, per step and per epoch; no single "train" loss mixing them
    assert loss_curves == {"g_loss", "d_loss", "g_loss (steps)", "d_loss (steps)"}
    assert len(items[("loss", "g_loss (steps)")].yData) == 10
    assert items[("loss", "g_loss")].yData.tolist() == [0.9, 0.9]
    legend = [label.text for _, label in panel.plots.legends["loss"].items]
    assert {"generator", "discriminator"} <= set(legend)
    assert panel.plots.plots["metric"].titleLabel.text == "Quality"
    assert items[("metric", "validation")].yData.tolist() == pytest.approx([0.2, 0.4])
    # 200 generated points over 200 real ones, both in the legend
    samples = panel.samples
    assert samples.shown_kinds() == ["generated"]
    assert len(samples.fake_points.data) == 200 and len(samples.real_points.data) == 200
    assert samples.generated_legend.names == ["real data", "generated"]
    assert "modes covered 2" in "\n".join(panel.log.lines)


def test_gan_on_images_shows_a_grid_of_generated_samples(qtbot, panel: TrainingPanel, tmp_path: Path) -> None:
    run(qtbot, panel, tmp_path, "gan", [generated_images(1, k=32)])
    samples = panel.samples
    assert samples.generated_images.image_count == 32
    assert not samples.generated_points_box.isVisibleTo(samples)


def test_language_model_text_newest_first_and_forecast_curves(qtbot, panel: TrainingPanel, tmp_path: Path) -> None:
    run(qtbot, panel, tmp_path, "language_model", [text(1), text(2), text(3)])
    samples = panel.samples
    shown = samples.text_plain
    assert "To be, or not!!! <3a>" in shown and "<1b>" in shown
    assert shown.index("Epoch 3") < shown.index("Epoch 2") < shown.index("Epoch 1")
    assert shown.index("<3a>") < shown.index("<1a>")

    # a new run starts empty; a forecasting run (regression) gets the tab with its first preview
    run(qtbot, panel, tmp_path, "regression", [forecast(1)])
    assert samples.shown_kinds() == ["forecast"]
    assert "<3a>" not in samples.text_plain or not samples.sections["text"].isVisibleTo(samples)
    curves = {name: item for name, item in samples.forecast_items.items() if item.isVisible()}
    assert set(curves) == {"history", "true", "predicted"}
    assert len(curves["history"].xData) == 40
    # the continuations start at the last seen value, at step 39, and run to step 59
    assert curves["true"].xData[0] == 39 and curves["true"].xData[-1] == 59
    assert len({curves[n].opts["pen"].color().name() for n in curves}) == 3
    assert samples.forecast_legend.names == ["history", "true", "predicted"]


def test_a_classification_run_has_no_samples_tab(qtbot, panel: TrainingPanel, tmp_path: Path) -> None:
    run(qtbot, panel, tmp_path, "autoencoder", [reconstruction(1)])
    assert panel.detail.isTabVisible(panel.detail.indexOf(panel.samples))
    run(qtbot, panel, tmp_path, "classification", [
        EpochMetrics(0.5, 1, 10, {"train_loss": 1.0, "val_loss": 1.1, "val_accuracy": 0.7})])
    assert not panel.detail.isTabVisible(panel.detail.indexOf(panel.samples))
    assert panel.samples.store.is_empty()
    assert panel.plots.plots["metric"].titleLabel.text == "Accuracy"


def test_reopening_a_run_shows_its_recorded_previews(qtbot, panel: TrainingPanel, tmp_path: Path) -> None:
    from engine.runs import RUN_FORMAT, RunRecorder

    project_path = panel.session.path
    run_dir = tmp_path / "runs" / "20260101-120000-ae"
    recorder = RunRecorder(run_dir)
    recorder.start({"project_name": panel.session.project.name, "network": "main", "dataset": {"kind": "digits"},
                    "training": {"recipe": "autoencoder", "epochs": 2}})
    previews = [reconstruction(1), latent(1), reconstruction(2, k=6), latent(2, n=120)]
    for epoch in (1, 2):
        recorder.on_event(EpochMetrics(epoch, epoch, 10 * epoch, {"epoch": epoch, "train_loss": 3.0 / epoch,
                                                                  "val_loss": 2.0 / epoch,
                                                                  "val_reconstruction_error": 1.0 / epoch}))
    for preview in previews:
        recorder.on_event(preview)       # the engine records them (once it does; else written below)
    recorder.finish({"status": "completed", "epochs_done": 2, "final_metrics": {"val_reconstruction_error": 0.5}})
    if not (run_dir / "previews.json").exists():
        latest = {p.kind: {"epoch": p.epoch, "data": p.data} for p in previews}
        (run_dir / "previews.json").write_text(json.dumps(latest))
    assert json.loads((run_dir / "settings.json").read_text())["format"] == RUN_FORMAT
    panel.runs.set_project(project_path, panel.session.project.name)
    assert "Reconstruction error 0.5" in panel.runs.tree.topLevelItem(0).text(3)

    panel.open_run(run_dir)
    qtbot.waitUntil(lambda: panel.shown_run == run_dir and panel.samples.has_samples, timeout=10_000)
    samples = panel.samples
    assert samples.shown_kinds() == ["reconstruction", "latent"]
    assert samples.recon_images.image_count == 12          # the newest: 6 samples and their reconstructions
    assert sum(len(item.data) for item in samples.latent_items) == 120
    assert samples.sections["latent"].epoch.text() == "epoch 2"
    assert panel.detail.currentWidget() is samples
    assert len(panel.curves.groups["metric"]["validation"]) == 2


def test_node_options_offer_the_networks_nodes_and_follow_renames(qtbot, window: MainWindow,
                                                                 panel: TrainingPanel) -> None:
    from gui import commands
    from gui.training.node_choice import AUTOMATIC, NodeChoiceEditor

    form = panel.options_form
    node_options = [name for name, spec in SPECS.items() if spec.kind == "node"]
    if not node_options:
        pytest.skip("the engine has no node options yet")
    name = "latent_node" if "latent_node" in node_options else node_options[0]
    editor = form.editors[name]
    assert isinstance(editor, NodeChoiceEditor)
    net = window.project.main
    assert editor.node_names() == [n.name for n in net.nodes]
    assert editor.combo.itemText(0) == AUTOMATIC and editor.combo.currentIndex() == 0

    # picking a node writes the setting, undoably
    target = net.nodes[2].name
    index = editor.combo.findData(target)
    editor.combo.setCurrentIndex(index)
    editor.combo.activated.emit(index)
    assert window.project.settings["training"][name] == target
    window.session.undo_stack.undo()
    assert window.project.settings["training"].get(name, "") == ""
    assert editor.combo.currentIndex() == 0
    window.session.undo_stack.redo()
    assert editor.value == target

    # nodes renamed, added and removed on the canvas show up in the combo at once
    node = net.find(target)
    window.session.push(commands.RenameNodeCommand(net, node.id, "bottleneck"))
    assert "bottleneck" in editor.node_names() and target not in editor.node_names()
    assert "no node named" in editor.error and target in editor.error     # the stored name is gone: said so
    assert form.set_option(name, "bottleneck")
    assert not editor.error
    window.session.push(commands.AddNodeCommand(net, "Dense", (0.0, 0.0), {"units": 2}, "code"))
    assert "code" in editor.node_names()
    window.session.undo_stack.undo()
    assert "code" not in editor.node_names()

    # options of another recipe are not shown; the autoencoder's latent node is, for an autoencoder
    if "generator_node" in form.editors:
        assert not form.is_shown("generator_node")
    assert form.set_option("recipe", "autoencoder")
    assert form.is_shown(name)
    if "monitor" in form.editors and "val_reconstruction_error" in SPECS["monitor"].choices:
        combo = form.editors["monitor"].field
        enabled = {combo.itemText(i) for i in range(combo.count()) if combo.model().item(i).isEnabled()}
        assert "val_reconstruction_error" in enabled and "val_accuracy" not in enabled

    # frozen nodes (chosen in the weights dialog) are listed, and unfrozen in one undoable click
    if "frozen_nodes" in form.editors:
        frozen = form.editors["frozen_nodes"]
        training = dict(window.project.settings["training"], frozen_nodes=["dense_1", "dense_2"])
        window.session.push(commands.SetSettingCommand(window.project, "training", training, "Freeze"))
        assert frozen.names_label.text() == "dense_1, dense_2" and frozen.clear_button.isVisibleTo(form)
        frozen.clear_button.click()
        assert window.project.settings["training"]["frozen_nodes"] == []
        assert "every node trains" in frozen.names_label.text()
        window.session.undo_stack.undo()
        assert frozen.value == ("dense_1", "dense_2")
