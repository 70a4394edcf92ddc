"""One canvas tab per network of the project, kept in step with NetworkAdded/Removed/Renamed."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QMenu, QTabWidget, QToolButton, QWidget

from graph import GraphError, Network, Project
from graph.events import GraphEvent, NetworkAdded, NetworkRemoved, NetworkRenamed
from gui import commands, dialogs, icons, theme
from gui.canvas.scene import CanvasScene
from gui.canvas.view import CanvasView
from gui.session import EditorSession


class NetworkTabs(QTabWidget):
    #: the canvas in front changed (a tab switch, or the project was replaced)
    currentViewChanged = Signal(object)
    #: a canvas was created; the window connects its signals
    viewCreated = Signal(object)

    def __init__(self, session: EditorSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setDocumentMode(True)
        self.setMovable(False)
        self.add_button = QToolButton()
        self.add_button.setIcon(icons.icon("plus", theme.current().palette.text().color()))
        self.add_button.setToolTip("Add a network to the project")
        self.add_button.setAutoRaise(True)
        self.add_button.clicked.connect(self.add_network)
        self.setCornerWidget(self.add_button)
        self.tabBar().tabBarDoubleClicked.connect(self._rename_at)
        self.tabBar().setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tabBar().customContextMenuRequested.connect(self._tab_menu)
        self.currentChanged.connect(lambda _i: self.currentViewChanged.emit(self.current_view()))
        session.projectReplaced.connect(self.rebuild)
        session.graphEvent.connect(self._on_event)
        self.rebuild(session.project)

    # -- lookup ---------------------------------------------------------------------------------
    def views(self) -> list[CanvasView]:
        return [w for i in range(self.count()) if isinstance(w := self.widget(i), CanvasView)]

    def current_view(self) -> CanvasView | None:
        w = self.currentWidget()
        return w if isinstance(w, CanvasView) else None

    def view_for(self, network: Network) -> CanvasView | None:
        for view in self.views():
            if view.canvas.network is network:
                return view
        return None

    def show_network(self, network: Network) -> CanvasView | None:
        view = self.view_for(network)
        if view is not None:
            self.setCurrentWidget(view)
        return view

    # -- mirroring the project ------------------------------------------------------------------
    def rebuild(self, project: Project) -> None:
        # tab switches while tearing down and refilling are noise: announce the result once
        self.blockSignals(True)
        try:
            for view in self.views():
                self._drop(view)
            created = [self._add_view(net, None, announce=False) for net in project.networks]
            self.setCurrentIndex(0)
        finally:
            self.blockSignals(False)
        for view in created:
            self.viewCreated.emit(view)
            view.request_fit()
        self.currentViewChanged.emit(self.current_view())

    def _add_view(self, network: Network, index: int | None, announce: bool = True) -> CanvasView:
        view = CanvasView(self.session, CanvasScene(self.session, network))
        i = self.insertTab(self.count() if index is None else index, view, network.name)
        self.setTabToolTip(i, "Double-click to rename; right-click for more")
        if announce:
            self.viewCreated.emit(view)
        return view

    def _drop(self, view: CanvasView) -> None:
        # a dying scene still announces selection changes while it clears; nobody should hear them
        view.canvas.blockSignals(True)
        view.blockSignals(True)
        self.removeTab(self.indexOf(view))
        view.canvas.detach()
        view.deleteLater()
        view.canvas.deleteLater()

    def _on_event(self, event: GraphEvent) -> None:
        net = event.network
        if net is None:
            return
        if isinstance(event, NetworkAdded):
            view = self._add_view(net, event.index)
            self.setCurrentWidget(view)
            view.request_fit()
        elif isinstance(event, NetworkRemoved):
            view = self.view_for(net)
            if view is not None:
                self._drop(view)
        elif isinstance(event, NetworkRenamed):
            view = self.view_for(net)
            if view is not None:
                self.setTabText(self.indexOf(view), event.new)

    # -- network commands -----------------------------------------------------------------------
    def add_network(self) -> None:
        project = self.session.project
        self.session.push(commands.AddNetworkCommand(project, project.unique_network_name("network")))

    def rename_network(self, network: Network) -> None:
        name = dialogs.ask_text(self, "Rename network", "Network name:", network.name)
        if name is None or name == network.name:
            return
        try:
            self.session.push(commands.RenameNetworkCommand(self.session.project, network, name))
        except GraphError as exc:
            dialogs.show_error(self, "Rename network", str(exc))

    def remove_network(self, network: Network) -> None:
        try:
            self.session.push(commands.RemoveNetworkCommand(self.session.project, network))
        except GraphError as exc:
            dialogs.show_error(self, "Remove network", str(exc))

    def _rename_at(self, index: int) -> None:
        view = self.widget(index)
        if isinstance(view, CanvasView):
            self.rename_network(view.canvas.network)

    def _tab_menu(self, pos: QPoint) -> None:
        index = self.tabBar().tabAt(pos)
        view = self.widget(index)
        if not isinstance(view, CanvasView):
            return
        net = view.canvas.network
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename_network(net))
        remove = menu.addAction("Remove", lambda: self.remove_network(net))
        remove.setEnabled(len(self.session.project.networks) > 1)
        menu.addSeparator()
        menu.addAction("Add network", self.add_network)
        menu.exec(self.tabBar().mapToGlobal(pos))
