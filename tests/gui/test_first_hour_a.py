"""What a new user tripped over in the first hour (issue 16, points 1, 2, 5, 6 and 8), driven with
the keys, clicks and presses a person gives: weights attached when a run ends, analysis views that
belong to their project, a quiet Quit → Discard, a GUI export of the training script, and messages
that say why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gui_helpers import send_mouse
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from test_analysis_views import digits_cnn
from test_canvas_wiring import drop_from_palette

import graph
from graph import compile_network, save_project
from graph.templates import make_template
from gui import commands, dialogs
from gui.canvas.node_item import HEADER, WIDTH
from gui.main_window import TRAINING_NEEDS_A_FILE, MainWindow

ROOT = Path(__file__).resolve().parents[2]
WAIT = 90_000
LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier


def _settle(qtbot) -> None:
    for _ in range(3):
        QApplication.processEvents()
    qtbot.wait(10)


def _click_node(window: MainWindow, node_id: str) -> None:
    """Press and release on a card's header, as a person selects it."""
    view = window.current_view()
    at = view.canvas.nodes[node_id].pos() + QPointF(WIDTH / 2, HEADER / 2)
    send_mouse(view, QEvent.Type.MouseButtonPress, at)
    send_mouse(view, QEvent.Type.MouseButtonRelease, at)


def _type_into(qtbot, field, text: str) -> None:
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


# -- point 1: a run's weights are attached when it ends --------------------------------------------------
def test_a_finished_run_attaches_its_weights_and_the_load_dialog_reads_its_preselected_run(
        qtbot, window: MainWindow, dialog, tmp_path: Path) -> None:
    window.session.replace_project(make_template("mlp-digits"))
    dialog.save_path = tmp_path / "digits.dcproj"
    window.training.ensure_built()
    window.training.overrides = {"epochs": 1}
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert window.session.path == tmp_path / "digits.dcproj"
    qtbot.waitUntil(lambda: "main" in window.session.weights, timeout=WAIT)
    assert window.training.status == "completed"
    assert "are attached to 'main'" in window.statusBar().currentMessage()
    assert window.session.undo_stack.undoText().startswith("Attach the weights of run")
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)                   # one undo step takes them off
    assert "main" not in window.session.weights

    # Analyze ▸ Load Weights shows that run as chosen: Attach works without picking it again
    window.actions_by_name["analyze_load_weights"].trigger()
    loader = window.analysis.views["weights"]
    assert loader.kind == "run" and loader.run_box.currentData()
    qtbot.waitUntil(lambda: not loader.busy and loader.match is not None, timeout=WAIT)
    assert loader.attach_button.isEnabled()
    qtbot.mouseClick(loader.attach_button, LEFT)
    assert "main" in window.session.weights


# -- point 2: analysis views belong to their project, and say when they do not apply ------------------------
def test_analysis_views_forget_the_last_project_and_say_why_a_gan_has_no_evaluation(
        qtbot, window: MainWindow, dialog, tmp_path: Path) -> None:
    project = digits_cnn()
    window.session.replace_project(project, save_project(project, tmp_path / "digits.dcproj"))
    session = window.session
    session.push(commands.SetWeightsCommand(session, "main", compile_network(project, seed=5).state_dict(), "seeded"))
    window.actions_by_name["analyze_evaluate"].trigger()
    view = window.analysis.views["evaluate"]
    qtbot.waitUntil(lambda: not view.busy and view.result is not None, timeout=WAIT)
    assert view.confusion.matrix is not None and view.table.rowCount() == 10

    # another project, from the start page (its card clicked); the unsaved weights are discarded
    dialog.unsaved_answer = "discard"
    window.actions_by_name["start_page"].trigger()
    _settle(qtbot)
    qtbot.mouseClick(window.first_screen.start.page.cards["gan-digits"], LEFT)
    _settle(qtbot)
    assert window.project.name != project.name
    assert view.result is None and view.confusion.matrix is None
    assert view.summary.text() == "" and view.table.rowCount() == 0 and not view.tiles
    assert not view.body.isVisibleTo(view)
    assert "is for classifiers" in view.notice.label.text() and "GAN" in view.notice.label.text()
    assert not view.notice.button.isVisibleTo(view)              # no "load weights" for what cannot apply

    window.actions_by_name["analyze_trace"].trigger()
    tracer = window.analysis.views["trace"]
    assert "GAN with 2 Inputs" in tracer.not_applicable_text
    assert tracer.notice.isVisibleTo(tracer) and not tracer.rows


# -- point 5: Quit → Discard ends quietly ---------------------------------------------------------------
QUIT_SCRIPT = """
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui import dialogs
from gui.app import create_window
asked = []
dialogs.ask_unsaved_changes = lambda parent, name: asked.append(name) or "discard"
window = create_window(restore_layout=False)
window.show()
window.add_layer_from_palette("Dense")
assert window.session.modified
QTimer.singleShot(200, lambda: QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier))
app.exec()
assert asked, "Quit should have asked about the unsaved change"
"""


