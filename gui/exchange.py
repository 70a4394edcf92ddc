"""File ▸ Export ▸ ONNX / TorchScript / torch.export / Safetensors weights, and File ▸ Import
PyTorch Model…: the window's side of graph.export_formats and graph.import_torch.

Exports hold the weights attached to the network (a training run's, an import's), else the ones
saved beside the project file, else the seeded initial ones, and the status bar says which. The
work runs in the GUI thread behind a wait cursor: an ONNX export takes a few seconds at most.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from graph import GraphError
from gui import dialogs

if TYPE_CHECKING:  # pragma: no cover
    from gui.main_window import MainWindow

log = logging.getLogger(__name__)

#: format -> (menu text, file filter)
EXPORT_MENU = {
    "onnx": ("&ONNX…", "ONNX models (*.onnx)"),
    "torchscript": ("&TorchScript Archive…", "TorchScript archives (*.pt)"),
    "pt2": ("torch.&export Program…", "torch.export programs (*.pt2)"),
    "safetensors": ("&Safetensors Weights…", "Safetensors weights (*.safetensors)"),
}


@dataclass(frozen=True)
class ImportRequest:
    file: str
    class_name: str
    input_shape: str
    dtype: str
    #: one node per layer instead of the model's submodules as nested blocks
    flatten: bool = False

    @property
    def target(self) -> str:
        return f"{self.file}:{self.class_name}"


# -- the questions (module functions, so tests can answer them) -------------------------------------
def choose_format_path(parent: QWidget, fmt: str, suggested: str) -> Path | None:
    from graph.export_formats import FORMATS

    title, filters = EXPORT_MENU[fmt]
    path, _ = QFileDialog.getSaveFileName(parent, f"Export {title.replace('&', '').rstrip('…')}", suggested,
                                          filters)
    if not path:
        return None
    p = Path(path)
    return p if p.suffix else p.with_suffix(FORMATS[fmt])


def ask_import(parent: QWidget, last: ImportRequest | None = None) -> ImportRequest | None:
    dialog = ImportDialog(parent, last)
    return dialog.request() if dialog.exec() == QDialog.DialogCode.Accepted else None


class ImportDialog(QDialog):
    """Which model to import: a Python file, the class in it and the per-sample input shape."""

    def __init__(self, parent: QWidget | None = None, last: ImportRequest | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import PyTorch Model")
        self.file_edit = QLineEdit(last.file if last else "")
        self.file_edit.setPlaceholderText("models.py, or a dotted module path such as mypkg.models")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.file_edit, 1)
        row.addWidget(browse)
        self.class_edit = QLineEdit(last.class_name if last else "")
        self.class_edit.setPlaceholderText("the nn.Module class, e.g. LeNet")
        self.shape_edit = QLineEdit(last.input_shape if last else "")
        self.shape_edit.setPlaceholderText("per sample, e.g. 1,28,28 (empty: the file's sample_inputs())")
        self.dtype_combo = QComboBox()
        self.dtype_combo.addItems(["float32", "int64"])
        if last:
            self.dtype_combo.setCurrentText(last.dtype)
        self.flatten_check = QCheckBox("Flatten all (one node per layer, no nested blocks)")
        self.flatten_check.setChecked(bool(last and last.flatten))
        self.flatten_check.setToolTip("By default the model's submodules (a ResNet's layer1, its BasicBlocks) "
                                      "become nested blocks, and identical ones share one definition.")
        note = QLabel("The model is traced with torch.fx. Layers DeepCanvas knows become its layers; other steps "
                      "become “Imported op” nodes that keep running the original call. Running the file "
                      "executes its code, so import only files you trust.")
        note.setWordWrap(True)
        note.setProperty("role", "hint")
        form = QFormLayout()
        form.addRow("Python file or module:", row)
        form.addRow("Class:", self.class_edit)
        form.addRow("Input shape:", self.shape_edit)
        form.addRow("Input dtype:", self.dtype_combo)
        form.addRow("", self.flatten_check)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        for edit in (self.file_edit, self.class_edit):
            edit.textChanged.connect(self._update)
        self._update()
        self.resize(560, self.sizeHint().height())

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Python file with the model", self.file_edit.text(),
                                              "Python files (*.py)")
        if path:
            self.file_edit.setText(path)

    def _update(self) -> None:
        self.ok_button.setEnabled(bool(self.file_edit.text().strip() and self.class_edit.text().strip()))

    def request(self) -> ImportRequest:
        return ImportRequest(self.file_edit.text().strip(), self.class_edit.text().strip(),
                             self.shape_edit.text().strip(), self.dtype_combo.currentText(),
                             self.flatten_check.isChecked())


# -- the actions --------------------------------------------------------------------------------------
class ExchangeActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.session = window.session
        self.files = window.files
        self.actions: dict[str, QAction] = {}
        self.last_import: ImportRequest | None = None
        self.export_menu = QMenu("Export &As", window)
        for fmt, (text, _filters) in EXPORT_MENU.items():
            action = QAction(text, window)
            action.setStatusTip(f"Export the current network as {text.replace('&', '').rstrip('…')}")
            action.triggered.connect(lambda _checked=False, f=fmt: self.export(f))
            self.export_menu.addAction(action)
            self.actions[f"export_{fmt}"] = action
        self.import_action = QAction("&Import PyTorch Model…", window)
        self.import_action.setStatusTip("Trace an existing nn.Module into a new project with its weights")
        self.import_action.triggered.connect(lambda _checked=False: self.import_model())
        self.actions["import_torch"] = self.import_action
        window.actions_by_name.update(self.actions)
        self._place_in_file_menu()

    def _place_in_file_menu(self) -> None:
        export = self.window.actions_by_name.get("export")
        for menu_action in self.window.menuBar().actions():
            menu = menu_action.menu()
            if menu is None or export not in menu.actions():
                continue
            following = menu.actions()[menu.actions().index(export) + 1:]
            before = following[0] if following else None
            menu.insertMenu(before, self.export_menu) if before else menu.addMenu(self.export_menu)
            menu.insertAction(before, self.import_action) if before else menu.addAction(self.import_action)
            return
        log.warning("no File menu with an Export entry; exchange actions are not in a menu")

    # .. export ...........................................................................
    def _weights(self, network_name: str) -> tuple[dict[str, Any] | None, str]:
        attached, source = self.session.network_weights(network_name)
        if attached:
            return attached, source or "attached weights"
        path = self.session.path
        if path is not None:
            from graph.project_file import load_weights, weights_path

            beside = weights_path(path)
            if beside.is_file():
                try:
                    return load_weights(beside).get(network_name), beside.name
                except GraphError as exc:
                    log.warning("ignoring unreadable weights %s: %s", beside, exc)
        return None, ""

    def export(self, fmt: str, path: Path | None = None) -> bool:
        from graph.export_formats import default_output, export_as

        net = self.window.current_project_network() or self.session.project.main
        if not any(net is n for n in self.session.project.networks):
            net = self.session.project.main  # a block's inside: export the network holding it
        suggested = default_output(self.session.path, self.session.project.name, fmt)
        if self.session.path is None:
            suggested = Path.cwd() / suggested
        path = path or choose_format_path(self.window, fmt, str(suggested))
        if path is None:
            return False
        weights, source = self._weights(net.name)
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            result = export_as(fmt, self.session.project, path, net.name, weights=weights)
        except GraphError as exc:
            dialogs.show_error(self.window, "Cannot export", str(exc))
            return False
        except OSError as exc:
            dialogs.show_error(self.window, "Cannot export", f"{path}: {exc.strerror or exc}")
            return False
        finally:
            QGuiApplication.restoreOverrideCursor()
        held = f"{result.weights} ({source})" if weights else result.weights
        self.files.message.emit(f"Exported {net.name} to {Path(path).name} with {held}")
        return True

    # .. import ...........................................................................
    def import_model(self, request: ImportRequest | None = None) -> bool:
        from graph.import_torch import import_torch, parse_shapes

        if not self.files.maybe_save():
            return False
        request = request or ask_import(self.window, self.last_import)
        if request is None:
            return False
        self.last_import = request
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            shapes = parse_shapes(request.input_shape) if request.input_shape else None
            report = import_torch(request.target, shapes, [request.dtype] if shapes else None,
                                  flatten=request.flatten)
        except GraphError as exc:
            dialogs.show_error(self.window, "Cannot import the model", str(exc))
            return False
        finally:
            QGuiApplication.restoreOverrideCursor()
        project = report.project
        self.files.adopt(project, f"Imported {request.class_name}: {len(report.mapped)} layers, "
                                  f"{len(report.opaque)} imported ops")
        self.session.set_network_weights(project.main.name, report.weights, f"imported from {request.class_name}")
        log.info("%s", report.format())
        return True


def install(window: MainWindow) -> ExchangeActions:
    return ExchangeActions(window)
