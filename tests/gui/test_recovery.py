"""Autosave and recovery after a crash."""

from __future__ import annotations

from pathlib import Path

from gui_helpers import snapshot
from PySide6.QtCore import QSettings

import graph
from graph.templates import make_template
from gui import commands
from gui.main_window import MainWindow
from gui.recovery import RecoveryStore
from gui.settings import AppSettings


def test_autosave_writes_only_unsaved_work(window: MainWindow, recovery_dir: Path) -> None:
    files = window.files
    assert files.autosave_now() is None           # nothing unsaved
    window.session.push(commands.AddNodeCommand(window.project.main, "Dense", (0, 0)))
    written = files.autosave_now()
    assert written is not None and written.exists()
    assert snapshot(graph.load_project(written)) == snapshot(window.project)
    assert files.autosave_now() is None           # unchanged since the last autosave
    window.session.undo_stack.undo()              # back to the clean state: nothing to recover
    files.autosave_now()
    assert not written.exists()


def test_recovery_after_a_simulated_crash(qtbot, dialog, settings: AppSettings, recovery_dir: Path,
                                          tmp_path: Path) -> None:
    # a first editor works on a saved project, autosaves, then dies without closing
    original = tmp_path / "work.dcproj"
    graph.save_project(make_template("cnn-digits"), original)
    crashed = RecoveryStore(recovery_dir, session_id="crashed")
    project = graph.load_project(original)
    project.main.add_node("Dense", {"units": 5}, "added before the crash", (0, 500))
    crashed.write(project, original)
    crashed._lock.unlock()   # what the operating system does when the process dies
    expected = snapshot(project)

    # a running editor's autosave is never offered to another one
    alive = RecoveryStore(recovery_dir, session_id="alive")
    alive.write(make_template("mlp-digits"), None)

    dialog.restore_answer = True
    win = MainWindow(settings=settings, recovery=RecoveryStore(recovery_dir), restore_layout=False)
    qtbot.addWidget(win, before_close_func=lambda w: w.session.undo_stack.setClean())
    assert win.files.offer_recovery()
    assert dialog.calls.count("ask_restore") == 1
    assert snapshot(win.project) == expected
    assert win.session.path == original
    assert win.isWindowModified()                  # differs from the file on disk
    assert win.current_view().canvas.nodes[win.project.main.find("added before the crash").id]
    # the crashed session's files are gone; the live one's stay; ours holds the restored copy
    assert not (recovery_dir / "session-crashed.dcproj").exists()
    assert (recovery_dir / "session-alive.dcproj").exists()
    assert (recovery_dir / f"session-{win.files.recovery.session_id}.dcproj").exists()
    alive.release()


def test_declined_recovery_is_discarded(qtbot, dialog, tmp_path: Path, recovery_dir: Path) -> None:
    crashed = RecoveryStore(recovery_dir, session_id="old")
    crashed.write(make_template("mlp-digits"), None)
    crashed._lock.unlock()
    dialog.restore_answer = False
    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings=settings, recovery=RecoveryStore(recovery_dir), restore_layout=False)
    qtbot.addWidget(win)
    assert not win.files.offer_recovery()
    assert len(win.project.main) == 0
    assert RecoveryStore(recovery_dir).orphans() == []


def test_clean_close_leaves_nothing_to_recover(window: MainWindow, dialog, recovery_dir: Path) -> None:
    window.session.push(commands.AddNodeCommand(window.project.main, "Dense", (0, 0)))
    assert window.files.autosave_now() is not None
    dialog.unsaved_answer = "discard"
    assert window.close()
    assert RecoveryStore(recovery_dir).orphans() == []
    assert not list(recovery_dir.glob("*.dcproj"))
