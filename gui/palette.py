"""The layer palette: categories from the registry, a search box, drag onto the canvas (or
double-click / Enter to add at the centre of the view).

Below the layers, a Blocks section lists the built-in blocks, the project's own block definitions and
the blocks in the user's library on disk; it follows the project (definitions added, renamed or
removed) and the library (a block saved from the canvas).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from graph.events import GraphEvent, LibraryChanged
from gui import blocks, icons, theme
from gui.canvas.view import LAYER_MIME
from gui.layer_catalog import catalog, category_icon, search

log = logging.getLogger(__name__)

#: the Blocks section's groups, in order: (entry source, heading)
BLOCK_GROUPS = (("built-in", "Built-in"), ("project", "This project"), ("library", "My library"))

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

    def __init__(self, session: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: the editor session (for the project's definitions and the block library folder); optional
        self.session = session
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
        #: block entry key -> its row; and the entries, for search
        self.block_items: dict[str, QTreeWidgetItem] = {}
        self.block_entries: list[blocks.BlockEntry] = []
        self._block_groups: dict[str, QTreeWidgetItem] = {}
        #: the user's saved blocks as last read from disk (read again when one is saved)
        self._saved: list[Any] | None = None
        self._build()
        self.search_box.textChanged.connect(self.filter)
        self.search_box.returnPressed.connect(self._activate_first)
        self.tree.itemActivated.connect(self._activated)
        if session is not None:
            session.graphEvent.connect(self._on_event)
            session.projectReplaced.connect(lambda _p: self.refresh_blocks())
            session.savedBlocksChanged.connect(lambda: self.refresh_blocks(reread=True))

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
        top = QTreeWidgetItem([blocks.CATEGORY])
        top.setFont(0, bold)
        top.setFlags(Qt.ItemFlag.ItemIsEnabled)
        top.setIcon(0, blocks.block_icon())
        top.setToolTip(0, "Blocks hold a small network of their own: drop one, then double-click it to open it")
        self.tree.addTopLevelItem(top)
        self._categories[blocks.CATEGORY] = top
        for source, heading in BLOCK_GROUPS:
            group = QTreeWidgetItem([heading])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setForeground(0, theme.current().muted_text)
            top.addChild(group)
            self._block_groups[source] = group
        self.tree.expandAll()
        self.refresh_blocks()

    # -- the Blocks section ------------------------------------------------------------------------
    def refresh_blocks(self, reread: bool = False) -> None:
        """List the blocks again: the project's definitions changed, or (``reread``) the library on disk."""
        project = self.session.project if self.session is not None else None
        if self._saved is None or reread:
            self._saved = blocks.saved_blocks(self.session.block_folder) if self.session is not None else []
        self.block_entries = blocks.block_entries(project, self._saved)
        selected = {k for k, item in self.block_items.items() if item.isSelected()}
        for group in self._block_groups.values():
            group.takeChildren()
        self.block_items = {}
        color = theme.current().palette.text().color()
        for entry in self.block_entries:
            item = QTreeWidgetItem([entry.title])
            item.setData(0, TYPE_ROLE, entry.key)
            where = {"built-in": "built-in block", "project": "block of this project",
                     "library": "block from your library"}[entry.source]
            item.setToolTip(0, f"<b>{entry.title}</b> · {where}<br>{entry.description}")
            item.setIcon(0, blocks.block_icon(blocks.BLOCK_COLOR if entry.source == "built-in" else color))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
            self._block_groups[entry.source].addChild(item)
            self.block_items[entry.key] = item
            item.setSelected(entry.key in selected)
        library = self._block_groups["library"]
        if not library.childCount():
            hint = QTreeWidgetItem(["Right-click a block: Save Block to Library…"])
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            hint.setForeground(0, theme.current().muted_text)
            library.addChild(hint)
        self.filter(self.search_box.text())

    def _on_event(self, event: GraphEvent) -> None:
        if isinstance(event, LibraryChanged) and event.change in ("added", "removed", "renamed"):
            self.refresh_blocks()

    def filter(self, text: str) -> None:
        matches = {s.type_id for s in search(text)}
        for type_id, item in self.items.items():
            item.setHidden(type_id not in matches)
        block_matches = {e.key for e in blocks.search_entries(self.block_entries, text)}
        for key, item in self.block_items.items():
            item.setHidden(key not in block_matches)
        for source, group in self._block_groups.items():
            rows = [group.child(i) for i in range(group.childCount())]
            shown = [r for r in rows if r.data(0, TYPE_ROLE) and not r.isHidden()]
            # while searching only groups with a match show; otherwise the library always shows
            # (its hint says how to fill it) and an empty project group does not
            group.setHidden(not shown if text.strip() else (not shown and source != "library"))
        for top in self._categories.values():
            top.setHidden(all(top.child(i).isHidden() for i in range(top.childCount())))
            if text:
                top.setExpanded(True)
                for i in range(top.childCount()):
                    top.child(i).setExpanded(True)

    def visible_type_ids(self) -> list[str]:
        return [t for t, item in self.items.items() if not item.isHidden()]

    def visible_block_keys(self) -> list[str]:
        return [k for k, item in self.block_items.items() if not item.isHidden()]

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.layerActivated.emit(type_id)

    def _activate_first(self) -> None:
        text = self.search_box.text()
        if not text.strip():
            return
        ranked = search(text)
        if ranked:
            self.layerActivated.emit(ranked[0].type_id)
            return
        found = blocks.search_entries(self.block_entries, text)
        if found:
            self.layerActivated.emit(found[0].key)
