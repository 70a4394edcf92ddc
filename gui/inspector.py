"""The inspector: edits the selected node (name and typed parameters) or, with nothing selected,
shows the network at a glance.

It mirrors the document like the canvas does: edits go out as undo commands, and what it shows is
refreshed from document events (with signals blocked), so undo/redo and edits made elsewhere
appear in the fields at once.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from graph import Analysis, GraphError, Network, Node
from graph.blocks import BlockDefinition
from graph.events import (
    BlockUpdated,
    GraphEvent,
    LibraryChanged,
    NetworkRenamed,
    NodeRemoved,
    NodeRenamed,
    ParamChanged,
)
from gui import blocks, commands, theme
from gui.canvas.node_item import format_count
from gui.param_editors import ParamEditor
from gui.problems_panel import counted_problems
from gui.session import EditorSession


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "muted")
    label.setWordWrap(True)
    return label


def heading(text: str, top_margin: int = 10) -> QLabel:
    """A small upper-case section title (inspector and training options share the look)."""
    label = QLabel(text.upper())
    label.setProperty("role", "muted")
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    font.setBold(True)
    label.setFont(font)
    label.setContentsMargins(0, top_margin, 0, 2)
    return label


def stacked(*widgets: QWidget, spacing: int = 2) -> QWidget:
    """Widgets one above the other with no margins, as one widget (a field over its error line)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(spacing)
    for widget in widgets:
        layout.addWidget(widget)
    return box


