"""Autosave a few seconds after the last edit, off the GUI thread, with the attached weights."""

from __future__ import annotations

import threading
from pathlib import Path

import torch
from gui_helpers import snapshot

import graph
from graph.project_file import load_weights, weights_path
from gui import commands
from gui.main_window import MainWindow
from gui.recovery import RecoveryStore
from gui.settings import AppSettings

SHORT_MS = 40


def _recovery_file(window: MainWindow) -> Path:
    store = window.files.recovery
    return store.directory / f"session-{store.session_id}.dcproj"


def _holds(path: Path, window: MainWindow) -> bool:
    try:
        return snapshot(graph.load_project(path)) == snapshot(window.project)
    except graph.GraphError:
        return False


def _state(value: float) -> dict[str, torch.Tensor]:
    return {"dense.weight": torch.full((3, 4), value), "dense.bias": torch.zeros(3)}


def test_an_edit_reaches_the_recovery_file_soon_after_without_a_save(qtbot, window: MainWindow) -> None:
    window.files.autosaver.delay_ms = SHORT_MS
    target = _recovery_file(window)
    for k in range(3):          # a burst of edits: the copy ends up holding the last one
        window.session.push(commands.AddNodeCommand(window.project.main, "Dense", (k * 100, 0)))
    qtbot.waitUntil(lambda: target.exists() and _holds(target, window), timeout=5000)
    window.session.undo_stack.undo()
    qtbot.waitUntil(lambda: _holds(target, window), timeout=5000)
    while window.session.undo_stack.canUndo():
        window.session.undo_stack.undo()      # back to what is on disk: nothing to recover
    qtbot.waitUntil(lambda: not target.exists(), timeout=5000)


def test_the_recovery_file_is_written_off_the_gui_thread(qtbot, window: MainWindow, monkeypatch) -> None:
    window.files.autosaver.delay_ms = SHORT_MS
    threads: list[threading.Thread] = []
    store = window.files.recovery
    real = store.write

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "write", recording)
    window.session.push(commands.AddNodeCommand(window.project.main, "Dense", (0, 0)))
    assert threads == []                       # nothing written while the edit is handled
    qtbot.waitUntil(lambda: bool(threads) and _recovery_file(window).exists(), timeout=5000)
    assert threads[0] is not threading.main_thread()


def test_attached_weights_of_an_unsaved_project_are_recovered(qtbot, window: MainWindow, dialog,
                                                               settings: AppSettings, recovery_dir: Path) -> None:
    window.files.autosaver.delay_ms = SHORT_MS
    target = _recovery_file(window)
    window.session.push(commands.AddNodeCommand(window.project.main, "Dense", (0, 0)))
    window.session.push(commands.SetWeightsCommand(window.session, "main", _state(0.5), "run 1"))
    qtbot.waitUntil(lambda: weights_path(target).is_file() and _holds(target, window), timeout=5000)
    assert torch.equal(load_weights(target)["main"]["dense.weight"], torch.full((3, 4), 0.5))

    # newer weights replace them; an edit after that keeps them without writing them again
    window.session.push(commands.SetWeightsCommand(window.session, "main", _state(2.0), "run 2"))
    qtbot.waitUntil(lambda: float(load_weights(target)["main"]["dense.weight"][0, 0]) == 2.0, timeout=5000)
    written = weights_path(target).stat().st_mtime_ns
    window.session.push(commands.AddNodeCommand(window.project.main, "ReLU", (0, 200)))
    qtbot.waitUntil(lambda: _holds(target, window), timeout=5000)
    assert weights_path(target).stat().st_mtime_ns == written
    expected = snapshot(window.project)

    # the editor dies: its lock goes with it, and the next editor offers the copy back
    window.files.autosaver.shutdown()
    window.files.recovery._lock.unlock()
    dialog.restore_answer = True
    win = MainWindow(settings=settings, recovery=RecoveryStore(recovery_dir), restore_layout=False)
    qtbot.addWidget(win, before_close_func=lambda w: w.session.undo_stack.setClean())
    assert win.files.offer_recovery()
    assert snapshot(win.project) == expected
    state, source = win.session.network_weights("main")
    assert state is not None and torch.equal(state["dense.weight"], torch.full((3, 4), 2.0))
    assert "recovered" in source
    # the restored work, weights and all, is now in the new editor's own recovery copy
    assert weights_path(_recovery_file(win)).is_file()


def test_detached_weights_leave_the_recovery_file(qtbot, window: MainWindow) -> None:
    window.files.autosaver.delay_ms = SHORT_MS
    target = _recovery_file(window)
    window.session.push(commands.SetWeightsCommand(window.session, "main", _state(1.0), "run"))
    qtbot.waitUntil(lambda: weights_path(target).is_file(), timeout=5000)
    window.session.push(commands.SetWeightsCommand(window.session, "main", None))
    qtbot.waitUntil(lambda: target.exists() and not weights_path(target).is_file(), timeout=5000)
    assert list(target.parent.glob("*.safetensors")) == []
