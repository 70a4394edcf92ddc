"""The training panel without real training: the data-set picker and the options form edit the
project undoably, invalid options are refused in place, the plots never redraw faster than 30 Hz
however fast events come, and faults reported by a run appear in the panel (fed by a fake handle)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

import graph
import gui.dialogs as dialogs
from engine.events import (
    EpochMetrics,
    RunError,
    RunFinished,
    RunStarted,
    StatusChanged,
    StepMetrics,
)
from graph.templates import make_template
from gui.main_window import MainWindow
from gui.training.curves import Series
from gui.training.panel import TrainingPanel
from gui.training.plots import MAX_REDRAW_HZ

CLASSES = tuple(str(i) for i in range(10))


class FakeHandle:
    """Stands in for engine.runner.RunHandle: ``script(now)`` says what each poll returns."""

    def __init__(self, run_dir: Path, script) -> None:
        self.run_dir = run_dir
        self.script = script
        self.t0 = time.monotonic()
        self.calls: list[str] = []
        self.result: RunFinished | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None

    def poll(self) -> list[Any]:
        events = self.script(self, time.monotonic() - self.t0)
        for e in events:
            if isinstance(e, RunFinished):
                self.result = e
        return events

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")

    def stop(self) -> None:
        self.calls.append("stop")

    def kill(self) -> None:
        self.calls.append("kill")


def started(run_dir: Path, epochs: int = 100, steps: int = 1000) -> RunStarted:
    return RunStarted(0.1, str(run_dir), "cpu", "digits: 1437 train / 360 val", "classification", epochs, steps,
                      1437, 360, 17226, {"dense_1": "n3", "dense_2": "n6"}, CLASSES, {"monitor": "val_loss"})


@pytest.fixture
def digits(window: MainWindow, tmp_path: Path) -> TrainingPanel:
    path = tmp_path / "digits.dcproj"
    graph.save_project(make_template("mlp-digits"), path)
    assert window.files.open_path(path, ask_to_save=False)
    window.show_training()
    panel = window.training
    panel.ensure_built()
    return panel


def wait_picker(qtbot, panel: TrainingPanel) -> None:
    qtbot.waitUntil(lambda: panel.picker.ready and panel.picker.dataset is not None, timeout=30_000)


def test_window_has_training_dock_menu_and_shortcuts(window: MainWindow) -> None:
    assert window.training_dock.widget() is window.training
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert "Train" in menus
    keys = [s.toString() for s in window.actions_by_name["train_start"].shortcuts()]
    assert "F5" in keys and "Ctrl+Return" in keys
    assert not window.actions_by_name["train_stop"].isEnabled()


def test_picking_a_data_set_is_undoable_and_shows_its_shapes(qtbot, window: MainWindow, digits: TrainingPanel) -> None:
    picker = digits.picker
    wait_picker(qtbot, digits)
    assert "digits: 1437 train / 360 val" in picker.summary.text()
    assert "1×8×8" in picker.shapes.text()
    assert picker.compat_problem is None and "Fits Input 'image'" in picker.compat.text()
    assert picker.preview.preview is not None and picker.preview.preview.kind == "images"

    index = picker.kind_combo.findData("iris")
    assert index >= 0
    picker.kind_combo.setCurrentIndex(index)
    picker.kind_combo.activated.emit(index)
    assert window.project.settings["dataset"] == {"kind": "iris"}
    assert window.isWindowModified()
    qtbot.waitUntil(lambda: picker.ready and picker.dataset is not None and picker.dataset.name == "iris",
                    timeout=10_000)
    assert "iris: 120 train / 30 val" in picker.summary.text()
    assert "Input <b>4</b>" in picker.shapes.text()
    assert picker.preview.preview.kind == "table"
    assert picker.preview.table.horizontalHeaderItem(0).text() == "sepal length (cm)"
    # the network's Input node does not fit: said before any training, naming the node
    assert picker.compat_problem is not None and "Input 'image'" in picker.compat_problem
    assert "set the Input shape to 4" in picker.compat_problem

    window.session.undo_stack.undo()
    assert window.project.settings["dataset"] == {"kind": "digits"}
    assert picker.kind_combo.currentData() == "digits"
    assert not window.isWindowModified()
    qtbot.waitUntil(lambda: picker.ready and picker.dataset.name == "digits", timeout=10_000)


def test_data_set_options_and_user_files(qtbot, window: MainWindow, digits: TrainingPanel, tmp_path: Path) -> None:
    picker = digits.picker
    wait_picker(qtbot, digits)
    picker.choose_kind("csv")
    assert picker.path_row.isVisibleTo(picker)
    assert set(picker.option_edits) == {"target", "task", "delimiter", "exclude", "max_categories"}
    # a file that is not there: the picker says so in place
    picker.path_edit.setText(str(tmp_path / "missing.csv"))
    picker.path_edit.editingFinished.emit()
    assert window.project.settings["dataset"]["path"] == "missing.csv"   # kept relative to the project
    qtbot.waitUntil(lambda: picker.ready and bool(picker.error), timeout=10_000)
    assert "missing.csv" in picker.error and "does not exist" in picker.error
    # a real table, its target given as an option
    (tmp_path / "table.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(40)))
    picker.set_path(str(tmp_path / "table.csv"))
    picker.option_edits["target"].setText("label")
    picker.option_edits["target"].editingFinished.emit()
    assert window.project.settings["dataset"]["options"] == {"target": "label"}
    qtbot.waitUntil(lambda: picker.ready and picker.dataset is not None, timeout=10_000)
    assert not picker.error
    assert "2 classes" in picker.summary.text()
    assert picker.preview.preview.kind == "table"


def test_invalid_option_is_refused_with_the_message_in_place(qtbot, window: MainWindow,
                                                            digits: TrainingPanel) -> None:
    form = digits.options_form
    before = dict(window.project.settings["training"])
    index = window.session.undo_stack.index()
    editor = form.editors["lr"]
    editor.field.setValue(0.0)            # the learning rate must be above 0
    assert editor.error and "'lr'" in editor.error and "above 0" in editor.error
    assert editor.error_label.isVisibleTo(form)
    assert window.project.settings["training"] == before
    assert window.session.undo_stack.index() == index

    assert form.set_option("lr", 0.01)
    assert not editor.error
    assert window.project.settings["training"]["lr"] == 0.01

    # an option that does not suit the task is refused too, saying why
    assert not form.set_option("loss", "mse")
    assert "does not suit classification" in form.editors["loss"].error
    # a new task brings its dependents along instead of being refused
    assert form.set_option("recipe", "regression")
    assert window.project.settings["training"]["recipe"] == "regression"
    assert form.editors["loss"].field.currentText() == "auto"


def test_options_are_undoable_and_saved_in_the_project_file(qtbot, window: MainWindow, digits: TrainingPanel,
                                                            tmp_path: Path) -> None:
    form = digits.options_form
    assert not form.editors["momentum"].isEnabled()      # Adam has no momentum option
    editor = form.editors["epochs"]
    editor.field.setValue(5)
    assert window.project.settings["training"]["epochs"] == 5
    assert window.isWindowModified()
    assert form.set_option("optimizer", "sgd")
    assert form.editors["momentum"].isEnabled()
    window.session.undo_stack.undo()
    assert window.project.settings["training"]["optimizer"] == "adam"
    assert window.files.save()
    saved = graph.load_project(window.session.path)
    assert saved.settings["training"]["epochs"] == 5
    window.session.undo_stack.undo()
    assert editor.field.value() == 30


def test_plots_redraw_at_most_30_times_a_second(qtbot, window: MainWindow, digits: TrainingPanel,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, float]] = []
    original = pg.PlotDataItem.setData

    def counting(self, *args, **kwargs):
        calls.append((id(self), time.monotonic()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pg.PlotDataItem, "setData", counting)
    state = {"step": 0, "epoch": 0}

    def flood(handle: FakeHandle, now: float) -> list[Any]:
        events: list[Any] = []
        if state["step"] == 0:
            events += [StatusChanged(0.0, "running"), started(handle.run_dir)]
        for _ in range(200):                   # far more events than any screen can show
            state["step"] += 1
            s = state["step"]
            events.append(StepMetrics(now, s, s // 1000 + 1, (s % 1000) / 1000, 1.0 / s, 1e-3, 5e4, 1.0,
                                      {"dense_1": 0.5, "dense_2": 0.25}))
            if s % 100 == 0:
                state["epoch"] += 1
                events.append(EpochMetrics(now, state["epoch"], s, {"train_loss": 1.0, "val_loss": 1.1,
                                                                  "train_accuracy": 0.5, "val_accuracy": 0.6}))
        if now > 1.6:
            events.append(RunFinished(now, "completed"))
        return events

    digits.controller.starter = lambda project, **kw: FakeHandle(tmp_path / "runs" / "fake", flood)
    assert digits.start()
    qtbot.waitUntil(lambda: not digits.active, timeout=10_000)
    qtbot.waitUntil(lambda: digits.plots.up_to_date, timeout=5_000)
    assert digits.curves.point_count() > 5000
    per_curve: dict[int, list[float]] = {}
    for ident, t in calls:
        per_curve.setdefault(ident, []).append(t)
    busiest = 0
    for times in per_curve.values():
        for i, t in enumerate(times):
            busiest = max(busiest, sum(1 for u in times[i:] if u - t < 1.0))
    assert busiest <= MAX_REDRAW_HZ, f"a curve was redrawn {busiest} times within one second"
    assert digits.plots.redraw_count >= 10, "the plots must keep up while events pour in"
    # the last data is drawn once the flood is over
    item = digits.plots.curve_items()[("loss", "train (steps)")]
    assert len(item.xData) == len(digits.curves.groups["loss"]["train (steps)"])


def test_series_buffers_double_and_hand_out_views() -> None:
    s = Series(capacity=4)
    for i in range(9):
        s.append(i, 2 * i)
    assert s.capacity == 16 and len(s) == 9
    assert s.x.tolist() == list(range(9)) and s.y[-1] == 16
    s.extend(range(9, 40), range(9, 40))
    assert s.capacity == 64 and len(s) == 40
    assert s.x.base is not None     # a view into the buffer, no copy


@pytest.mark.parametrize(("kind", "message", "node"), [
    ("oom", "The CPU device ran out of memory at step 12 with batch size 64: lower the batch size.", None),
    ("shape", "Dense 'dense_1' failed on the data at step 1: mat1 and mat2 shapes cannot be multiplied.", "n3"),
    ("worker_died", "The training process stopped unexpectedly (it exited with code 1).", None),
])
def test_faults_show_in_the_panel_and_keep_the_curves(qtbot, window: MainWindow, digits: TrainingPanel,
                                                      tmp_path: Path, kind: str, message: str,
                                                      node: str | None) -> None:
    def failing(handle: FakeHandle, now: float) -> list[Any]:
        if handle.calls or now < 0.05 or handle.finished:
            return []
        handle.calls.append("done")
        return [started(handle.run_dir, epochs=5, steps=10),
                StepMetrics(0.2, 5, 1, 0.5, 2.0, 1e-3, 100.0, 1.0, {"dense_1": 1.0}),
                EpochMetrics(0.3, 1, 10, {"train_loss": 1.5, "val_loss": 1.4, "val_accuracy": 0.4}),
                RunError(0.4, kind, message, step=12, node=node),
                RunFinished(0.4, "failed", {"status": "failed"})]

    digits.controller.starter = lambda project, **kw: FakeHandle(tmp_path / "runs" / "fake", failing)
    assert digits.start()
    qtbot.waitUntil(lambda: digits.status == "failed", timeout=5_000)
    banner = digits.banner
    assert banner.isVisibleTo(digits)
    assert message.split(":")[0] in banner.message.text()
    assert digits.curves.point_count() >= 3           # what was drawn stays
    assert digits.start_button.isEnabled()
    if node:
        assert banner.node_button.isVisibleTo(digits) and "dense_1" in banner.node_button.text()
        assert window.current_view().canvas.selected_node_ids() == [node]
    assert window.isVisible()


def test_start_needs_a_saved_project_and_a_data_set(qtbot, window: MainWindow, dialog,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    window.session.replace_project(make_template("mlp-digits"))
    panel = window.training
    asked: list[str] = []
    # an untitled project: Save As is offered, and the person cancels it
    monkeypatch.setattr(dialogs, "choose_save_path", lambda parent, suggested, why="": asked.append(suggested))
    assert not panel.start()
    assert asked
    assert "Save the project first" in panel.banner.message.text()
    assert not panel.active
    window.project.settings.pop("dataset")
    assert not panel.start()
    assert "Choose a data set first" in panel.banner.message.text()
    assert panel.side.currentWidget() is panel.picker


def test_stop_that_hangs_offers_force_stop(qtbot, window: MainWindow, digits: TrainingPanel,
                                          tmp_path: Path) -> None:
    digits.controller._stop_timer.setInterval(50)

    def stuck(handle: FakeHandle, now: float) -> list[Any]:
        if "kill" in handle.calls and not handle.finished:
            return [StatusChanged(now, "stopped"), RunFinished(now, "stopped", {"status": "stopped"})]
        if "began" not in handle.calls:
            handle.calls.append("began")
            return [StatusChanged(now, "running")]
        return []        # a worker stuck in a long step: Stop gets no answer

    digits.controller.starter = lambda project, **kw: FakeHandle(tmp_path / "runs" / "fake", stuck)
    assert digits.start()
    qtbot.waitUntil(lambda: digits.status == "running", timeout=5_000)
    qtbot.mouseClick(digits.stop_button, Qt.MouseButton.LeftButton)
    assert digits.status == "stopping"
    qtbot.waitUntil(lambda: digits.kill_button.isVisibleTo(digits), timeout=5_000)
    qtbot.mouseClick(digits.kill_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: digits.status == "stopped", timeout=5_000)
    assert not digits.kill_button.isVisibleTo(digits)
    QApplication.processEvents()


def test_the_panel_costs_start_up_nothing(tmp_path: Path) -> None:
    """Tabbed away behind the summary, the panel is not built: no pyqtgraph, numpy or data-set
    code (scikit-learn) is imported before it is first shown."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = ("import sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "import gui.app\n"
            "w = gui.app.create_window(restore_layout=False)\n"
            "w.show()\n"
            "for _ in range(10): app.processEvents()\n"
            "print(w.training._built, sorted(m for m in ('numpy', 'pyqtgraph', 'sklearn', 'torch') "
            "if m in sys.modules))\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               DEEPCANVAS_RECOVERY_DIR=str(tmp_path / "recovery"),
               PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False []"