def test_quit_then_discard_prints_no_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DEEPCANVAS_RECOVERY_DIR=str(tmp_path / "rec"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", QUIT_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "already deleted" not in result.stderr, result.stderr[-2000:]


# -- point 6: File ▸ Export offers the training script ----------------------------------------------------
def test_export_writes_the_training_script_or_the_model_alone(qtbot, window: MainWindow, dialog,
                                                               tmp_path: Path) -> None:
    window.session.replace_project(make_template("mlp-digits"))
    dialog.export_kind = "training"
    dialog.export_path = tmp_path / "train.py"
    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    qtbot.waitUntil(lambda: not window.files.exporting, timeout=WAIT)
    assert not dialog.errors, dialog.errors
    script = (tmp_path / "train.py").read_text()
    assert script != graph.export_python(window.project, "main")
    assert "load_digits" in script and ".backward()" in script and "optimizer" in script
    compile(script, "train.py", "exec")
    assert "python train.py trains it" in window.statusBar().currentMessage()
    dialog.export_kind, dialog.export_path = "model", tmp_path / "model.py"
    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    assert (tmp_path / "model.py").read_text() == graph.export_python(window.project, "main")


def test_the_export_dialog_offers_both_and_says_why_only_the_model(qtbot, window: MainWindow) -> None:
    box = dialogs.ExportDialog(window, str(Path("net.py")))
    qtbot.addWidget(box)
    box.show()
    assert box.training_button.isChecked() and box.choice().kind == "training"
    qtbot.mouseClick(box.model_button, LEFT, pos=QPoint(8, box.model_button.height() // 2))
    assert box.choice().kind == "model"
    box.path_edit.setText("")
    qtbot.keyClicks(box.path_edit, "other")
    assert box.choice().path == Path("other.py")
    no_data = dialogs.ExportDialog(window, "net.py", "The training script needs a data set")
    qtbot.addWidget(no_data)
    assert not no_data.training_button.isEnabled() and no_data.model_button.isChecked()
    assert not no_data.reason.isHidden()


# -- point 8: messages and hints ------------------------------------------------------------------------
def test_f5_on_an_untitled_project_says_why_it_asks_to_save(qtbot, window: MainWindow,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    reasons: list[str] = []
    monkeypatch.setattr(dialogs, "choose_save_path", lambda parent, suggested, why="": reasons.append(why))
    window.session.replace_project(make_template("mlp-digits"))
    qtbot.keyClick(window, Qt.Key.Key_F5)                       # the person cancels the Save dialog
    assert reasons == [TRAINING_NEEDS_A_FILE] and "runs" in reasons[0]
    assert not window.training.active
    assert "Save the project first" in window.training.banner.message.text()


def test_the_empty_canvas_hint_goes_from_the_screen_when_a_node_is_dropped(qtbot, window: MainWindow) -> None:
    view = window.current_view()
    vp = view.viewport()
    middle = QRect(0, 0, vp.width() // 3, 24)
    middle.moveCenter(vp.rect().center())

    def on_screen() -> QImage:
        """The middle of the canvas as the screen shows it (the window's backing store)."""
        shot = vp.screen().grabWindow(window.winId())
        return shot.copy(QRect(vp.mapTo(window, middle.topLeft()), middle.size())).toImage()

    def rendered() -> QImage:
        """The same spot painted afresh from the scene."""
        return vp.grab(middle).toImage().convertToFormat(on_screen().format())

    _settle(qtbot)
    with_hint = on_screen()
    assert with_hint == rendered()
    drop_from_palette(window, "Dense", QPoint(90, 70))         # far from the middle, where the hint is
    _settle(qtbot)
    assert rendered() != with_hint                              # the hint is gone from a fresh paint...
    assert on_screen() == rendered()                            # ...and from the screen


def test_the_status_bar_counts_a_data_problem_and_bad_shape_text_is_refused(qtbot, window: MainWindow) -> None:
    window.session.replace_project(make_template("mlp-digits"))
    qtbot.keyClick(window, Qt.Key.Key_T, CTRL | Qt.KeyboardModifier.ShiftModifier)
    picker = window.training.picker
    qtbot.waitUntil(lambda: picker.dataset is not None, timeout=WAIT)
    assert window.problems_button.text() == "No problems"
    # "Flat: default" is explained: what empty means, and a tooltip that says what it changes
    flat = picker.option_edits["flat"]
    assert flat.placeholderText() != "default" and "1×8×8" in flat.placeholderText()
    assert "Dense" in flat.toolTip()

    net = window.project.main
    image = net.find("image")
    _click_node(window, image.id)
    field = window.inspector.editors["shape"].field
    _type_into(qtbot, field, "1, 8, x")                          # a typo is refused, not half-taken
    assert net.node(image.id).params["shape"] == (1, 8, 8)
    assert "stray separator" in window.inspector.editors["shape"].error
    _type_into(qtbot, field, "1, 8, 9")                          # fits the network, not the data
    assert net.node(image.id).params["shape"] == (1, 8, 9)
    qtbot.waitUntil(lambda: window.problems_button.text() != "No problems", timeout=WAIT)
    assert window.problems_button.text() == "Data does not fit"
    assert "1×8×9" in window.problems_button.toolTip() or "Input" in window.problems_button.toolTip()
    side = window.training.side
    side.setCurrentIndex(1 if side.indexOf(picker) == 0 else 0)     # another tab in front
    assert side.currentWidget() is not picker
    qtbot.mouseClick(window.problems_button, LEFT)               # leads to the Data tab
    assert window.training.side.currentWidget() is picker


def test_save_as_names_an_untitled_project_after_its_file(qtbot, window: MainWindow, dialog,
                                                          tmp_path: Path) -> None:
    assert window.project.name == "Untitled"
    drop_from_palette(window, "Dense", QPoint(200, 150))
    dialog.save_path = tmp_path / "my-net.dcproj"
    qtbot.keyClick(window, Qt.Key.Key_S, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.path == tmp_path / "my-net.dcproj"
    assert window.project.name == "my-net"
    assert window.windowTitle().startswith("my-net") and "Untitled" not in window.windowTitle()
    assert graph.load_project(tmp_path / "my-net.dcproj").name == "my-net"
