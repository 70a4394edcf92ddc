"""The layer palette: categories from the registry, a search box, drag onto the canvas (or
double-click / Enter to add at the centre of the view)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from gui import icons, theme
from gui.canvas.view import LAYER_MIME
from gui.layer_catalog import catalog, category_icon, search

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1


class _LayerTree(QTreeWidget):
    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        type_ids = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        if type_ids:
            mime.setData(LAYER_MIME, type_ids[0].encode("utf-8"))
            mime.setText(type_ids[0])
        return mime


class PalettePanel(QWidget):
    #: a layer was chosen without dragging (double-click or Enter): add it at the view centre
    layerActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search layers…")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.addAction(icons.icon("search", theme.current().muted_text),
                                  QLineEdit.ActionPosition.LeadingPosition)
        self.tree = _LayerTree()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(14)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.tree.setUniformRowHeights(True)
        self.tree.setAnimated(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search_box)
        layout.addWidget(self.tree)
        self.items: dict[str, QTreeWidgetItem] = {}
        self._categories: dict[str, QTreeWidgetItem] = {}
        self._build()
        self.search_box.textChanged.connect(self.filter)
        self.search_box.returnPressed.connect(self._activate_first)
        self.tree.itemActivated.connect(self._activated)

    def _build(self) -> None:
        bold = self.tree.font()
        bold.setBold(True)
        for category, specs in catalog().items():
            top = QTreeWidgetItem([category])
            top.setFont(0, bold)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            top.setIcon(0, category_icon(category))
            self.tree.addTopLevelItem(top)
            self._categories[category] = top
            for spec in specs:
                item = QTreeWidgetItem([spec.display_name])
                item.setData(0, TYPE_ROLE, spec.type_id)
                item.setToolTip(0, f"<b>{spec.display_name}</b><br>{spec.description}")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                top.addChild(item)
                self.items[spec.type_id] = item
        self.tree.expandAll()

    def filter(self, text: str) -> None:
        matches = {s.type_id for s in search(text)}
        for type_id, item in self.items.items():
            item.setHidden(type_id not in matches)
        for top in self._categories.values():
            top.setHidden(all(top.child(i).isHidden() for i in range(top.childCount())))
            if text:
                top.setExpanded(True)

    def visible_type_ids(self) -> list[str]:
        return [t for t, item in self.items.items() if not item.isHidden()]

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.layerActivated.emit(type_id)

    def _activate_first(self) -> None:
        ranked = search(self.search_box.text())
        if ranked and self.search_box.text().strip():
            self.layerActivated.emit(ranked[0].type_id)
