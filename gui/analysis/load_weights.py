"""Analyze ▸ Load Weights: transfer learning from another project, a run, or a weights file.

The person picks a source; the weights are read and matched into the current network in the
background (engine.transfer); the table says, node by node, what matched, what changed size and
what the source does not have, and names the source layers nothing took. "Attach" attaches the
matched tensors as one undoable step (SetWeightsCommand, as the training panel's "Use weights").
The Freeze column writes ``settings["training"]["frozen_nodes"]`` (node names) through
SetSettingCommand, one undo step per tick, so training can keep reused layers fixed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import TrainingError
from graph.events import SettingsChanged
from gui import theme
from gui.training.background import run_in_background

log = logging.getLogger(__name__)

KINDS = ("project", "run", "file")
KIND_LABELS = {"project": "Another project", "run": "A run", "file": "A weights file"}
FILTERS = {
    "project": "DeepCanvas projects (*.dcproj);;All files (*)",
    "file": "Weights (*.safetensors *.pt *.pth *.bin *.ckpt);;All files (*)",
}
TRAINING_KEY = "training"
FROZEN_KEY = "frozen_nodes"
COLUMNS = ["Node", "Type", "Result", "Detail", "Freeze"]
FREEZE_COLUMN = 4
STATUS_TEXT = {"matched": "matched", "changed": "changed size", "missing": "not in the source"}


def choose_path(parent: QWidget, kind: str, directory: str = "") -> Path | None:
    """Ask for a source (tests replace this function)."""
    if kind == "run":
        path = QFileDialog.getExistingDirectory(parent, "Choose a run folder", directory)
    else:
        path, _ = QFileDialog.getOpenFileName(parent, f"Load weights from {KIND_LABELS[kind].lower()}", directory,
                                              FILTERS[kind])
    return Path(path) if path else None


def frozen_nodes(project: Any) -> list[str]:
    training = project.settings.get(TRAINING_KEY) or {}
    value = training.get(FROZEN_KEY, []) if isinstance(training, dict) else []
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


class LoadWeightsDialog(QDialog):
    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.session = controller.session
        self.setWindowTitle("Load weights")
        self.setModal(False)
        self.network_name = controller.network().name
        self.match: Any = None
        self.busy = False
        self._generation = 0
        self._filling = False
        self.source_path: Path | None = None

        self.heading = QLabel()
        self.heading.setProperty("role", "heading")
        self.kind_group = QButtonGroup(self)
        kinds = QHBoxLayout()
        self.kind_buttons: dict[str, QRadioButton] = {}
        for i, kind in enumerate(KINDS):
            button = QRadioButton(KIND_LABELS[kind])
            self.kind_group.addButton(button, i)
            self.kind_buttons[kind] = button
            kinds.addWidget(button)
        kinds.addStretch(1)
        self.kind_group.idClicked.connect(lambda i: self.choose_kind(KINDS[i]))

        # one row per kind of source
        self.pages = QStackedWidget()
        self.path_edits: dict[str, QLineEdit] = {}
        for kind in ("project", "file"):
            page = QWidget()
            row = QHBoxLayout(page)
            row.setContentsMargins(0, 0, 0, 0)
            edit = QLineEdit()
            edit.setPlaceholderText("a .dcproj file with its .safetensors beside it" if kind == "project"
                                    else "a .safetensors, .pt or .pth file holding a state_dict")
            edit.returnPressed.connect(lambda e=edit: self.set_source(Path(e.text())) if e.text() else None)
            browse = QPushButton("Browse…")
            browse.clicked.connect(lambda _c=False, k=kind: self._browse(k))
            row.addWidget(edit, 1)
            row.addWidget(browse)
            self.path_edits[kind] = edit
            self.pages.addWidget(page)
        run_page = QWidget()
        row = QHBoxLayout(run_page)
        row.setContentsMargins(0, 0, 0, 0)
        self.run_box = QComboBox()
        self.run_box.setMinimumWidth(320)
        self.run_box.activated.connect(lambda _i: self._run_chosen())
        self.which_box = QComboBox()
        self.which_box.addItem("best epoch", "best")
        self.which_box.addItem("last epoch", "last")
        self.which_box.activated.connect(lambda _i: self._run_chosen())
        other = QPushButton("Other run folder…")
        other.clicked.connect(lambda: self._browse("run"))
        row.addWidget(self.run_box, 1)
        row.addWidget(self.which_box)
        row.addWidget(other)
        self.pages.addWidget(run_page)
        self.page_of = {"project": 0, "file": 1, "run": 2}

        self.sentence = QLabel("Choose where the weights come from.")
        self.sentence.setWordWrap(True)
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sentence.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # room for a few lines: a wrapped label in a dialog does not always get its height for its width
        self.sentence.setMinimumHeight(self.sentence.fontMetrics().lineSpacing() * 4)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        for c in range(len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeaderItem(FREEZE_COLUMN).setToolTip(
            "Keep this layer's weights fixed while training (saved in the project's training options)")
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._show_node)
        self.unused = QLabel()
        self.unused.setProperty("role", "muted")
        self.unused.setWordWrap(True)
        self.attach_button = QPushButton("Attach Weights")
        self.attach_button.setDefault(True)
        self.attach_button.setEnabled(False)
        self.attach_button.clicked.connect(self.attach)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        self.status = QLabel()
        self.status.setProperty("role", "muted")
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.attach_button)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.heading)
        layout.addLayout(kinds)
        layout.addWidget(self.pages)
        layout.addWidget(self.sentence)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.unused)
        layout.addLayout(buttons)
        self.resize(760, 520)
        self.session.graphEvent.connect(self._graph_event)
        self.set_network(self.network_name)
        self.choose_kind("run" if self._run_paths() else "project")

    # -- choosing the source ----------------------------------------------------------------------------
    def set_network(self, name: str) -> None:
        if name != self.network_name:
            self.network_name = name
            self.match = None
            self._fill(None)
        self.heading.setText(f"Load weights into network '{self.network_name}' of {self.session.project.name}")

    def choose_kind(self, kind: str) -> None:
        self.kind = kind
        self.kind_buttons[kind].setChecked(True)
        self.pages.setCurrentIndex(self.page_of[kind])
        if kind == "run":
            self._fill_runs()

    def _run_paths(self) -> list[Any]:
        from engine.runs import list_runs

        path = self.session.path
        return list_runs(path, self.session.project.name) if path is not None else []

    def _fill_runs(self) -> None:
        from gui.training.runs_list import started_text

        current = self.run_box.currentData()
        self.run_box.clear()
        runs = self._run_paths()
        for info in runs:
            self.run_box.addItem(f"{started_text(info)} · {info.status} · {info.epochs_done} epochs", str(info.path))
        if not runs:
            self.run_box.addItem("no runs yet: train the project, or choose another run folder", None)
        pos = self.run_box.findData(current)
        self.run_box.setCurrentIndex(max(0, pos))
        # the run shown as chosen is read at once: Attach works without picking it again
        chosen = self.run_box.currentData()
        if chosen and (self.source_path is None or str(self.source_path) != chosen):
            self._run_chosen()

    def _run_chosen(self) -> None:
        data = self.run_box.currentData()
        if data:
            self.set_source(Path(data), "run")

    def _browse(self, kind: str) -> None:
        start = str(self.session.path.parent) if self.session.path is not None else ""
        path = choose_path(self, kind, start)
        if path is not None:
            self.set_source(path, kind)

    def _label_which(self, run_dir: Path) -> None:
        """Name the epoch each choice holds ("best weights (epoch 3)"), read from the weights files."""
        from gui.training.runs_list import weights_epochs

        held = weights_epochs(run_dir)
        for i, (which, text) in enumerate((("best", "best epoch"), ("last", "last epoch"))):
            self.which_box.setItemText(i, f"{which} weights{held[which]}" if which in held else text)

    @property
    def which(self) -> str:
        return str(self.which_box.currentData() or "best")

    def set_source(self, path: Path, kind: str | None = None, which: str | None = None) -> None:
        """Read and match the weights at ``path`` (in the background); the table fills when done."""
        from graph import project_to_dict

        if kind is not None and kind != self.kind:
            self.choose_kind(kind)
        if which is not None:
            self.which_box.setCurrentIndex(max(0, self.which_box.findData(which)))
        path = Path(path)
        self.source_path = path
        if self.kind == "run":
            self._label_which(path)
        if self.kind in self.path_edits:
            self.path_edits[self.kind].setText(str(path))
        elif self.run_box.findData(str(path)) < 0:
            self.run_box.addItem(path.name, str(path))
            self.run_box.setCurrentIndex(self.run_box.count() - 1)
        snapshot = project_to_dict(self.session.project)
        network, which_now = self.network_name, self.which
        self._generation += 1
        generation = self._generation
        self.busy = True
        self.attach_button.setEnabled(False)
        self.status.setText(f"Reading {path.name}…")

        def work() -> Any:
            from engine.transfer import match_file_weights

            return match_file_weights(snapshot, network, path, which_now)

        def done(match: Any) -> None:
            if generation == self._generation:
                self.busy = False
                self.status.setText("")
                self.match = match
                self._fill(match)

        def failed(exc: Exception) -> None:
            if generation != self._generation:
                return
            self.busy = False
            self.status.setText("")
            self.match = None
            self._fill(None)
            if isinstance(exc, TrainingError):
                text = exc.message
            else:
                log.error("loading weights failed", exc_info=(type(exc), exc, exc.__traceback__))
                text = f"The weights cannot be loaded: {exc}"
            self.sentence.setText(text)
            self.sentence.setProperty("role", "error")
            self.sentence.style().polish(self.sentence)

        run_in_background(work, done, failed, owner=self)

    # -- the report ---------------------------------------------------------------------------------------
    def _fill(self, match: Any) -> None:
        self._filling = True
        self.sentence.setProperty("role", "")
        self.sentence.style().polish(self.sentence)
        t = theme.current()
        colors = {"matched": QColor(t.canvas.valid), "changed": QColor("#d49a2a"), "missing": QColor(t.muted_text)}
        frozen = set(frozen_nodes(self.session.project))
        layers = match.layers if match is not None else []
        self.table.setRowCount(len(layers))
        for r, layer in enumerate(layers):
            name = QTableWidgetItem(layer.name)
            name.setData(Qt.ItemDataRole.UserRole, layer.node_id)
            name.setToolTip("Double-click to show the node on the canvas")
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, QTableWidgetItem(layer.type_id))
            status = QTableWidgetItem(STATUS_TEXT.get(layer.status, layer.status))
            status.setForeground(colors.get(layer.status, QColor(t.muted_text)))
            self.table.setItem(r, 2, status)
            self.table.setItem(r, 3, QTableWidgetItem(layer.detail or f"{layer.params:,} values"))
            freeze = QTableWidgetItem()
            if layer.status == "matched":
                freeze.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                freeze.setCheckState(Qt.CheckState.Checked if layer.name in frozen else Qt.CheckState.Unchecked)
                freeze.setToolTip(f"Keep the weights of {layer.name} fixed while training")
            else:
                freeze.setFlags(Qt.ItemFlag.NoItemFlags)
            self.table.setItem(r, FREEZE_COLUMN, freeze)
        if match is None:
            self.unused.setText("")
            self.attach_button.setEnabled(False)
        else:
            self.sentence.setText(match.sentence(attached=False))
            self.unused.setText(" ".join(match.notes))
            self.attach_button.setEnabled(bool(match.matched))
        self._filling = False

    def freeze_row(self, name: str) -> int:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).text() == name:
                return r
        return -1

    def set_frozen(self, name: str, on: bool) -> None:
        """Tick or untick a matched node's Freeze box (what a click does)."""
        row = self.freeze_row(name)
        if row < 0:
            raise KeyError(name)
        self.table.item(row, FREEZE_COLUMN).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != FREEZE_COLUMN:
            return
        from gui.commands import SetSettingCommand

        name = self.table.item(item.row(), 0).text()
        on = item.checkState() == Qt.CheckState.Checked
        project = self.session.project
        current = frozen_nodes(project)
        if (name in current) == on:
            return
        names = [*current, name] if on else [n for n in current if n != name]
        training = dict(project.settings.get(TRAINING_KEY) or {})
        training[FROZEN_KEY] = names
        self.session.push(SetSettingCommand(project, TRAINING_KEY, training,
                                            f"{'Freeze' if on else 'Unfreeze'} {name}"))
        self.controller.message.emit(f"{name} {'is frozen: its weights stay fixed' if on else 'trains again'} "
                                     "while training.")

    def _graph_event(self, event: Any) -> None:
        """Undo/redo of a freeze: the ticks follow the project."""
        if isinstance(event, SettingsChanged) and self.match is not None and not self._filling:
            frozen = set(frozen_nodes(self.session.project))
            self._filling = True
            for r in range(self.table.rowCount()):
                item = self.table.item(r, FREEZE_COLUMN)
                if item is not None and item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                    on = self.table.item(r, 0).text() in frozen
                    item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self._filling = False

    def _show_node(self, row: int, _column: int) -> None:
        node_id = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        if node_id:
            self.controller.select_node(node_id)

    # -- attaching ------------------------------------------------------------------------------------------
    def attach(self) -> bool:
        """Attach the matched weights to the network (one undo step); False when nothing matched."""
        from gui.commands import SetWeightsCommand

        match = self.match
        if match is None or not match.matched:
            return False
        self.session.push(SetWeightsCommand(self.session, match.network, match.state, match.source,
                                            f"Load weights of {match.source}"))
        fit = len(match.matched)
        self.sentence.setText(match.sentence())
        self.status.setText(f"Attached {fit} layer{'s' if fit != 1 else ''} to '{match.network}' (Ctrl+Z undoes it).")
        self.controller.message.emit(match.sentence())
        return True
