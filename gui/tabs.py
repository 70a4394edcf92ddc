"""One canvas tab per network of the project, kept in step with NetworkAdded/Removed/Renamed.

An opened block gets a tab of its own after them (a :class:`BlockPage`: breadcrumbs above the canvas
of the definition's network). Block tabs can be closed; they close by themselves when their
definition leaves the project (an undone grouping) or the project is replaced.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QMenu, QTabWidget, QToolButton, QWidget

from graph import GraphError, Network, Project
from graph.events import GraphEvent, LibraryChanged, NetworkAdded, NetworkRemoved, NetworkRenamed
from gui import blocks, commands, dialogs, icons, theme
from gui.blocks_breadcrumb import BlockPage
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
    @staticmethod
    def _view_of(widget: QWidget | None) -> CanvasView | None:
        if isinstance(widget, BlockPage):
            return widget.view
        return widget if isinstance(widget, CanvasView) else None

    def views(self) -> list[CanvasView]:
        return [v for i in range(self.count()) if (v := self._view_of(self.widget(i))) is not None]

    def current_view(self) -> CanvasView | None:
        return self._view_of(self.currentWidget())

    def view_for(self, network: Network) -> CanvasView | None:
        for view in self.views():
            if view.canvas.network is network:
                return view
        return None

    def block_pages(self) -> list[BlockPage]:
        return [w for i in range(self.count()) if isinstance(w := self.widget(i), BlockPage)]

    def page_for(self, network: Network) -> BlockPage | None:
        for page in self.block_pages():
            if page.network is network:
                return page
        return None

    def show_network(self, network: Network) -> CanvasView | None:
        view = self.view_for(network)
        if view is not None:
            page = self.page_for(network)
            self.setCurrentWidget(page if page is not None else view)
        return view

    # -- blocks ---------------------------------------------------------------------------------
    def trail_to(self, network: Network) -> list[Network]:
        """The networks outside ``network`` as its tab shows them (none for a project network)."""
        page = self.page_for(network)
        return page.trail if page is not None else []

    def open_block(self, network: Network, node_id: str) -> CanvasView | None:
        """Open the definition of Block node ``node_id`` of ``network`` (switch to it when open)."""
        try:
            node = network.node(node_id)
            if not node.is_block or network.library is None:
                raise GraphError(f"{node.label()} is not a block")
            defn = network.library.get(node.params["block"])
        except GraphError as exc:
            dialogs.show_error(self, "Open block", str(exc))
            return None
        return self.open_definition(defn.network, [*self.trail_to(network), network])

    def open_definition(self, inside: Network, trail: list[Network]) -> CanvasView:
        page = self.page_for(inside)
        if page is None:
            page = BlockPage(CanvasView(self.session, CanvasScene(self.session, inside)), trail)
            page.crumbs.crumbClicked.connect(lambda net, p=page: self._crumb(p, net))
            i = self.addTab(page, blocks.block_icon(), inside.name)
            self.setTabToolTip(i, "A block's inside: edits change every node that uses it. Double-click to "
                                  "rename the block")
            close = QToolButton()
            close.setIcon(icons.icon("close", theme.current().palette.text().color()))
            close.setAutoRaise(True)
            close.setToolTip("Close this block (it stays in the project)")
            close.clicked.connect(lambda _c=False, p=page: self.close_block(p))
            self.tabBar().setTabButton(i, self.tabBar().ButtonPosition.RightSide, close)
            page.view.blockOpenRequested.connect(lambda node_id, v=page.view: self.open_block(v.canvas.network, node_id))
            self.viewCreated.emit(page.view)
            page.view.request_fit()
        else:
            page.set_trail(trail)
        self.setCurrentWidget(page)
        return page.view

    def close_block(self, page: BlockPage) -> None:
        if self.indexOf(page) >= 0:
            self._drop(page)

    def _crumb(self, page: BlockPage, network: Network) -> None:
        if self.show_network(network) is not None:
            return
        # a block further out was closed meanwhile: open it again with the crumbs before it
        trail = page.trail
        if network in trail and self.session.is_editable(network):
            self.open_definition(network, trail[:trail.index(network)])

    def _library_changed(self, event: LibraryChanged) -> None:
        library = self.session.project.blocks
        for page in self.block_pages():
            defn = library.definition_of(page.network)
            if defn is None:
                self._drop(page)
                continue
            self.setTabText(self.indexOf(page), defn.name)
            page.set_trail([n for n in page.trail if self.session.is_editable(n)])

    # -- mirroring the project ------------------------------------------------------------------
    def rebuild(self, project: Project) -> None:
        # tab switches while tearing down and refilling are noise: announce the result once
        self.blockSignals(True)
        try:
            for page in self.block_pages():
                self._drop(page)
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
        view.blockOpenRequested.connect(lambda node_id, v=view: self.open_block(v.canvas.network, node_id))
        # project networks come first, opened blocks after them
        first_block = len(self.views()) - len(self.block_pages())
        i = self.insertTab(first_block if index is None else min(index, first_block), view, network.name)
        self.setTabToolTip(i, "Double-click to rename; right-click for more")
        if announce:
            self.viewCreated.emit(view)
        return view

    def _drop(self, widget: CanvasView | BlockPage) -> None:
        view = widget.view if isinstance(widget, BlockPage) else widget
        # a dying scene still announces selection changes while it clears; nobody should hear them
        view.canvas.blockSignals(True)
        view.blockSignals(True)
        self.removeTab(self.indexOf(widget))
        view.canvas.detach()
        widget.deleteLater()
        view.canvas.deleteLater()

    def _on_event(self, event: GraphEvent) -> None:
        if isinstance(event, LibraryChanged):
            self._library_changed(event)
            return
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
            for page in self.block_pages():
                if net in page.trail:
                    page.set_trail(page.trail[page.trail.index(net) + 1:])
        elif isinstance(event, NetworkRenamed):
            view = self.view_for(net)
            if view is not None:
                self.setTabText(self.indexOf(view), event.new)
            for page in self.block_pages():
                if net in page.trail:
                    page.crumbs.refresh()

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

    def rename_block(self, page: BlockPage) -> None:
        library = self.session.project.blocks
        defn = library.definition_of(page.network)
        if defn is None:
            return
        name = dialogs.ask_text(self, "Rename block", "Block name (every use follows):", defn.name)
        if name is None or name == defn.name:
            return
        try:
            self.session.push(commands.RenameBlockCommand(self.session.project, defn.name, name))
        except GraphError as exc:
            dialogs.show_error(self, "Rename block", str(exc))

    def _rename_at(self, index: int) -> None:
        view = self.widget(index)
        if isinstance(view, BlockPage):
            self.rename_block(view)
        elif isinstance(view, CanvasView):
            self.rename_network(view.canvas.network)

    def _tab_menu(self, pos: QPoint) -> None:
        index = self.tabBar().tabAt(pos)
        view = self.widget(index)
        if isinstance(view, BlockPage):
            menu = QMenu(self)
            menu.addAction("Rename Block…", lambda p=view: self.rename_block(p))
            menu.addAction("Close", lambda p=view: self.close_block(p))
            menu.exec(self.tabBar().mapToGlobal(pos))
            return
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
