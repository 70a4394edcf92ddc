"""The summary table: one row per node in execution order (node, type, output shape, params),
totals underneath; like torchinfo, but live. Selecting a row selects the node on the canvas."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from graph import Analysis, Network
from gui import theme
from gui.canvas.node_item import format_count
from gui.session import EditorSession

Row = tuple[str, str, str, str, int, str | None]  # id, name, type, shape, params, error
COLUMNS = ("Node", "Type", "Output shape", "Params")
Index = QModelIndex | QPersistentModelIndex


class SummaryModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []

    def set_rows(self, rows: list[Row]) -> None:
        if rows == self.rows:
            return
        if len(rows) == len(self.rows) and [r[0] for r in rows] == [r[0] for r in self.rows]:
            self.rows = rows   # same nodes in the same order: refresh the cells in place
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section == 3:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node_id, name, type_name, shape, params, error = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (name, type_name, shape or ("error" if error else "?"), f"{params:,}")[col]
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and error and col in (0, 2):
            return QColor(theme.current().error)
        if role == Qt.ItemDataRole.ToolTipRole and error:
            return error
        if role == Qt.ItemDataRole.UserRole:
            return node_id
        return None


class SummaryPanel(QWidget):
    nodeChosen = Signal(str)

    def __init__(self, session: EditorSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.network: Network | None = None
        self._stale = False
        self.model = SummaryModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        # every column shares the width, so the numbers on the right are never pushed out of view
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.totals = QLabel()
        self.totals.setProperty("role", "muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(4)
        layout.addWidget(self.table)
        self.totals.setContentsMargins(8, 0, 8, 0)
        layout.addWidget(self.totals)
        self.table.clicked.connect(self._clicked)
        self.table.activated.connect(self._clicked)
        session.analysisChanged.connect(self._on_analysis)

    def set_network(self, network: Network | None) -> None:
        self.network = network
        self.refresh()

    def _on_analysis(self, network: Network, _analysis: Analysis) -> None:
        if network is self.network:
            self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows; a hidden panel only notes it is stale and catches up when shown."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        net = self.network
        if net is None:
            self.model.set_rows([])
            self.totals.setText("")
            return
        analysis = self.session.analysis(net)
        rows: list[Row] = []
        for node in net.topological_order():
            info = analysis.nodes[node.id]
            rows.append((node.id, node.name, node.spec.display_name, str(info.output) if info.output else "",
                         info.cost.params, info.error))
        self.model.set_rows(rows)
        self.totals.setText(f"{len(rows)} nodes  ·  {analysis.total_params:,} parameters  ·  "
                            f"{format_count(analysis.total_mult_adds)} mult-adds per sample")

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _clicked(self, index: QModelIndex) -> None:
        node_id = self.model.data(index, Qt.ItemDataRole.UserRole)
        if node_id:
            self.nodeChosen.emit(node_id)

    def select_node(self, node_id: str | None) -> None:
        """Follow the canvas selection without re-emitting it."""
        self.table.blockSignals(True)
        try:
            for row, r in enumerate(self.model.rows):
                if r[0] == node_id:
                    self.table.selectRow(row)
                    self.table.scrollTo(self.model.index(row, 0))
                    return
            self.table.clearSelection()
        finally:
            self.table.blockSignals(False)
