"""The editing session: the open project, its undo stack and its file path.

It is the one bridge from the plain-Python document to Qt: it relays every document event as a
Qt signal and re-analyses each changed network exactly once per edit (when the undo stack settles,
or on the next event-loop turn for changes made outside a command), so the canvas, inspector,
summary and problems panels all draw from one :class:`graph.Analysis` instead of computing their own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

import graph
from graph import Analysis, Network, Project
from graph.block_library import default_folder
from graph.events import GraphEvent, LibraryChanged, NetworkRemoved, NodeMoved, SettingsChanged

log = logging.getLogger(__name__)


def empty_project() -> Project:
    return Project(name="Untitled", networks=[Network("main")])


class EditorSession(QObject):
    #: the whole project was replaced (New, Open, recovery); listeners rebuild from it
    projectReplaced = Signal(object)
    #: every document event (a frozen dataclass from graph.events), in order
    graphEvent = Signal(object)
    #: (network, analysis) after an edit changed what shape inference sees
    analysisChanged = Signal(object, object)
    #: the file path changed (Save As, Open, New)
    pathChanged = Signal(object)
    #: weights were attached to (or removed from) a network: its name
    weightsChanged = Signal(str)
    #: a block was saved to (or removed from) the user's block library on disk
    savedBlocksChanged = Signal()

    def __init__(self, project: Project | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self._project: Project = project if project is not None else empty_project()
        self._path: Path | None = None
        self._dirty: dict[int, Network] = {}
        #: trained weights attached to the project (network name -> state dict), e.g. from a run;
        #: not part of the document: saved beside the project file (graph.save_project(weights=...))
        self.weights: dict[str, dict[str, Any]] = {}
        #: network name -> where its weights came from ("run 2026...-mlp (best, epoch 12)")
        self.weights_source: dict[str, str] = {}
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self.flush)
        #: the block definitions' own networks this session relays (they are not project networks,
        #: but an opened block is edited like one): id -> network
        self._inside: dict[int, Network] = {}
        self._project.subscribe(self._on_event)
        self._follow_definitions()
        self.undo_stack.indexChanged.connect(self.flush)
        self._block_folder: Path | None = None

    # -- the document ---------------------------------------------------------------------------
    @property
    def project(self) -> Project:
        return self._project

    @property
    def path(self) -> Path | None:
        return self._path

    def set_path(self, path: str | Path | None) -> None:
        self._path = Path(path) if path is not None else None
        self.pathChanged.emit(self._path)

    def replace_project(self, project: Project, path: str | Path | None = None) -> None:
        """Swap in another project: the undo history belongs to the old one and goes with it."""
        self._project.unsubscribe(self._on_event)
        for net in self._inside.values():
            net.unsubscribe(self._on_event)
        self._inside.clear()
        self.undo_stack.clear()
        self._dirty.clear()
        self._project = project
        project.subscribe(self._on_event)
        self._follow_definitions()
        for name in list(self.weights):
            self.set_network_weights(name, None)
        self.set_path(path)
        self.projectReplaced.emit(project)
        for net in project.networks:
            self._mark(net)
        self.flush()

    @property
    def block_folder(self) -> Path:
        """The user's block library on disk (``$DEEPCANVAS_BLOCK_LIBRARY``, else beside the app's
        other per-user data, where the recovery folder is too)."""
        if self._block_folder is None:
            base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
            return default_folder(base or None)
        return self._block_folder

    def set_block_folder(self, folder: str | Path | None) -> None:
        self._block_folder = Path(folder) if folder is not None else None
        self.savedBlocksChanged.emit()

    def is_editable(self, network: Network) -> bool:
        """A project network or a block definition's inside of the current project."""
        return any(network is n for n in self._project.networks) or id(network) in self._inside

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    # -- editing --------------------------------------------------------------------------------
    def push(self, command: QUndoCommand) -> None:
        self.undo_stack.push(command)
        self.flush()

    # -- attached weights -------------------------------------------------------------------------
    def network_weights(self, name: str) -> tuple[dict[str, Any] | None, str]:
        return self.weights.get(name), self.weights_source.get(name, "")

    def set_network_weights(self, name: str, state: dict[str, Any] | None, source: str = "") -> None:
        """Attach (or, with None, drop) the weights of one network; undoable through
        :class:`gui.commands.SetWeightsCommand`."""
        if state is None:
            self.weights.pop(name, None)
            self.weights_source.pop(name, None)
        else:
            self.weights[name] = state
            self.weights_source[name] = source
        self.weightsChanged.emit(name)

    def analysis(self, network: Network) -> Analysis:
        """Cached on the network's revision by graph, so asking again costs nothing."""
        return graph.analyze(network)

    # -- events ---------------------------------------------------------------------------------
    def _follow_definitions(self) -> None:
        """Relay the events of every block definition's inside, as the project relays its networks."""
        wanted = {id(d.network): d.network for d in self._project.blocks}
        for key in [k for k in self._inside if k not in wanted]:
            self._inside.pop(key).unsubscribe(self._on_event)
            self._dirty.pop(key, None)
        for key, net in wanted.items():
            if key not in self._inside:
                self._inside[key] = net
                net.subscribe(self._on_event)
                self._mark(net)

    def _on_event(self, event: GraphEvent) -> None:
        net = event.network
        if isinstance(event, LibraryChanged) and event.change in ("added", "removed"):
            self._follow_definitions()
        if isinstance(event, NetworkRemoved):
            if net is not None:
                self._dirty.pop(id(net), None)
        elif isinstance(event, SettingsChanged):
            # the batch size and the device decide whether a network fits memory: re-check them all
            for network in self._project.networks:
                self._mark(network)
        elif net is not None and not isinstance(event, NodeMoved):
            self._mark(net)
        self.graphEvent.emit(event)

    def _mark(self, network: Network) -> None:
        self._dirty[id(network)] = network
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        """Analyse each network changed since the last flush, once, and announce the result."""
        if not self._dirty:
            return
        nets = [n for n in self._dirty.values() if self.is_editable(n)]
        self._dirty.clear()
        self._flush_timer.stop()
        for net in nets:
            self.analysisChanged.emit(net, graph.analyze(net))
