"""Real runs started from the panel (a worker process each, a couple of seconds): curves fill in,
the progress bar reaches 100 %, the run is kept and listed, its weights can be reused and are saved
beside the project; pause/resume/stop from the buttons; failures (NaN loss, a data set that does not
fit the Input node, a missing data file, a worker that dies) are reported in the panel, naming the
step or the node, and the window carries on."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

import graph
from graph.project_file import weights_path
from graph.templates import make_template
from gui.main_window import MainWindow
from gui.training.panel import TrainingPanel

RUN_TIMEOUT = 90_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def panel(window: MainWindow, dialog, tmp_path: Path) -> TrainingPanel:
    """mlp-digits, untitled: Start offers Save As (answered with a file in tmp_path)."""
    window.session.replace_project(make_template("mlp-digits"))
    dialog.save_path = tmp_path / "digits.dcproj"
    window.show_training()
    window.training.ensure_built()
    return window.training


def finish(qtbot, panel: TrainingPanel) -> None:
    qtbot.waitUntil(lambda: not panel.active and panel.status in ("completed", "stopped", "failed"),
                    timeout=RUN_TIMEOUT)
    qtbot.waitUntil(lambda: panel.plots.up_to_date, timeout=5_000)    # the last (paced) redraws


def test_a_run_from_start_to_reused_weights(qtbot, window: MainWindow, panel: TrainingPanel, dialog,
                                            tmp_path: Path) -> None:
    panel.overrides = {"epochs": 2}
    qtbot.mouseClick(panel.start_button, LEFT)
    assert window.session.path == tmp_path / "digits.dcproj"      # saved first, through Save As
    assert panel.active and not panel.start_button.isEnabled()
    assert not window.actions_by_name["train_start"].isEnabled()
    finish(qtbot, panel)
    assert panel.status == "completed", panel.log.lines

    curves = panel.curves
    assert len(curves.groups["loss"]["validation"]) == 2
    assert len(curves.groups["metric"]["validation"]) == 2
    assert len(curves.groups["loss"]["train (steps)"]) >= 1     # a few per second, however short the epochs
    assert len(curves.groups["lr"]["learning rate"]) >= 1
    assert {"dense_1", "dense_2", "dense_3"} <= set(curves.groups["grad"])
    items = panel.plots.curve_items()
    assert len(items[("loss", "validation")].yData) == 2
    assert curves.layer_labels["dense_1"] == "dense_1"
    assert panel.progress.value() == panel.progress.maximum()
    assert "100 %" in panel.progress.format()
    assert panel.confusion.matrix is not None and panel.confusion.matrix.shape == (10, 10)
    assert int(panel.confusion.matrix.sum()) == 360
    assert any("Epoch 2/2" in line for line in panel.log.lines)
    assert panel.start_button.isEnabled()

    runs = panel.runs.runs
    assert len(runs) == 1 and runs[0].status == "completed" and runs[0].epochs_done == 2
    run_dir = runs[0].path
    assert run_dir.parent == tmp_path / "runs"

    # the run's end attached its best weights as one undo step: take them off to reuse them by hand
    qtbot.waitUntil(lambda: "main" in window.session.weights, timeout=RUN_TIMEOUT)
    assert window.session.undo_stack.undoText().startswith("Attach the weights of run")
    window.session.undo_stack.undo()
    assert "main" not in window.session.weights

    # reuse the weights: every layer matches, and they are saved beside the project
    panel.runs.select(run_dir)
    qtbot.mouseClick(panel.runs.weights_button, LEFT)
    qtbot.waitUntil(lambda: "main" in window.session.weights, timeout=RUN_TIMEOUT)
    assert "all 3 layers match (dense_1, dense_2, dense_3)" in panel.runs.hint.text()
    assert set(window.session.weights["main"]) == {f"dense_{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}
    assert window.isWindowModified()
    window.session.undo_stack.undo()
    assert "main" not in window.session.weights
    window.session.undo_stack.redo()
    assert window.files.save()
    assert weights_path(tmp_path / "digits.dcproj").is_file()
    assert set(graph.project_file.load_weights(tmp_path / "digits.dcproj")["main"]) == set(
        window.session.weights["main"])

    # a fresh session on the same file: the run is listed, reopens with its curves, and the
    # weights come back with the project
    assert window.files.open_path(tmp_path / "digits.dcproj", ask_to_save=False)
    qtbot.waitUntil(lambda: "main" in window.session.weights, timeout=RUN_TIMEOUT)
    assert panel.curves.is_empty()
    assert [r.path for r in panel.runs.runs] == [run_dir]
    panel.open_run(run_dir)
    qtbot.waitUntil(lambda: panel.shown_run == run_dir and not panel.curves.is_empty(), timeout=RUN_TIMEOUT)
    qtbot.waitUntil(lambda: panel.plots.up_to_date, timeout=5_000)
    assert len(panel.plots.curve_items()[("loss", "validation")].yData) == 2
    assert panel.confusion.matrix is not None
    assert panel.progress.value() == panel.progress.maximum()
    # tick it to lay it over the current curves
    panel.runs.set_ticked(run_dir, True)
    qtbot.waitUntil(lambda: str(run_dir) in panel.plots.overlays, timeout=RUN_TIMEOUT)
    assert panel.plots.overlays[str(run_dir)].items
    panel.runs.set_ticked(run_dir, False)
    assert str(run_dir) not in panel.plots.overlays


def test_pause_resume_and_stop_from_the_buttons(qtbot, window: MainWindow, panel: TrainingPanel) -> None:
    panel.overrides = {"epochs": 10_000, "batch_size": 8}
    assert panel.start()
    qtbot.waitUntil(lambda: panel.status == "running" and len(panel.curves.groups["loss"].get(
        "train (steps)", ())) > 0, timeout=RUN_TIMEOUT)
    qtbot.mouseClick(panel.pause_button, LEFT)
    qtbot.waitUntil(lambda: panel.status == "paused", timeout=RUN_TIMEOUT)
    assert panel.resume_button.isVisibleTo(panel) and not panel.pause_button.isVisibleTo(panel)
    assert "Resume" in window.actions_by_name["train_pause"].text()
    steps = len(panel.curves.groups["loss"]["train (steps)"])
    qtbot.wait(600)
    assert len(panel.curves.groups["loss"]["train (steps)"]) <= steps + 1, "trained while paused"
    assert "/10000" in panel.progress.format()

    qtbot.mouseClick(panel.resume_button, LEFT)
    qtbot.waitUntil(lambda: panel.status == "running"
                    and len(panel.curves.groups["loss"]["train (steps)"]) > steps + 1, timeout=RUN_TIMEOUT)
    qtbot.waitUntil(lambda: panel.eta_label.text().startswith("ETA"), timeout=RUN_TIMEOUT)
    qtbot.mouseClick(panel.stop_button, LEFT)
    finish(qtbot, panel)
    assert panel.status == "stopped"
    assert [r.status for r in panel.runs.runs] == ["stopped"]
    assert panel.curves.point_count() > 0


def test_nan_loss_names_the_step_and_keeps_the_window(qtbot, window: MainWindow, panel: TrainingPanel) -> None:
    form = panel.options_form
    assert form.set_option("optimizer", "sgd")
    assert form.set_option("lr", 1e6)
    panel.overrides = {"epochs": 2}
    assert panel.start()
    finish(qtbot, panel)
    assert panel.status == "failed"
    assert panel.banner.isVisibleTo(panel)
    assert "NaN or infinite" in panel.banner.title.text()
    assert "at step 3" in panel.banner.message.text() and "lower the learning rate" in panel.banner.message.text()
    assert any("became NaN" in line for line in panel.log.lines)
    assert [r.status for r in panel.runs.runs] == ["failed"]
    # the window goes on: edit, and train again
    assert form.set_option("lr", 0.01)
    assert panel.start_button.isEnabled()


def test_data_that_does_not_fit_names_the_input_node(qtbot, window: MainWindow, panel: TrainingPanel) -> None:
    picker = panel.picker
    qtbot.waitUntil(lambda: picker.ready, timeout=RUN_TIMEOUT)
    picker.choose_kind("iris")
    input_id = window.project.main.find("image").id
    panel.overrides = {"epochs": 1}
    assert panel.start()
    finish(qtbot, panel)
    assert panel.status == "failed"
    text = panel.banner.message.text()
    assert "Input 'image'" in text and "set the Input shape to 4" in text
    assert panel.banner.node_id == input_id and "'image'" in panel.banner.node_button.text()
    assert window.current_view().canvas.selected_node_ids() == [input_id]


def test_missing_data_file_and_a_dying_worker(qtbot, window: MainWindow, panel: TrainingPanel,
                                              tmp_path: Path) -> None:
    picker = panel.picker
    qtbot.waitUntil(lambda: picker.ready, timeout=RUN_TIMEOUT)
    picker.choose_kind("csv")
    picker.set_path(str(tmp_path / "gone.csv"))
    assert panel.start()
    finish(qtbot, panel)
    assert panel.status == "failed"
    assert "cannot be used" in panel.banner.title.text()
    assert "gone.csv" in panel.banner.message.text()

    window.session.undo_stack.undo()
    window.session.undo_stack.undo()
    assert window.project.settings["dataset"] == {"kind": "digits"}
    panel.overrides = {"epochs": 10_000}
    assert panel.start()
    qtbot.waitUntil(lambda: panel.status == "running", timeout=RUN_TIMEOUT)
    os.kill(panel.controller.handle.pid, signal.SIGKILL)
    finish(qtbot, panel)
    assert panel.status == "failed"
    assert "training process died" in panel.banner.title.text().lower()
    assert "SIGKILL" in panel.banner.message.text()
    assert window.isVisible() and not panel.active
    assert [r.status for r in panel.runs.runs] == ["failed", "failed"]