class Inspector(QScrollArea):
    def __init__(self, session: EditorSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumWidth(260)
        self.network: Network | None = None
        self.node_ids: list[str] = []
        self.editors: dict[str, ParamEditor] = {}
        self.name_edit: QLineEdit | None = None
        self.name_error: QLabel | None = None
        self._info: dict[str, QLabel] = {}
        self._error_box: QLabel | None = None
        #: inside a block: param name -> its "show on block" checkbox
        self.expose_boxes: dict[str, QCheckBox] = {}
        #: the window's block actions (open, make independent, ...) the inspector offers as buttons
        self.block_actions: dict[str, QAction] = {}
        self.block_buttons: dict[str, QPushButton] = {}
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self._drop_removed)
        session.graphEvent.connect(self._on_event)
        session.analysisChanged.connect(self._on_analysis)
        self.show_selection(None, [])

    # -- what to show ---------------------------------------------------------------------------
    def show_selection(self, network: Network | None, node_ids: list[str], force: bool = False) -> None:
        if network is self.network and node_ids == self.node_ids and self.widget() is not None and not force:
            return
        self.network, self.node_ids = network, list(node_ids)
        self.editors, self._info, self.name_edit, self.name_error, self._error_box = {}, {}, None, None, None
        self.expose_boxes, self.block_buttons = {}, {}
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.setSpacing(4)
        if network is None:
            layout.addWidget(_muted("No network"))
        elif len(node_ids) == 1 and node_ids[0] in network:
            self._build_node(layout, network, node_ids[0])
        elif node_ids:
            self._build_multi(layout, network, node_ids)
        else:
            self._build_network(layout, network)
        layout.addStretch(1)
        self.setWidget(page)
        if network is not None:
            self._on_analysis(network, self.session.analysis(network))

    def _build_node(self, layout: QVBoxLayout, network: Network, node_id: str) -> None:
        node = network.node(node_id)
        spec = node.spec
        color = blocks.BLOCK_COLOR if node.is_block else theme.category_color(spec.category).name()
        title = QLabel(f"<span style='color:{color}; font-size:15px'>■</span>&nbsp; "
                       f"<b style='font-size:13px'>{spec.display_name}</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(title)
        layout.addWidget(_muted(self._block_line(network, node) if node.is_block else spec.category))
        layout.addWidget(_muted(spec.description))

        layout.addWidget(heading("Node"))
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_edit, self.name_error, name_box = self._name_field(
            node.name, "The node's name: shown on the canvas and used for the layer's name in exported code.")
        self.name_edit.editingFinished.connect(self._commit_name)
        form.addRow("Name", name_box)
        for key in ("output", "params"):
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._info[key] = label
        form.addRow("Output", self._info["output"])
        form.addRow("Parameters", self._info["params"])
        layout.addLayout(form)
        self._error_box = QLabel()
        self._error_box.setWordWrap(True)
        self._error_box.setProperty("role", "error")
        self._error_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._error_box.hide()
        layout.addWidget(self._error_box)

        if spec.params:
            layout.addWidget(heading("Parameters"))
            params_form = QFormLayout()
            params_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for p in spec.params:
                editor = ParamEditor(p)
                editor.set_value(node.params[p.name])
                editor.edited.connect(self._commit_param)
                label = QLabel(p.title)
                label.setToolTip(p.help)
                params_form.addRow(label, editor)
                self.editors[p.name] = editor
            layout.addLayout(params_form)
        if node.is_block:
            self._build_block_buttons(layout)
        owner = self._definition(network)
        if owner is not None and spec.role == "layer" and spec.params:
            self._build_expose(layout, owner, node)

    # -- blocks -----------------------------------------------------------------------------------
    def _definition(self, network: Network) -> BlockDefinition | None:
        library = network.library
        return library.definition_of(network) if library is not None else None

    @staticmethod
    def _block_line(network: Network, node: Node) -> str:
        library = network.library
        name = node.params.get("block", "")
        uses = len(library.users(name)) if library is not None and name in library else 0
        others = f", used {uses} times in the project" if uses > 1 else ""
        return f"Block (definition '{name}'{others}): double-click it on the canvas to open it"

    def _build_block_buttons(self, layout: QVBoxLayout) -> None:
        wanted = [(n, t) for n, t in (("open_block", "Open Block"), ("independent_block", "Make Independent Copy"))
                  if n in self.block_actions]
        if not wanted:
            return
        layout.addWidget(heading("Block"))
        row = QHBoxLayout()
        row.setSpacing(6)
        for name, text in wanted:
            action = self.block_actions[name]
            button = QPushButton(text)
            button.setToolTip(action.statusTip())
            button.clicked.connect(lambda _c=False, a=action: a.trigger())
            row.addWidget(button)
            self.block_buttons[name] = button
        row.addStretch(1)
        layout.addLayout(row)

    def _build_expose(self, layout: QVBoxLayout, owner: BlockDefinition, node: Node) -> None:
        """Inside a block: one checkbox per param that shows it on every use of the block."""
        layout.addWidget(heading(f"Show on block '{owner.name}'"))
        layout.addWidget(_muted("A ticked parameter appears on every node using this block, each with its "
                                "own value; the value here is the default for new uses."))
        box = QVBoxLayout()
        box.setSpacing(2)
        for p in node.spec.params:
            if p.extra.get("readonly"):     # a nested block's definition is not a value to set per use
                continue
            check = QCheckBox(p.title)
            check.toggled.connect(lambda on, name=p.name: self._commit_expose(name, on))
            box.addWidget(check)
            self.expose_boxes[p.name] = check
        layout.addLayout(box)
        self._sync_expose()

    def _sync_expose(self) -> None:
        owner = self._definition(self.network) if self.network is not None else None
        node_id = self._node_id()
        if owner is None or node_id is None:
            return
        for param, check in self.expose_boxes.items():
            exposed = blocks.exposed_as(owner.exposed, node_id, param)
            check.blockSignals(True)
            check.setChecked(exposed is not None)
            check.blockSignals(False)
            check.setToolTip(f"Shown on every use of '{owner.name}' as {exposed.name!r}" if exposed is not None
                             else f"Show {param!r} on every node using block '{owner.name}'")

    def _commit_expose(self, param: str, show: bool) -> None:
        network, node_id = self.network, self._node_id()
        owner = self._definition(network) if network is not None else None
        if owner is None or node_id is None:
            return
        try:
            command = blocks.expose_command(self.session.project, owner.name, node_id, param, show)
        except GraphError as exc:
            self._sync_expose()
            if self._error_box is not None:
                self._error_box.setText(str(exc))
                self._error_box.show()
            return
        self.session.push(command)

    def _build_multi(self, layout: QVBoxLayout, network: Network, node_ids: list[str]) -> None:
        layout.addWidget(QLabel(f"<b style='font-size:13px'>{len(node_ids)} nodes selected</b>"))
        form = QFormLayout()
        self._info["params"] = QLabel()
        form.addRow("Parameters", self._info["params"])
        layout.addLayout(form)
        layout.addWidget(_muted("Drag to move them together; Ctrl+C / Ctrl+D copy or duplicate them "
                                "with the edges between them."))

    def _build_network(self, layout: QVBoxLayout, network: Network) -> None:
        layout.addWidget(QLabel("<b style='font-size:13px'>Network</b>"))
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_edit, self.name_error, box = self._name_field(network.name, "The network's name: its tab, and "
                                                                "the model class name in exported code.")
        self.name_edit.editingFinished.connect(self._commit_network_name)
        form.addRow("Name", box)
        for key, title in (("nodes", "Nodes"), ("params", "Parameters"), ("mult_adds", "Mult-adds"),
                           ("problems", "Problems")):
            self._info[key] = QLabel()
            form.addRow(title, self._info[key])
        layout.addLayout(form)
        layout.addWidget(_muted("Select a node to edit it. Drag layers in from the palette, or press Tab "
                                "on the canvas to search for one."))

    @staticmethod
    def _name_field(text: str, tip: str) -> tuple[QLineEdit, QLabel, QWidget]:
        edit = QLineEdit(text)
        edit.setToolTip(tip)
        error = QLabel()
        error.setProperty("role", "error")
        error.setWordWrap(True)
        error.hide()
        return edit, error, stacked(edit, error)

    def focus_name(self) -> None:
        if self.name_edit is not None:
            self.name_edit.setFocus()
            self.name_edit.selectAll()

    # -- edits going out ------------------------------------------------------------------------
    def _node_id(self) -> str | None:
        return self.node_ids[0] if len(self.node_ids) == 1 else None

    def _commit_param(self, name: str, value: Any) -> None:
        node_id, network = self._node_id(), self.network
        editor = self.editors.get(name)
        if node_id is None or network is None or editor is None:
            return
        try:
            command = commands.SetParamCommand(network, node_id, name, value,
                                               merge_key=(id(editor), editor.focus_generation))
        except GraphError as exc:
            editor.show_error(str(exc))
            return
        editor.show_error(None)
        if command.changes_anything:
            self.session.push(command)
        else:
            editor.set_value(command.new)   # show the canonical form ("3,3" -> "3, 3")

    def _commit_name(self) -> None:
        node_id, network, edit = self._node_id(), self.network, self.name_edit
        if node_id is None or network is None or edit is None or node_id not in network:
            return
        if edit.text() == network.node(node_id).name:
            return
        try:
            command = commands.RenameNodeCommand(network, node_id, edit.text())
        except GraphError as exc:
            self._show_name_error(str(exc))
            return
        self._show_name_error(None)
        self.session.push(command)

    def _commit_network_name(self) -> None:
        network, edit = self.network, self.name_edit
        if network is None or edit is None or self.node_ids or edit.text() == network.name:
            return
        try:
            command = commands.RenameNetworkCommand(self.session.project, network, edit.text())
        except GraphError as exc:
            self._show_name_error(str(exc))
            return
        self._show_name_error(None)
        self.session.push(command)

    def _show_name_error(self, message: str | None) -> None:
        if self.name_error is not None:
            self.name_error.setText(message or "")
            self.name_error.setVisible(bool(message))

    # -- the document coming back -----------------------------------------------------------------
    def _on_event(self, event: GraphEvent) -> None:
        if isinstance(event, LibraryChanged) and self.network is not None:
            owner = self._definition(self.network)
            if event.change == "exposed" and owner is not None and owner.name == event.block:
                self._sync_expose()
            elif event.change in ("renamed", "removed") and self._node_id() is not None:
                self._refresh_timer.start()
            return
        if event.network is not self.network or self.network is None:
            return
        if isinstance(event, BlockUpdated) and any(i in self.node_ids for i in event.node_ids):
            # the definition changed: its exposed params (and so the fields) may have too
            self._refresh_timer.start()
            return
        node_id = self._node_id()
        if isinstance(event, ParamChanged) and event.node_id == node_id:
            editor = self.editors.get(event.name)
            if editor is not None:
                editor.set_value(event.new)
        elif isinstance(event, NodeRenamed) and event.node_id == node_id and self.name_edit is not None:
            if self.name_edit.text() != event.new:
                self.name_edit.setText(event.new)
            self._show_name_error(None)
        elif isinstance(event, NetworkRenamed) and not self.node_ids and self.name_edit is not None:
            if self.name_edit.text() != event.new:
                self.name_edit.setText(event.new)
        elif isinstance(event, NodeRemoved) and event.node.id in self.node_ids:
            # the canvas announces the smaller selection once the whole edit is done
            self._refresh_timer.start()

    def _drop_removed(self) -> None:
        """Show what is left of the selection, built afresh (a node may have come back under the
        same id with another definition, or its block's params may have changed)."""
        if self.network is not None:
            self.show_selection(self.network, [i for i in self.node_ids if i in self.network], force=True)

    def _on_analysis(self, network: Network, analysis: Analysis) -> None:
        if network is not self.network:
            return
        node_id = self._node_id()
        if node_id is not None and node_id in analysis.nodes:
            info = analysis.nodes[node_id]
            if "output" in self._info:
                out = info.output
                self._info["output"].setText(f"{out}  ({out.dtype})" if out is not None else "—")
                self._info["params"].setText(f"{info.cost.params:,}")
            if self._error_box is not None:
                self._error_box.setText(info.error or "")
                self._error_box.setVisible(bool(info.error))
        elif self.node_ids:
            total = sum(analysis.nodes[i].cost.params for i in self.node_ids if i in analysis.nodes)
            if "params" in self._info:
                self._info["params"].setText(f"{total:,}")
        elif "nodes" in self._info:
            self._info["nodes"].setText(str(len(network)))
            self._info["params"].setText(f"{analysis.total_params:,}")
            self._info["mult_adds"].setText(format_count(analysis.total_mult_adds))
            counted = counted_problems(network, analysis)
            self._info["problems"].setText(str(len(counted)) if counted else "none")
