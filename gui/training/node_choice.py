"""Editors for training options whose value names nodes of the trained network (OptionSpec kinds
"node" and "nodes"): a combo of the network's nodes with "automatic" first, and a read-only list of
frozen nodes with a button to unfreeze them all.

The lists follow the network (the form refreshes them on node events); a stored name that is no
longer in the network stays selected, marked, with a sentence saying what to do, instead of
silently falling back to "automatic".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from gui.param_editors import ComboBox, ParamEditor

#: what the combo says for "" (the engine picks the node)
AUTOMATIC = "automatic"


class NodeChoiceEditor(ParamEditor):
    """One node of the network, or automatic (stored as "")."""

    def _make_field(self) -> QWidget:
        combo = ComboBox()
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(10)
        combo.addItem(AUTOMATIC, "")
        combo.activated.connect(lambda i: self.edited.emit(self.spec.name, combo.itemData(i) or ""))
        self._nodes: list[tuple[str, str]] = []
        self._value = ""
        return combo

    @property
    def combo(self) -> QComboBox:
        return self.field  # type: ignore[return-value]

    def node_names(self) -> list[str]:
        """The names offered (besides automatic), in the combo's order."""
        return [name for name, _ in self._nodes]

    def set_nodes(self, nodes: Sequence[tuple[str, str]]) -> None:
        """(name, type) of every node of the network; the shown value stays as it is."""
        nodes = list(nodes)
        if nodes == self._nodes:
            return
        self._nodes = nodes
        self._fill()

    def _fill(self) -> None:
        combo = self.combo
        combo.blockSignals(True)
        try:
            combo.clear()
            combo.addItem(AUTOMATIC, "")
            combo.setItemData(0, "Let the engine pick the node (see the option's help)", Qt.ItemDataRole.ToolTipRole)
            for name, kind in self._nodes:
                combo.addItem(f"{name}  ·  {kind}" if kind else name, name)
            names = {n for n, _ in self._nodes}
            if self._value and self._value not in names:
                combo.addItem(f"{self._value}  (not in the network)", self._value)
            combo.setCurrentIndex(max(0, combo.findData(self._value)))
        finally:
            combo.blockSignals(False)

    def set_value(self, value: Any) -> None:
        self._value = str(value or "")
        self._fill()
        self.show_error(None)

    @property
    def value(self) -> str:
        return self._value

    @property
    def missing(self) -> bool:
        """The stored node is not in the network (renamed or removed since it was chosen)."""
        return bool(self._value) and self._value not in {n for n, _ in self._nodes}


class NodeListEditor(ParamEditor):
    """The frozen nodes: chosen elsewhere (the weights dialog), shown here, and unfrozen in one go."""

    def _make_field(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.names_label = QLabel()
        self.names_label.setWordWrap(True)
        self.names_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.clear_button = QPushButton("Unfreeze all")
        self.clear_button.setToolTip("Train every node again (undoable)")
        self.clear_button.clicked.connect(lambda: self.edited.emit(self.spec.name, []))
        row.addWidget(self.names_label, 1)
        row.addWidget(self.clear_button, 0)
        self._names: tuple[str, ...] = ()
        return box

    def set_value(self, value: Any) -> None:
        self._names = tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()
        self.names_label.setText(", ".join(self._names) if self._names else "none (every node trains)")
        self.names_label.setProperty("role", "" if self._names else "muted")
        self.names_label.style().unpolish(self.names_label)
        self.names_label.style().polish(self.names_label)
        self.clear_button.setVisible(bool(self._names))
        self.show_error(None)

    @property
    def value(self) -> tuple[str, ...]:
        return self._names
