"""The quick-add popup (Tab, or double-click on empty canvas): type a few letters, Enter adds the
best match where the cursor was. Dropping a wire on empty canvas opens it too, and the new layer
is wired to where the drag started. Blocks (built-in, the project's, the user's library) are offered
beside the layers; choosing one emits its entry key, which the canvas adds like a layer."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from gui import blocks
from gui.layer_catalog import category_icon, search

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1


class QuickAddPopup(QFrame):
    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, title: str = "Add layer", session: Any = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.block_entries: list[blocks.BlockEntry] = []
        if session is not None:
            self.block_entries = blocks.block_entries(session.project, blocks.saved_blocks(session.block_folder))
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(300)
        self.title = QLabel(title)
        self.title.setProperty("role", "muted")
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Type to search, Enter to add")
        self.list = QListWidget()
        self.list.setMinimumHeight(260)
        self.list.setUniformItemSizes(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        self.edit.textChanged.connect(self._refill)
        self.edit.installEventFilter(self)
        self.list.itemActivated.connect(self._choose_item)
        self._refill("")

    def _refill(self, text: str) -> None:
        self.list.clear()
        words = text.lower().split()

        def rank(name: str) -> int:     # a name starting with what was typed comes first, layer or block
            return 0 if not words or name.lower().startswith(words[0]) else 1

        rows: list[tuple[int, int, QListWidgetItem]] = []
        for spec in search(text):
            item = QListWidgetItem(category_icon(spec.category), f"{spec.display_name}    ·  {spec.category}")
            item.setData(TYPE_ROLE, spec.type_id)
            item.setToolTip(spec.description)
            rows.append((rank(spec.display_name), 0, item))
        where = {"built-in": "Blocks", "project": "Blocks · this project", "library": "Blocks · my library"}
        for entry in blocks.search_entries(self.block_entries, text):
            item = QListWidgetItem(blocks.block_icon(), f"{entry.title}    ·  {where[entry.source]}")
            item.setData(TYPE_ROLE, entry.key)
            item.setToolTip(entry.description)
            rows.append((rank(entry.title), 1, item))
        for _r, _k, item in sorted(rows, key=lambda r: (r[0], r[1])):
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def eventFilter(self, watched: object, event: object) -> bool:
        if watched is self.edit and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 8, Qt.Key.Key_PageUp: -8}[key]
                row = min(max(self.list.currentRow() + step, 0), self.list.count() - 1)
                self.list.setCurrentRow(row)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.choose_current()
                return True
        return super().eventFilter(watched, event)  # type: ignore[arg-type]

    def choose_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._choose_item(item)

    def _choose_item(self, item: QListWidgetItem) -> None:
        type_id = item.data(TYPE_ROLE)
        self.close()
        if type_id:
            self.chosen.emit(type_id)

    def popup_at(self, global_pos: QPoint) -> None:
        self.adjustSize()
        self.move(global_pos)
        self.show()
        self.edit.setFocus()
