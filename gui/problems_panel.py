"""The problems list: every message shape inference raised for the current network, worded by the
core; activating one selects the node it is about."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from graph import Analysis, Network, Problem
from gui import icons, theme
from gui.session import EditorSession

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
EMPTY_HINT = "The network is empty: add an Input, your layers and an Output (Tab on the canvas searches for one)."


def counted_problems(network: Network | None, analysis: Analysis) -> list[Problem]:
    """The problems worth counting: none for an empty network. A blank canvas lacks an Input and an
    Output, but that is where every network starts, not a mistake to flag in red."""
    if network is None or not network.nodes:
        return []
    return list(analysis.problems)


class ProblemsPanel(QWidget):
    nodeChosen = Signal(str)
    #: number of problems, for the dock title and the status bar
    countChanged = Signal(int)

    def __init__(self, session: EditorSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.network: Network | None = None
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        session.analysisChanged.connect(self._on_analysis)
        self._messages: list[tuple[str, str | None]] = []

    def set_network(self, network: Network | None) -> None:
        self.network = network
        self._messages = []
        if network is not None:
            self._show(self.session.analysis(network))
        else:
            self.list.clear()
            self.countChanged.emit(0)

    def _on_analysis(self, network: Network, analysis: Analysis) -> None:
        if network is self.network:
            self._show(analysis)

    def _show(self, analysis: Analysis) -> None:
        messages = [(p.message, p.node_id) for p in counted_problems(self.network, analysis)]
        if messages == self._messages and self.list.count():
            return
        self._messages = messages
        self.list.clear()
        if not messages and self.network is not None and not self.network.nodes:
            item = QListWidgetItem(EMPTY_HINT)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        elif not messages:
            item = QListWidgetItem(icons.icon("ok", theme.current().canvas.valid), "No problems: every shape fits.")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        error_icon = icons.icon("error", theme.current().error)
        for message, node_id in messages:
            item = QListWidgetItem(error_icon, message)
            item.setData(NODE_ROLE, node_id)
            item.setToolTip(message)
            self.list.addItem(item)
        self.countChanged.emit(len(messages))

    @property
    def messages(self) -> list[str]:
        return [m for m, _ in self._messages]

    def _activated(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id:
            self.nodeChosen.emit(node_id)
