"""New, Open, Save, Save As, recent files, export, autosave (:mod:`gui.autosave`) and crash recovery.

Loading is all-or-nothing: a file is read completely into a new Project before the open one is
replaced, so a broken file leaves the current document exactly as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

import graph
from graph import GraphError, Project
from graph.project_file import atomic_write
from graph.templates import make_template
from gui import dialogs
from gui.autosave import AUTOSAVE_MAX_WAIT_MS, Autosaver
from gui.recovery import RecoveryEntry, RecoveryStore
from gui.session import EditorSession, empty_project
from gui.settings import AppSettings

#: the name of a project nobody named yet (see gui.session.empty_project)
DEFAULT_PROJECT_NAME = "Untitled"

log = logging.getLogger(__name__)


class FileController(QObject):
    recentChanged = Signal()
    #: a sentence for the status bar ("Saved digits.dcproj")
    message = Signal(str)

    def __init__(self, parent: QWidget, session: EditorSession, settings: AppSettings,
                 recovery: RecoveryStore | None = None) -> None:
        super().__init__(parent)
        self.window = parent
        self.session = session
        self.settings = settings
        self.recovery = recovery if recovery is not None else RecoveryStore()
        #: writes the recovery copy a few seconds after the last edit, off the GUI thread; while
        #: edits keep coming, at least every ``autosave_seconds`` (the setting)
        self.autosaver = Autosaver(session, self.recovery, self,
                                   max_wait_ms=min(settings.autosave_seconds * 1000, AUTOSAVE_MAX_WAIT_MS))
        #: the debounce timer (stopped for screenshots)
        self.autosave_timer: QTimer = self.autosaver.timer
        #: False for screenshots: leave the recent-files list alone
        self.remember_files = True
        #: False for screenshots: report errors to the log instead of a dialog nobody can click
        self.interactive = True
        #: a training-script export is being written in the background
        self.exporting = False

    def _error(self, title: str, message: str) -> None:
        if self.interactive:
            dialogs.show_error(self.window, title, message)
        else:
            log.error("%s: %s", title, message)

    # -- questions ------------------------------------------------------------------------------
    def display_name(self) -> str:
        path = self.session.path
        return path.name if path else self.session.project.name

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded, or unchanged)."""
        if not self.session.modified:
            return True
        answer = dialogs.ask_unsaved_changes(self.window, self.display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    # -- new / open -----------------------------------------------------------------------------
    def new_project(self, template: str | None = None) -> bool:
        if not self.maybe_save():
            return False
        if template is None:
            template = dialogs.choose_template(self.window)
            if template is None:
                return False
        try:
            project = make_template(template) if template else empty_project()
        except GraphError as exc:
            self._error("New project", str(exc))
            return False
        self._replace(project, None)
        self.message.emit(f"New project from template {template}" if template else "New empty project")
        return True

    def open_dialog(self) -> bool:
        if not self.maybe_save():
            return False
        start = str(self.session.path.parent) if self.session.path else ""
        path = dialogs.choose_open_path(self.window, start)
        return self.open_path(path, ask_to_save=False) if path else False

    def open_path(self, path: str | Path, ask_to_save: bool = True) -> bool:
        if ask_to_save and not self.maybe_save():
            return False
        path = Path(path)
        try:
            project = graph.load_project(path)
        except GraphError as exc:
            log.warning("cannot open %s: %s", path, exc)
            self._error("Cannot open project", str(exc))
            if isinstance(exc, graph.ProjectFileError) and not path.exists():
                self.settings.remove_recent(path)
                self.recentChanged.emit()
            return False
        self._replace(project, path)
        self._remember(path)
        self.message.emit(f"Opened {path.name}")
        return True

    def adopt(self, project: Project, message: str) -> None:
        """Make a project built elsewhere (an imported model) the document; it exists in no file
        yet, so closing it asks to save."""
        self._replace(project, None)
        self.session.undo_stack.resetClean()
        self.message.emit(message)

    def _replace(self, project: Project, path: Path | None) -> None:
        self.session.replace_project(project, path)
        self.autosaver.discard()

    # -- save -----------------------------------------------------------------------------------
    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self._save_to(self.session.path)

    def save_as(self, why: str = "") -> bool:
        """Ask where to save and save there; ``why`` says why the save was asked for when the person
        did not ask (it titles the dialog and goes to the status bar)."""
        suggested = str(self.session.path or Path.cwd() / f"{_file_stem(self.session.project.name)}.dcproj")
        if why:
            self.message.emit(why)
        path = dialogs.choose_save_path(self.window, suggested, why)
        if path is None:
            return False
        project = self.session.project
        if project.name == DEFAULT_PROJECT_NAME and self.session.path is None:
            # an untitled project takes the name it is saved under (titles, headings, its runs)
            project.name = Path(path).stem or DEFAULT_PROJECT_NAME
        return self._save_to(path)

    def _save_to(self, path: Path) -> bool:
        try:
            # weights attached by the training panel go beside the project file
            graph.save_project(self.session.project, path, weights=self.session.weights or None)
        except (OSError, GraphError, ValueError) as exc:
            log.warning("cannot save %s: %s", path, exc)
            self._error("Cannot save project", f"{path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.session.undo_stack.setClean()
        if self.session.path != path:
            self.session.set_path(path)
        self._remember(path)
        self.autosaver.discard()
        self.message.emit(f"Saved {path.name}")
        return True

    def _remember(self, path: Path) -> None:
        if self.remember_files:
            self.settings.add_recent(path)
            self.recentChanged.emit()

    # -- export ---------------------------------------------------------------------------------
    def export_python(self, network_name: str | None = None) -> bool:
        """File ▸ Export Python Script: the training script (as ``main.py export`` writes it) or the
        model alone, as the person chooses in the export dialog."""
        project = self.session.project
        name = network_name or project.main.name
        base = self.session.path.with_suffix(".py") if self.session.path else Path.cwd() / f"{_file_stem(name)}.py"
        unavailable = ("" if project.settings.get("dataset") else
                       "The training script needs a data set: pick one in the training panel's Data tab first.")
        choice = dialogs.choose_export(self.window, str(base), unavailable)
        if choice is None:
            return False
        if choice.kind == "training":
            return self.export_training(choice.path, name)
        return self.export_to(choice.path, name)

    def export_training(self, path: Path, network_name: str) -> bool:
        """Write the training script (and, for data the script cannot load itself, the arrays beside
        it) off the GUI thread; the status bar says what was written, or the error says why not.
        True when the export started."""
        from graph import project_from_dict, project_to_dict
        from graph.shapes import require_valid
        from gui.training.background import run_in_background

        path = Path(path)
        try:
            require_valid(self.session.project.network(network_name))  # the problems, named, before any file
        except GraphError as exc:
            self._error("Cannot export", str(exc))
            return False
        snapshot = project_to_dict(self.session.project)
        base_dir = str(self.session.path.resolve().parent) if self.session.path else None
        self.exporting = True
        self.message.emit(f"Exporting the training script of {network_name}…")

        def work() -> list[Path]:
            from engine.export_training import write_training_export

            return write_training_export(project_from_dict(snapshot), path, network_name, base_dir=base_dir)

        def done(written: list[Path]) -> None:
            self.exporting = False
            extra = f" (with its data in {written[1].name})" if len(written) > 1 else ""
            self.message.emit(f"Exported the training script of {network_name} to {path.name}{extra}: "
                              f"python {path.name} trains it")

        def failed(exc: Exception) -> None:
            from engine.errors import TrainingError

            self.exporting = False
            if isinstance(exc, TrainingError):
                text = exc.message
            elif isinstance(exc, OSError):
                text = f"{path}: {exc.strerror or exc}"
            elif isinstance(exc, GraphError):
                text = str(exc)
            else:
                log.error("exporting the training script failed", exc_info=(type(exc), exc, exc.__traceback__))
                text = f"The training script cannot be written: {exc}"
            self._error("Cannot export", text)

        run_in_background(work, done, failed, owner=self)
        return True

    def export_to(self, path: Path, network_name: str) -> bool:
        """The model script alone; with the weights attached to the network (an import's, a run's)
        in ``NAME.weights.safetensors`` beside it, which the script loads, as ``main.py export``
        writes it."""
        from graph.export_python import write_python_export

        weights, _source = self.session.network_weights(network_name)
        note = ""
        try:
            if weights is not None and self._weights_fit(network_name, weights):
                written = write_python_export(self.session.project, path, network_name, weights=weights)
                note = f" with its weights in {written[-1].name}"
            else:
                if weights is not None:
                    note = " (the attached weights no longer fit the network: it builds initial weights)"
                text = graph.export_python(self.session.project, network_name)
                atomic_write(Path(path), text.encode("utf-8"))
        except GraphError as exc:
            self._error("Cannot export", str(exc))
            return False
        except OSError as exc:
            self._error("Cannot export", f"{path}: {exc.strerror or exc}")
            return False
        self.message.emit(f"Exported {network_name} to {Path(path).name}{note}")
        return True

    def _weights_fit(self, network_name: str, weights: dict[str, Any]) -> bool:
        from graph.state_fit import compare_state

        net = self.session.project.network(network_name)
        return not compare_state(graph.compile_network(net, seed=0).state_dict(), weights)

    # -- autosave and recovery --------------------------------------------------------------------
    def autosave_now(self) -> Path | None:
        """Write the recovery copy now (and wait for it) if there is unsaved work that it does
        not hold yet; the timer does the same a few seconds after each edit, without waiting."""
        return self.autosaver.write_now()

    def offer_recovery(self) -> bool:
        """At start-up: offer the newest autosave of a session that crashed. Whatever the answer,
        the old recovery files are then removed (a restored project is autosaved anew at once)."""
        entries = self.recovery.orphans()
        if not entries:
            return False
        restored = dialogs.ask_restore(self.window, entries[0].describe()) and self.restore(entries[0])
        if restored:
            self.autosave_now()
        for entry in entries:
            self.recovery.discard(entry)
        return restored

    def restore(self, entry: RecoveryEntry) -> bool:
        try:
            project = graph.load_project(entry.project_file)
        except GraphError as exc:
            self._error("Cannot recover", str(exc))
            return False
        self.session.replace_project(project, entry.original)
        self.session.undo_stack.resetClean()   # it differs from what is on disk: ask before closing
        self._restore_weights(entry)
        self.message.emit(f"Recovered {entry.name}")
        return True

    def _restore_weights(self, entry: RecoveryEntry) -> None:
        """The trained weights that were attached when the copy was written come back attached."""
        from graph.project_file import load_weights, weights_path

        if not weights_path(entry.project_file).is_file():
            return
        try:
            weights = load_weights(entry.project_file)
        except GraphError as exc:
            log.warning("the recovered weights cannot be read: %s", exc)
            self.message.emit(f"The recovered weights cannot be read: {exc}")
            return
        for name, state in weights.items():
            self.session.set_network_weights(name, state, "recovered after a crash")

    def shutdown(self) -> None:
        """A clean exit: nothing to recover next time."""
        self.autosaver.shutdown()
        self.recovery.release()


def _file_stem(name: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name.strip()).strip("_")
    return stem or "project"
