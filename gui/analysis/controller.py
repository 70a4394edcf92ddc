"""What the Analyze views share: which network and weights they look at, the data set (loaded once
per data-set description, off the GUI thread), and one window of each kind.

The views never touch the document except through undoable commands (the load dialog's
SetWeightsCommand and SetSettingCommand); the heavy work (torch, the data set, a forward pass)
runs in Qt's thread pool on a snapshot of the project, so the window never waits for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from graph import Network

if TYPE_CHECKING:  # pragma: no cover
    from gui.main_window import MainWindow

log = logging.getLogger(__name__)


class AnalysisController(QObject):
    #: a sentence for the status bar
    message = Signal(str)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self._datasets: dict[str, Any] = {}
        #: the open view of each kind ("evaluate", "trace", "saliency", "weights")
        self.views: dict[str, QWidget] = {}
        self.message.connect(self._show_message)
        self.session.projectReplaced.connect(self._forget_datasets)

    def _show_message(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    def _forget_datasets(self, _project: Any = None) -> None:
        self._datasets.clear()

    # -- what is analysed -------------------------------------------------------------------------------
    def network(self) -> Network:
        return self.window.current_project_network() or self.session.project.main

    def weights(self, network: str) -> tuple[dict[str, Any] | None, str]:
        return self.session.network_weights(network)

    def base_dir(self) -> str | None:
        path = self.session.path
        return str(path.parent) if path is not None else None

    def dataset_key(self) -> str:
        spec = self.session.project.settings.get("dataset")
        return json.dumps([spec, self.base_dir()], sort_keys=True, default=str)

    def cached_dataset(self, key: str) -> Any:
        return self._datasets.get(key)

    def remember_dataset(self, key: str, dataset: Any) -> None:
        if dataset is not None:
            self._datasets = {key: dataset}       # one data set at a time: they can be large

    def select_node(self, node_id: str) -> None:
        """Show a node on the canvas (the trace view's rows link to their nodes)."""
        self.window.select_node(node_id)

    # -- the views ----------------------------------------------------------------------------------------
    def _open(self, kind: str, make: Callable[[], QWidget]) -> QWidget:
        view = self.views.get(kind)
        if view is None or not shiboken6.isValid(view):
            view = make()
            self.views[kind] = view
        view.show()
        view.raise_()
        view.activateWindow()
        return view

    def open_evaluation(self) -> QWidget:
        from gui.analysis.evaluation_view import EvaluationView

        view = self._open("evaluate", lambda: EvaluationView(self, self.window))
        view.refresh()
        return view

    def open_trace(self) -> QWidget:
        from gui.analysis.trace_view import TraceView

        view = self._open("trace", lambda: TraceView(self, self.window))
        view.refresh()
        return view

    def open_saliency(self) -> QWidget:
        from gui.analysis.saliency_view import SaliencyView

        view = self._open("saliency", lambda: SaliencyView(self, self.window))
        view.refresh()
        return view

    def open_load_weights(self, source: str | None = None) -> QWidget:
        from gui.analysis.load_weights import LoadWeightsDialog

        view = self._open("weights", lambda: LoadWeightsDialog(self, self.window))
        view.set_network(self.network().name)
        if source is not None:
            view.choose_kind(source)
        return view
