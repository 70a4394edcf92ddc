"""One editor widget per parameter kind, generated from the registry's ParamSpec.

Editors only report what the person entered (``edited``); the inspector turns it into an undo
command, and the document's coercion decides whether it is valid. A refused value stays in the
field, marked, with the core's sentence beneath it, so the person can correct it.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QValidator, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from graph.params import ParamSpec

INT_LIMIT = 2**31 - 1


def format_value(spec: ParamSpec, value: Any) -> str:
    if spec.kind == "ints":
        return ", ".join(str(v) for v in value)
    if spec.kind == "float":
        return f"{value:g}"
    return str(value)


class _FocusWheel:
    """The wheel changes a value only once the field has focus; before that it scrolls the
    inspector, so reading a long parameter list cannot edit it by accident."""

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


class SpinBox(_FocusWheel, QSpinBox):
    pass


class ComboBox(_FocusWheel, QComboBox):
    pass


class FloatSpinBox(_FocusWheel, QDoubleSpinBox):
    """A spin box that shows ``1e-05`` as such instead of rounding it to 0.00."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            partial = stripped in ("", "-", "+", ".") or stripped.endswith(("e", "e-", "e+", "E", "E-", "E+"))
            state = QValidator.State.Intermediate if partial else QValidator.State.Invalid
            return state, text, pos
        if not math.isfinite(value) or not (self.minimum() <= value <= self.maximum()):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Acceptable, text, pos


class ParamEditor(QWidget):
    """A field plus the line under it where a refusal is explained."""

    edited = Signal(str, object)   # param name, raw value

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        #: bumped whenever the field gains focus; edits within one focus merge into one undo step
        self.focus_generation = 0
        self.field = self._make_field()
        self.field.setToolTip(spec.help)
        self.field.installEventFilter(self)
        self.error_label = QLabel()
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.field)
        layout.addWidget(self.error_label)

    def _make_field(self) -> QWidget:
        spec = self.spec
        if spec.kind == "int":
            box = SpinBox()
            box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            box.setRange(int(spec.minimum) if spec.minimum is not None else -INT_LIMIT,
                         int(min(spec.maximum, INT_LIMIT)) if spec.maximum is not None else INT_LIMIT)
            box.setAccelerated(True)
            box.valueChanged.connect(lambda v: self.edited.emit(spec.name, int(v)))
            return box
        if spec.kind == "float":
            box = FloatSpinBox()
            box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            box.setRange(spec.minimum if spec.minimum is not None else -1e12,
                         spec.maximum if spec.maximum is not None else 1e12)
            span = (spec.maximum or 1.0) - (spec.minimum or 0.0)
            box.setSingleStep(0.05 if span <= 1.0 else 0.1)
            box.valueChanged.connect(lambda v: self.edited.emit(spec.name, float(v)))
            return box
        if spec.kind == "bool":
            check = QCheckBox()
            check.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # the click target is the box
            check.toggled.connect(lambda v: self.edited.emit(spec.name, bool(v)))
            return check
        if spec.kind == "choice":
            combo = ComboBox()
            combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            combo.addItems(list(spec.choices))
            combo.activated.connect(lambda i: self.edited.emit(spec.name, combo.itemText(i)))
            return combo
        line = QLineEdit()
        if spec.extra.get("readonly"):
            # shown, not edited here (a Block's definition name: rename the block, or make a copy)
            line.setReadOnly(True)
            line.setFrame(False)
            return line
        if spec.kind == "ints":
            line.setPlaceholderText("e.g. 3, 3" if (spec.length or 1) > 1 else "whole numbers, comma separated")
        line.editingFinished.connect(lambda: self.edited.emit(spec.name, line.text()))
        return line

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.field and event.type() == QEvent.Type.FocusIn:
            self.focus_generation += 1
        return super().eventFilter(watched, event)

    def set_value(self, value: Any) -> None:
        """Show the document's value without echoing it back as an edit."""
        f = self.field
        f.blockSignals(True)
        try:
            if isinstance(f, QSpinBox | FloatSpinBox):
                f.setValue(value)
            elif isinstance(f, QCheckBox):
                f.setChecked(bool(value))
            elif isinstance(f, QComboBox):
                f.setCurrentText(str(value))
            elif isinstance(f, QLineEdit):
                text = format_value(self.spec, value)
                if f.text() != text:
                    f.setText(text)
        finally:
            f.blockSignals(False)
        self.show_error(None)

    def show_error(self, message: str | None) -> None:
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))
        self.field.setProperty("invalid", bool(message))
        self.field.setStyleSheet("border: 1px solid #d93d3d; border-radius: 3px;" if message else "")

    @property
    def error(self) -> str:
        return self.error_label.text()
