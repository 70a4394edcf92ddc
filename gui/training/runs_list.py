"""Every run of the project (``engine.runs.list_runs`` of the folder beside the project file), newest
first: reopen one to see its curves, tick runs to lay their curves over the current ones, and reuse
a run's trained weights."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.runs import RunInfo, list_runs
from gui import icons, theme

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Run", "Status", "Epochs", "Result")
STATUS_TEXT = {"completed": "completed", "stopped": "stopped", "failed": "failed", "incomplete": "running / cut short"}


def result_text(info: RunInfo) -> str:
    """The run's headline number: accuracy or R² when it has them, else the first metric its
    recipe measures (reconstruction error, a GAN's quality, ...), else the validation loss."""
    from gui.training.curves import headline_candidates, metric_title

    s = info.summary
    for key, label, percent in (("val_accuracy", "acc", True), ("val_r2", "R²", False)):
        value = s.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            return f"{label} {100 * value:.1f} %" if percent else f"{label} {value:.3g}"
    candidates = headline_candidates(s)
    if candidates:
        return f"{metric_title(candidates[0])} {s[candidates[0]]:.3g}"
    value = s.get("val_loss")
    if isinstance(value, int | float) and math.isfinite(value):
        return f"val loss {value:.3g}"
    return ""


def started_text(info: RunInfo) -> str:
    try:
        when = datetime.fromisoformat(info.started)
    except ValueError:
        return info.name
    today = datetime.now().date()
    return when.strftime("%H:%M:%S") if when.date() == today else when.strftime("%Y-%m-%d %H:%M")


class RunsList(QWidget):
    #: reopen this run folder (show its curves)
    openRequested = Signal(object)
    #: a run was ticked (True) or unticked for the overlay
    overlayToggled = Signal(object, bool)
    #: (run folder, "best" | "last")
    useWeightsRequested = Signal(object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project_dir: Path | None = None
        self.project_name: str | None = None
        self.runs: list[RunInfo] = []
        #: the run shown as the current curves (live or reopened), drawn in bold
        self.current_path: Path | None = None
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemDoubleClicked.connect(lambda item, _c: self._open(item))
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.customContextMenuRequested.connect(self._context_menu)

        self.open_button = self._button("Open", "open", "Show this run's curves (double-click does the same)")
        self.open_button.clicked.connect(lambda: self._open(self.tree.currentItem()))
        self.weights_button = self._button("Use weights", "weights",
                                           "Attach this run's best weights to the network (saved with the project)")
        self.weights_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.weights_button)
        menu.addAction("Best epoch's weights", lambda: self._use("best"))
        menu.addAction("Last weights", lambda: self._use("last"))
        self.weights_button.setMenu(menu)
        self.weights_button.clicked.connect(lambda: self._use("best"))
        self.refresh_button = self._button("", "refresh", "Read the runs folder again")
        self.refresh_button.clicked.connect(self.refresh)
        self.hint = QLabel()
        self.hint.setProperty("role", "muted")
        self.hint.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.weights_button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(buttons)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.hint)
        self.apply_theme()
        self._update_buttons()

    def _button(self, text: str, icon: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setProperty("glyph", icon)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text
                                  else Qt.ToolButtonStyle.ToolButtonIconOnly)
        button.setAutoRaise(True)
        return button

    def apply_theme(self) -> None:
        color = theme.current().palette.buttonText().color()
        for b in (self.open_button, self.weights_button, self.refresh_button):
            b.setIcon(icons.icon(b.property("glyph"), color))

    # -- contents -------------------------------------------------------------------------------------
    def set_project(self, project_path: Path | None, project_name: str | None) -> None:
        self.project_dir = project_path.resolve().parent if project_path is not None else None
        self.project_name = project_name
        self.refresh()

    def refresh(self) -> None:
        ticked = set(self.ticked())
        selected = self.selected_path()
        self.runs = list_runs(self.project_dir, self.project_name) if self.project_dir is not None else []
        tree = self.tree
        tree.blockSignals(True)
        tree.clear()
        t = theme.current()
        for info in self.runs:
            item = QTreeWidgetItem([started_text(info), STATUS_TEXT.get(info.status, info.status),
                                    str(info.epochs_done), result_text(info)])
            item.setData(0, PATH_ROLE, str(info.path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if info.path in ticked else Qt.CheckState.Unchecked)
            tip = [f"{info.name}", f"data set: {info.dataset or '?'}",
                   f"network: {info.network or 'first'}"]
            if info.best_epoch:
                tip.append(f"best epoch: {info.best_epoch}")
            if info.error:
                tip.append(f"error: {info.error}")
            for col in range(len(COLUMNS)):
                item.setToolTip(col, "\n".join(tip))
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if info.status == "failed":
                item.setForeground(1, QColor(t.error))
            elif info.status == "completed":
                item.setForeground(1, QColor(t.canvas.valid))
            if self.current_path is not None and info.path == self.current_path:
                font = item.font(0)
                font.setBold(True)
                for col in range(len(COLUMNS)):
                    item.setFont(col, font)
            tree.addTopLevelItem(item)
            if info.path == selected:
                item.setSelected(True)
                tree.setCurrentItem(item)
        tree.blockSignals(False)
        if self.project_dir is None:
            self.hint.setText("Runs are kept in a 'runs' folder beside the project file: save the project to "
                              "train it.")
        elif not self.runs:
            self.hint.setText("No runs yet. Press Start (F5) to train; every run is kept here.")
        else:
            self.hint.setText("Double-click a run to see its curves; tick runs to lay them over the current one.")
        self._update_buttons()

    def set_current(self, path: Path | None) -> None:
        self.current_path = Path(path) if path is not None else None
        self.refresh()

    def ticked(self) -> list[Path]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.checkState(0) == Qt.CheckState.Checked:
                out.append(Path(item.data(0, PATH_ROLE)))
        return out

    def selected_path(self) -> Path | None:
        item = self.tree.currentItem()
        return Path(item.data(0, PATH_ROLE)) if item is not None and item.isSelected() else None

    def select(self, path: Path) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if Path(item.data(0, PATH_ROLE)) == Path(path):
                self.tree.setCurrentItem(item)
                item.setSelected(True)
                return

    def set_ticked(self, path: Path, on: bool) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if Path(item.data(0, PATH_ROLE)) == Path(path):
                item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def info(self, path: Path) -> RunInfo | None:
        return next((r for r in self.runs if r.path == Path(path)), None)

    # -- gestures -------------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        has = self.selected_path() is not None
        self.open_button.setEnabled(has)
        self.weights_button.setEnabled(has)

    def _open(self, item: QTreeWidgetItem | None) -> None:
        if item is not None:
            self.openRequested.emit(Path(item.data(0, PATH_ROLE)))

    def _use(self, which: str) -> None:
        path = self.selected_path()
        if path is not None:
            self.useWeightsRequested.emit(path, which)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0:
            self.overlayToggled.emit(Path(item.data(0, PATH_ROLE)), item.checkState(0) == Qt.CheckState.Checked)

    def _context_menu(self, pos: Any) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        path = Path(item.data(0, PATH_ROLE))
        menu = QMenu(self)
        held = weights_epochs(path)
        actions: list[tuple[str, Callable[[], None]]] = [
            ("Open", lambda: self.openRequested.emit(path)),
            (f"Use best weights{held.get('best', '')}", lambda: self.useWeightsRequested.emit(path, "best")),
            (f"Use last weights{held.get('last', '')}", lambda: self.useWeightsRequested.emit(path, "last")),
        ]
        for text, fn in actions:
            act = QAction(text, menu)
            act.triggered.connect(lambda _c=False, f=fn: f())
            menu.addAction(act)
        menu.exec(self.tree.viewport().mapToGlobal(pos))


def weights_epochs(run_dir: Path) -> dict[str, str]:
    """" (epoch N)" per weights file of a run, read from the files themselves (their header only), so
    a menu names the epoch it would load, not the one the run's metrics call best."""
    from engine.runs import saved_weights

    return {which: f" (epoch {info['epoch']})" for which, info in saved_weights(run_dir).items()
            if info.get("epoch") is not None}
