"""Every modal question the editor asks, in one place: tests replace these functions with
monkeypatch, and the rest of the code never builds a QMessageBox itself."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from graph.templates import list_templates

PROJECT_FILTER = "DeepCanvas projects (*.dcproj);;All files (*)"
PYTHON_FILTER = "Python scripts (*.py);;All files (*)"
EMPTY = ""

Answer = Literal["save", "discard", "cancel"]


def ask_unsaved_changes(parent: QWidget, name: str) -> Answer:
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                      f"Save the changes to '{name}' before closing it?",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, parent)
    box.setInformativeText("Your changes will be lost if you don't save them.")
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return "save"
    if answer == QMessageBox.StandardButton.Discard:
        return "discard"
    return "cancel"


def show_error(parent: QWidget, title: str, message: str) -> None:
    QMessageBox.critical(parent, title, message)


def ask_restore(parent: QWidget, description: str) -> bool:
    answer = QMessageBox.question(
        parent, "Recover unsaved work?",
        f"DeepCanvas did not close properly last time. Restore the autosaved copy of {description}?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


def choose_open_path(parent: QWidget, directory: str = "") -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open project", directory, PROJECT_FILTER)
    return Path(path) if path else None


def _choose_target(parent: QWidget, title: str, suggested: str, filters: str, suffix: str) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters)
    if not path:
        return None
    p = Path(path)
    return p if p.suffix else p.with_suffix(suffix)


def choose_save_path(parent: QWidget, suggested: str) -> Path | None:
    return _choose_target(parent, "Save project as", suggested, PROJECT_FILTER, ".dcproj")


def choose_export_path(parent: QWidget, suggested: str) -> Path | None:
    return _choose_target(parent, "Export Python script", suggested, PYTHON_FILTER, ".py")


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, text=text)
    return value if ok else None


def choose_template(parent: QWidget) -> str | None:
    """The template to start from, ``EMPTY`` for a blank network, ``None`` if cancelled."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("New project")
    dialog.resize(460, 320)
    layout = QVBoxLayout(dialog)
    layout.addWidget(QLabel("Start from:"))
    choices = QListWidget()
    blank = QListWidgetItem("Empty network\nA blank canvas")
    blank.setData(Qt.ItemDataRole.UserRole, EMPTY)
    choices.addItem(blank)
    for t in list_templates():
        item = QListWidgetItem(f"{t.name}\n{t.description}")
        item.setData(Qt.ItemDataRole.UserRole, t.name)
        choices.addItem(item)
    choices.setCurrentRow(0)
    choices.setSpacing(3)
    layout.addWidget(choices)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    choices.itemDoubleClicked.connect(lambda _item: dialog.accept())
    layout.addWidget(buttons)
    if dialog.exec() != QDialog.DialogCode.Accepted or choices.currentItem() is None:
        return None
    return choices.currentItem().data(Qt.ItemDataRole.UserRole)
