"""Fixtures for driving the real editor widgets with pytest-qt.

Every test gets its own settings file and recovery folder, and every modal dialog is replaced by a
recorder: a test that would open one unexpectedly fails instead of hanging.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QApplication

from gui import dialogs
from gui.main_window import MainWindow
from gui.recovery import RecoveryStore
from gui.settings import AppSettings


class DialogRecorder:
    """Stands in for gui.dialogs: answers are set per test, every call is logged."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.calls: list[str] = []
        self.unsaved_answer: str | None = None
        self.restore_answer: bool | None = None
        self.open_path: Path | None = None
        self.save_path: Path | None = None
        self.export_path: Path | None = None
        #: what File ▸ Export writes: "model" (the model alone) or "training" (the training script)
        self.export_kind: str = "model"
        #: the reason each save dialog gave for asking ("" when the person asked to save)
        self.save_reasons: list[str] = []
        self.template: str | None = None
        self.text: str | None = None

    def _need(self, name: str, value: Any) -> Any:
        self.calls.append(name)
        if value is None:
            raise AssertionError(f"unexpected dialog: {name}")
        return value

    def _choose_save(self, parent: Any, suggested: str, why: str = "") -> Path:
        self.save_reasons.append(why)
        return self._need("save", self.save_path)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(dialogs, "show_error", lambda parent, title, message: self.errors.append((title, message)))
        monkeypatch.setattr(dialogs, "ask_unsaved_changes",
                            lambda parent, name: self._need("ask_unsaved_changes", self.unsaved_answer))
        monkeypatch.setattr(dialogs, "ask_restore", lambda parent, d: self._need("ask_restore", self.restore_answer))
        monkeypatch.setattr(dialogs, "choose_open_path", lambda parent, d="": self._need("open", self.open_path))
        monkeypatch.setattr(dialogs, "choose_save_path", self._choose_save)
        monkeypatch.setattr(dialogs, "choose_export_path", lambda parent, s: self._need("export", self.export_path))
        monkeypatch.setattr(dialogs, "choose_export", lambda parent, s, unavailable="": dialogs.ExportChoice(
            self._need("export", self.export_path), self.export_kind))
        monkeypatch.setattr(dialogs, "choose_template", lambda parent: self._need("template", self.template))
        monkeypatch.setattr(dialogs, "ask_text", lambda parent, t, label, text="": self._need("text", self.text))


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    QStandardPaths.setTestModeEnabled(True)
    monkeypatch.setenv("DEEPCANVAS_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.delenv("DEEPCANVAS_THEME", raising=False)


@pytest.fixture
def dialog(monkeypatch: pytest.MonkeyPatch) -> DialogRecorder:
    recorder = DialogRecorder()
    recorder.install(monkeypatch)
    return recorder


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def recovery_dir(tmp_path: Path) -> Path:
    return tmp_path / "recovery"


@pytest.fixture
def window(qtbot, dialog: DialogRecorder, settings: AppSettings, recovery_dir: Path) -> Iterator[MainWindow]:
    win = MainWindow(settings=settings, recovery=RecoveryStore(recovery_dir), restore_layout=False)
    # closing must not ask about unsaved work (pytest-qt closes the window before fixtures end)
    qtbot.addWidget(win, before_close_func=lambda w: w.session.undo_stack.setClean())
    win.resize(1280, 820)
    win.show()
    qtbot.waitExposed(win)
    QApplication.processEvents()
    yield win

