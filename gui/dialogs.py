"""Every modal question the editor asks, in one place: tests replace these functions with
monkeypatch, and the rest of the code never builds a QMessageBox itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QRadioButton,
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


def choose_save_path(parent: QWidget, suggested: str, why: str = "") -> Path | None:
    """Where to save the project; ``why`` titles the dialog when saving was not the person's idea
    (F5 on an untitled project: runs are kept beside the project file)."""
    return _choose_target(parent, why or "Save project as", suggested, PROJECT_FILTER, ".dcproj")


def choose_export_path(parent: QWidget, suggested: str) -> Path | None:
    return _choose_target(parent, "Export Python script", suggested, PYTHON_FILTER, ".py")


ExportKind = Literal["training", "model"]


@dataclass(frozen=True)
class ExportChoice:
    path: Path
    kind: ExportKind


class ExportDialog(QDialog):
    """File ▸ Export Python Script: the full training script (what ``main.py export`` writes when
    the project has a data set) or the model alone, and where to write it."""

    def __init__(self, parent: QWidget | None, suggested: str, training_unavailable: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Python script")
        self.training_button = QRadioButton("Training script: the network, the project's data set and its "
                                            "training loop (python train.py trains it as DeepCanvas does)")
        self.model_button = QRadioButton("Model only: the network as a torch nn.Module, nothing else needed")
        for button in (self.training_button, self.model_button):
            button.setToolTip(button.text())
        group = QButtonGroup(self)
        group.addButton(self.training_button)
        group.addButton(self.model_button)
        self.reason = QLabel(training_unavailable)
        self.reason.setProperty("role", "muted")
        self.reason.setWordWrap(True)
        self.reason.setVisible(bool(training_unavailable))
        self.training_button.setEnabled(not training_unavailable)
        (self.model_button if training_unavailable else self.training_button).setChecked(True)
        self.path_edit = QLineEdit(suggested)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(QLabel("File:"))
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.path_edit.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text.strip())))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Export:"))
        layout.addWidget(self.training_button)
        layout.addWidget(self.model_button)
        layout.addWidget(self.reason)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(620, self.sizeHint().height())

    def _browse(self) -> None:
        path = _choose_target(self, "Export Python script", self.path_edit.text(), PYTHON_FILTER, ".py")
        if path is not None:
            self.path_edit.setText(str(path))

    def choice(self) -> ExportChoice | None:
        text = self.path_edit.text().strip()
        if not text:
            return None
        path = Path(text).expanduser()
        kind: ExportKind = "training" if self.training_button.isChecked() else "model"
        return ExportChoice(path if path.suffix else path.with_suffix(".py"), kind)


def choose_export(parent: QWidget, suggested: str, training_unavailable: str = "") -> ExportChoice | None:
    """What to export and where; ``training_unavailable`` says why only the model can be exported."""
    dialog = ExportDialog(parent, suggested, training_unavailable)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.choice()


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
