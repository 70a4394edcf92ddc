"""The real modal dialogs (every other test replaces them): they open, and their answers mean what
the callers expect."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QListWidget, QMessageBox, QWidget

from gui import dialogs


def _answer_when_open(act) -> None:
    def attempt() -> None:
        modal = QApplication.activeModalWidget()
        if modal is None:
            QTimer.singleShot(10, attempt)
        else:
            act(modal)

    QTimer.singleShot(0, attempt)


def test_template_chooser_offers_empty_and_every_template(qtbot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    seen = []

    def pick_second(dialog: QDialog) -> None:
        choices = dialog.findChild(QListWidget)
        seen.extend(choices.item(i).text().splitlines()[0] for i in range(choices.count()))
        choices.setCurrentRow(2)
        dialog.accept()

    _answer_when_open(pick_second)
    assert dialogs.choose_template(parent) == "cnn-digits"
    assert seen[:3] == ["Empty network", "mlp-digits", "cnn-digits"]
    _answer_when_open(lambda d: d.reject())
    assert dialogs.choose_template(parent) is None


def test_unsaved_changes_answers(qtbot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    for button, answer in ((QMessageBox.StandardButton.Save, "save"), (QMessageBox.StandardButton.Discard, "discard"),
                           (QMessageBox.StandardButton.Cancel, "cancel")):
        _answer_when_open(lambda box, b=button: box.button(b).click())
        assert dialogs.ask_unsaved_changes(parent, "x.dcproj") == answer
