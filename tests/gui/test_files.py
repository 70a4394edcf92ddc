"""New / Open / Save / Save As / recent files / export, the unsaved-changes prompt and the title."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import snapshot

import graph
from graph.templates import make_template
from gui import commands
from gui.main_window import MainWindow


def _edit(window: MainWindow) -> None:
    window.session.push(commands.AddNodeCommand(window.project.main, "ReLU", (0, 0)))


def test_title_marks_unsaved_changes(window: MainWindow) -> None:
    assert not window.isWindowModified()
    _edit(window)
    assert window.isWindowModified()
    assert "[*]" in window.windowTitle()   # Qt shows it as "*" while modified
    window.session.undo_stack.undo()
    assert not window.isWindowModified()


def test_save_and_open_round_trip(window: MainWindow, dialog, tmp_path: Path) -> None:
    window.session.replace_project(make_template("lstm-sequence"))
    _edit(window)
    dialog.save_path = tmp_path / "seq.dcproj"
    assert window.files.save()
    assert not window.isWindowModified()
    assert "seq.dcproj" in window.windowTitle()
    saved = snapshot(window.project)
    assert snapshot(graph.load_project(tmp_path / "seq.dcproj")) == saved

    window.session.replace_project(make_template("cnn-digits"))
    dialog.open_path = tmp_path / "seq.dcproj"
    assert window.files.open_dialog()
    assert snapshot(window.project) == saved
    assert window.session.path == tmp_path / "seq.dcproj"
    assert window.session.undo_stack.count() == 0
    # the canvas shows the opened file, shapes included
    view = window.current_view()
    lstm = window.project.main.find("lstm_1")
    assert view.canvas.nodes[lstm.id].shape_text == "N×48"
    assert window.settings.recent_files()[0] == (tmp_path / "seq.dcproj").resolve()
    # Save goes back to the same file without asking
    _edit(window)
    dialog.save_path = None
    assert window.files.save()
    assert len(graph.load_project(tmp_path / "seq.dcproj").main) == len(window.project.main)


def test_opening_a_broken_file_shows_why_and_keeps_the_document(window: MainWindow, dialog, tmp_path: Path) -> None:
    _edit(window)
    before = snapshot(window.project)
    broken = tmp_path / "broken.dcproj"
    broken.write_text('{"format": "deepcanvas-project", "format_version": 1, "networks": [{"name": "m", '
                      '"nodes": [{"id": "n1", "type": "NoSuchLayer", "name": "x"}]}]}')
    assert not window.files.open_path(broken, ask_to_save=False)
    assert dialog.errors and "NoSuchLayer" in dialog.errors[0][1]
    assert snapshot(window.project) == before
    assert window.isWindowModified()
    assert window.session.undo_stack.canUndo()


def test_new_from_template_or_empty(window: MainWindow, dialog) -> None:
    dialog.template = "mlp-digits"
    assert window.files.new_project()
    assert window.project.name == "MLP on digits"
    assert window.current_view().canvas.nodes
    dialog.template = ""
    assert window.files.new_project()
    assert len(window.project.main) == 0


@pytest.mark.parametrize("answer,closes,saved", [("cancel", False, False), ("discard", True, False),
                                                 ("save", True, True)])
def test_close_asks_about_unsaved_changes(window: MainWindow, dialog, tmp_path: Path, answer, closes, saved) -> None:
    _edit(window)
    dialog.unsaved_answer = answer
    dialog.save_path = tmp_path / "closing.dcproj"
    assert window.close() is closes
    assert dialog.calls.count("ask_unsaved_changes") == 1
    assert (tmp_path / "closing.dcproj").exists() is saved
    if not closes:
        assert window.isVisible()


def test_open_recent_menu(window: MainWindow, tmp_path: Path) -> None:
    paths = []
    for name in ("a", "b"):
        p = tmp_path / f"{name}.dcproj"
        graph.save_project(make_template("mlp-digits"), p)
        assert window.files.open_path(p)
        paths.append(p.resolve())
    labels = [a.text() for a in window.recent_menu.actions() if a.text() and not a.isSeparator()]
    assert labels[:2] == ["&1  b.dcproj", "&2  a.dcproj"]
    window.recent_menu.actions()[1].trigger()   # reopen a.dcproj
    assert window.session.path.resolve() == paths[0]


def test_export_python_script(window: MainWindow, dialog, tmp_path: Path) -> None:
    window.session.replace_project(make_template("mlp-digits"))
    dialog.export_path = tmp_path / "model.py"
    window.actions_by_name["export"].trigger()
    text = (tmp_path / "model.py").read_text()
    assert text == graph.export_python(window.project, "main")
    compile(text, "model.py", "exec")
    # a network with problems cannot be exported: the core's reason is shown instead
    window.session.replace_project(graph.Project(networks=[graph.Network("main")]))
    dialog.export_path = tmp_path / "bad.py"
    window.actions_by_name["export"].trigger()
    assert not (tmp_path / "bad.py").exists()
    assert dialog.errors and "Input" in dialog.errors[-1][1]
