"""The window's block actions: Group into Block (Ctrl+G), Expand Block (Ctrl+Shift+G), Open Block,
Make Independent Copy and Save Block to Library. They act on the selection of the canvas in front,
appear in the Network menu, on the canvas's context menu when they apply, and as buttons in the
inspector of a Block node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtGui import QAction, QKeySequence

from graph import GraphError, Network
from gui import blocks, dialogs
from gui.canvas.view import CanvasView

if TYPE_CHECKING:  # pragma: no cover
    from gui.main_window import MainWindow

log = logging.getLogger(__name__)

DEFAULT_NAME = "Block"


class BlockActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.session = window.session
        self.tabs = window.tabs
        self.actions: dict[str, QAction] = {}
        self._add("open_block", "&Open Block", self.open_selected, None,
                  "Open the selected block to edit its inside (every use follows)")
        self._add("group_block", "&Group into Block…", self.group_selected, "Ctrl+G",
                  "Replace the selected layers with one block that holds them")
        self._add("expand_block", "E&xpand Block", self.expand_selected, "Ctrl+Shift+G",
                  "Replace the selected block with the layers inside it")
        self._add("independent_block", "Make &Independent Copy", self.make_independent,
                  None, "Give this node its own copy of the block, to change it without changing the other uses")
        self._add("save_block", "&Save Block to Library…", self.save_to_library, None,
                  "Save the block to your block library, to use it in other projects")
        window.actions_by_name.update(self.actions)
        self._add_to_menu()
        window.inspector.block_actions = {k: self.actions[k] for k in ("open_block", "independent_block")}
        self.tabs.currentViewChanged.connect(lambda _v: self.update())
        self.tabs.viewCreated.connect(self._watch)
        for view in self.tabs.views():
            self._watch(view)
        self.update()

    def _add(self, name: str, text: str, slot: Callable[[], object], shortcut: str | None, tip: str) -> None:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.actions[name] = action

    def _add_to_menu(self) -> None:
        for action in self.window.menuBar().actions():
            menu = action.menu()
            if menu is not None and action.text().replace("&", "") == "Network":
                menu.addSeparator()
                for name in ("group_block", "expand_block", "open_block", "independent_block", "save_block"):
                    menu.addAction(self.actions[name])
                return
        log.warning("no Network menu to put the block actions in")

    def _watch(self, view: CanvasView) -> None:
        view.canvas.selectionChanged.connect(self.update)

    # -- what is selected -------------------------------------------------------------------------
    def _view(self) -> CanvasView | None:
        return self.tabs.current_view()

    def _selected_block(self) -> tuple[CanvasView, Network, str] | None:
        view = self._view()
        if view is None:
            return None
        ids = view.canvas.selected_node_ids()
        net = view.canvas.network
        if len(ids) == 1 and ids[0] in net and net.node(ids[0]).is_block:
            return view, net, ids[0]
        return None

    def update(self) -> None:
        # a scene being destroyed (tab closed, window going away) still announces that it cleared
        if not shiboken6.isValid(self.tabs):
            return
        view = self._view()
        if view is not None and not (shiboken6.isValid(view) and shiboken6.isValid(view.canvas)):
            return
        ids = view.canvas.selected_node_ids() if view is not None else []
        one_block = self._selected_block() is not None
        a = self.actions
        a["group_block"].setEnabled(bool(ids))
        for name in ("open_block", "expand_block", "independent_block"):
            a[name].setEnabled(one_block)
        editing_block = view is not None and self._definition_name(view.canvas.network) is not None
        a["save_block"].setEnabled(one_block or (editing_block and not ids))

    def _definition_name(self, network: Network) -> str | None:
        library = network.library
        defn = library.definition_of(network) if library is not None else None
        return defn.name if defn is not None else None

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 6000)

    # -- the actions ------------------------------------------------------------------------------
    def open_selected(self) -> None:
        found = self._selected_block()
        if found is not None:
            _view, net, node_id = found
            self.tabs.open_block(net, node_id)

    def group_selected(self) -> str | None:
        view = self._view()
        if view is None:
            return None
        ids = view.canvas.selected_node_ids()
        if not ids:
            view.refuse("Select the layers to put in the block first")
            return None
        name = dialogs.ask_text(self.window, "Group into block", "Name of the new block:", DEFAULT_NAME)
        if name is None:
            return None
        net = view.canvas.network
        try:
            command = blocks.group_command(net, self.session.project, ids, name.strip() or DEFAULT_NAME)
        except GraphError as exc:
            dialogs.show_error(self.window, "Group into block", f"Cannot group these nodes: {exc}")
            return None
        self.session.push(command)
        node_id: str = command.result.id
        view.canvas.select_nodes([node_id])
        self._say(f"Grouped {len(ids)} nodes into block '{command.result.params['block']}' "
                  f"(double-click it to open it)")
        return node_id

    def expand_selected(self) -> list[str]:
        found = self._selected_block()
        if found is None:
            return []
        view, net, node_id = found
        try:
            command = blocks.expand_command(net, self.session.project, node_id)
        except GraphError as exc:
            dialogs.show_error(self.window, "Expand block", f"Cannot expand this block: {exc}")
            return []
        self.session.push(command)
        ids = [n.id for n in command.result]
        view.canvas.select_nodes(ids)
        return ids

    def make_independent(self) -> str | None:
        found = self._selected_block()
        if found is None:
            return None
        view, net, node_id = found
        try:
            command = blocks.independent_copy_command(net, self.session.project, node_id)
        except GraphError as exc:
            dialogs.show_error(self.window, "Make independent copy", str(exc))
            return None
        self.session.push(command)
        view.canvas.select_nodes([node_id])
        name: str = command.result
        self._say(f"{net.node(node_id).name} now uses its own block '{name}'; the other uses are unchanged")
        return name

    def save_to_library(self) -> str | None:
        found = self._selected_block()
        if found is not None:
            _view, net, node_id = found
            name = net.node(node_id).params["block"]
        else:
            view = self._view()
            name = self._definition_name(view.canvas.network) if view is not None else None
        if name is None:
            return None
        try:
            path = blocks.save_to_library(self.session.project, name, self.session.block_folder)
        except GraphError as exc:
            dialogs.show_error(self.window, "Save block", str(exc))
            return None
        self.session.savedBlocksChanged.emit()
        self._say(f"Saved block '{name}' to your library ({path}); it is in the palette's Blocks section")
        return str(path)


def install(window: MainWindow) -> BlockActions:
    """Add the block actions to a main window (menus, context menu, inspector buttons)."""
    return BlockActions(window)
