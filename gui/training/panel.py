"""The training panel: pick a data set, set the options, press Start and watch the run.

    [Start] [Pause] [Stop]   ████████░░░░ Epoch 12/30 · ETA 0:14            running on cpu
    ┌ Data │ Options │ Runs ┐  ┌ Loss ─────┐ ┌ Accuracy ─┐   ┌ Samples │ Confusion │ Log ┐
    │ picker + preview     │  │           │ │           │   │ previews / heat map        │
    │ options form         │  ├ LR ───────┤ ├ Grad norm ┤   │                            │
    │ runs list            │  └───────────┘ └───────────┘   └────────────────────────────┘

The Samples tab is there only for runs whose recipe shows what the model makes of samples
(reconstructions, generated samples, forecasts, sampled text); it comes forward with a run's first
preview.

Heavy parts (pyqtgraph, numpy, the data-set code) are imported only when the panel is first shown
or a run starts, so they cost the window's start-up nothing. A run's events come in from
:class:`TrainingController`; a failure is shown in a banner in the panel (naming the node, which
is selected on the canvas) and everything drawn so far stays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import TrainingError
from engine.events import Event, PreviewSamples, RunError, RunFinished, RunStarted
from engine.options import DATASET_KEY
from graph import Network
from gui import icons, theme
from gui.session import EditorSession
from gui.training.background import run_in_background
from gui.training.controller import Progress, TrainingController, format_duration

log = logging.getLogger(__name__)

#: banner titles per error kind (engine.errors.ERROR_KINDS); the engine's message follows
ERROR_TITLES = {
    "options": "A training option needs changing",
    "data": "The data set cannot be used",
    "shape": "The data does not fit the network",
    "nan": "The loss became NaN or infinite",
    "oom": "Out of memory",
    "device": "The device failed",
    "disk": "The run folder cannot be written",
    "network": "The network has problems to fix first",
    "worker_died": "The training process died",
    "internal": "Training failed unexpectedly",
    "killed": "The training process was ended by force",
}
STATUS_WORDS = {"idle": "ready", "starting": "starting…", "loading": "loading…", "running": "training",
                "paused": "paused", "stopping": "stopping…", "completed": "completed", "stopped": "stopped",
                "failed": "failed"}
ACTIVE = ("starting", "loading", "running", "paused", "stopping")
#: the confusion matrix is redrawn at most this often
CONFUSION_INTERVAL_MS = 250
#: the progress bar and ETA are updated at most this often
PROGRESS_INTERVAL_MS = 200
#: a project's saved weights are loaded this long after it opens
WEIGHTS_LOAD_DELAY_MS = 1000
#: after a run starts, its line appears in the runs list this much later
RUNS_REFRESH_DELAY_MS = 250
#: the right-hand side is made this wide (pixels) when samples are first shown, if the plots keep
#: at least MIN_PLOTS_WIDTH
SAMPLES_WIDTH = 440
MIN_PLOTS_WIDTH = 560
#: recipes that predict no classes, so a confusion matrix has nothing to show
NO_CLASSES = frozenset({"gan", "autoencoder", "regression"})


class ErrorBanner(QFrame):
    """A failure, where the person is looking: what went wrong, the engine's sentence, and a button
    to show the node at fault."""

    nodeChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingErrorBanner")
        self.node_id: str | None = None
        self.title = QLabel()
        self.title.setProperty("role", "error")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.node_button = QPushButton()
        self.node_button.setFlat(False)
        self.node_button.clicked.connect(lambda: self.node_id and self.nodeChosen.emit(self.node_id))
        self.close_button = QToolButton()
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide this message")
        self.close_button.clicked.connect(self.hide)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.message)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addLayout(text, 1)
        layout.addWidget(self.node_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.apply_theme()
        self.hide()

    def apply_theme(self) -> None:
        t = theme.current()
        error = QColor(t.error)
        tint = QColor(error)
        tint.setAlpha(28)
        self.setStyleSheet(f"QFrame#trainingErrorBanner {{ background: rgba({tint.red()},{tint.green()},"
                           f"{tint.blue()},{tint.alpha()}); border: 1px solid {error.name()}; "
                           f"border-left: 4px solid {error.name()}; border-radius: 4px; }}")
        self.close_button.setIcon(icons.icon("close", t.muted_text))
        self.node_button.setIcon(icons.icon("node", t.palette.buttonText().color()))

    def show_error(self, title: str, message: str, node_id: str | None = None, node_name: str | None = None) -> None:
        self.title.setText(title)
        self.message.setText(message)
        self.node_id = node_id
        self.node_button.setVisible(node_id is not None)
        self.node_button.setText(f"Show {node_name or 'the node'}")
        self.show()


class TrainingPanel(QWidget):
    #: the run state changed (see TrainingController.statusChanged); the window updates its actions
    stateChanged = Signal(str)
    #: select this node on the canvas
    nodeChosen = Signal(str)
    #: a sentence for the status bar
    message = Signal(str)
    #: the panel wants to be seen (a run started)
    raiseRequested = Signal()
    #: why the chosen data set does not fit the network ("" when it fits)
    dataProblem = Signal(str)

    def __init__(self, session: EditorSession, *, ensure_saved: Callable[[], Path | None] | None = None,
                 current_network: Callable[[], Network | None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._ensure_saved = ensure_saved or (lambda: session.path)
        self._current_network = current_network or (lambda: session.project.main)
        self.controller = TrainingController(self)
        #: training options that replace the project's for runs started here (tests, benchmarks)
        self.overrides: dict[str, Any] = {}
        self.curves: Any = None               # gui.training.curves.RunCurves being shown
        self.shown_run: Path | None = None    # the run whose curves are shown (live or reopened)
        self.network_name: str | None = None  # the network the live run trains
        self._built = False
        self._build_queued = False
        self._reset_pending = False
        self._note = ""
        self._run_recipe: str | None = None
        #: the project the live run trains (its end attaches weights only if it is still open)
        self._run_project: Any = None
        #: the live run has shown a preview (its first one brings the Samples tab forward)
        self._previews_seen = False
        self._samples_widened = False
        self._confusion_version = -1
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.controller.eventsArrived.connect(self._on_events)
        self.controller.statusChanged.connect(self._on_status)
        self.controller.progressChanged.connect(self._progress_changed)
        self.controller.stopSlow.connect(self._offer_kill)
        self.controller.finished.connect(self._on_finished)
        session.projectReplaced.connect(self._project_replaced)
        session.pathChanged.connect(lambda _p: self._refresh_runs())

    # -- building (deferred: pyqtgraph and numpy load here, not at start-up) ----------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        """The first time the panel is really on screen (a dock tabbed away counts as "visible"
        to Qt, but is never painted), build it, right after this frame."""
        super().paintEvent(event)
        if not self._built and not self._build_queued:
            self._build_queued = True
            QTimer.singleShot(0, self.ensure_built)

    def ensure_built(self) -> None:
        if self._built:
            return
        self._built = True
        from gui.training.confusion import ConfusionView
        from gui.training.curves import RunCurves
        from gui.training.dataset_picker import DatasetPicker
        from gui.training.event_log import EventLog
        from gui.training.options_form import OptionsForm
        from gui.training.plots import CurvePlots
        from gui.training.runs_list import RunsList
        from gui.training.samples_view import SamplesView

        self.picker = DatasetPicker(self.session, self._current_network)
        self.options_form = OptionsForm(self.session, self._current_network)
        self.runs = RunsList()
        self.plots = CurvePlots()
        self.confusion = ConfusionView()
        self.samples = SamplesView()
        self.log = EventLog()
        self.banner = ErrorBanner()
        self.curves = RunCurves()
        self.plots.set_curves(self.curves)

        # the strip: buttons, progress, status
        self.start_button = self._button("Start", "start", "Train the network on the data set (F5)")
        self.pause_button = self._button("Pause", "pause", "Pause at the next step (F6)")
        self.resume_button = self._button("Resume", "start", "Go on training (F6)")
        self.stop_button = self._button("Stop", "stop", "Stop at the next step; the weights so far are kept "
                                        "(Shift+F5)")
        self.kill_button = self._button("Force stop", "kill", "End the training process now (what it saved "
                                        "so far is kept)")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.controller.pause)
        self.resume_button.clicked.connect(self.controller.resume)
        self.stop_button.clicked.connect(self.controller.stop)
        self.kill_button.clicked.connect(self.controller.kill)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setMinimumWidth(220)
        self.progress.setFixedHeight(18)
        self.eta_label = QLabel()
        self.eta_label.setProperty("role", "muted")
        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        strip = QHBoxLayout()
        strip.setContentsMargins(8, 6, 8, 2)
        strip.setSpacing(6)
        for b in (self.start_button, self.pause_button, self.resume_button, self.stop_button, self.kill_button):
            strip.addWidget(b)
        strip.addSpacing(8)
        strip.addWidget(self.progress, 2)
        strip.addWidget(self.eta_label)
        strip.addWidget(self.status_label, 3)

        self.side = QTabWidget()
        self.side.setDocumentMode(True)
        self.side.addTab(self.picker, "Data")
        self.side.addTab(self.options_form, "Options")
        self.side.addTab(self.runs, "Runs")
        self.detail = QTabWidget()
        self.detail.setDocumentMode(True)
        self.detail.addTab(self.samples, "Samples")
        self.detail.addTab(self.confusion, "Confusion matrix")
        self.detail.addTab(self.log, "Event log")
        self.detail.setTabVisible(0, False)
        self.detail.setCurrentWidget(self.confusion)
        #: the log is in front only because no other tab applies (not because the person chose it)
        self._log_is_fallback = False
        self.detail.tabBarClicked.connect(self._detail_tab_clicked)
        self.detail.setTabToolTip(0, "What the model makes of a few samples, after each epoch")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.side)
        self.splitter.addWidget(self.plots)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.side.setMinimumWidth(320)
        self.detail.setMinimumWidth(260)
        self.splitter.setSizes([400, 820, 340])

        self._layout.addLayout(strip)
        banner_row = QHBoxLayout()
        banner_row.setContentsMargins(8, 2, 8, 2)
        banner_row.addWidget(self.banner)
        self._layout.addLayout(banner_row)
        self._layout.addWidget(self.splitter, 1)

        self.banner.nodeChosen.connect(self.nodeChosen)
        self.picker.nodeChosen.connect(self.nodeChosen)
        self.picker.fitChanged.connect(self.dataProblem)
        self.options_form.message.connect(self.message)
        self.runs.openRequested.connect(self.open_run)
        self.runs.overlayToggled.connect(self.set_overlay)
        self.runs.useWeightsRequested.connect(self.use_weights)
        self.session.weightsChanged.connect(lambda _n: self._update_weights_note())
        # the progress bar repaints itself synchronously on every value: update it a few times a
        # second, not at every batch of events
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(lambda: self._on_progress(self.controller.progress))
        # reading the runs folder gets its own turn of the event loop, away from the first curves
        self._runs_timer = QTimer(self)
        self._runs_timer.setSingleShot(True)
        self._runs_timer.setInterval(RUNS_REFRESH_DELAY_MS)
        self._runs_timer.timeout.connect(lambda: self.runs.set_current(self.shown_run))
        self._confusion_timer = QTimer(self)
        self._confusion_timer.setSingleShot(True)
        self._confusion_timer.setInterval(CONFUSION_INTERVAL_MS)
        self._confusion_timer.timeout.connect(self._update_confusion)
        self.apply_theme()
        self._set_confusion_tab(self._planned_recipe())
        self._refresh_runs()
        self._on_status(self.controller.status)
        self._on_progress(self.controller.progress)

    def _button(self, text: str, glyph: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setProperty("glyph", glyph)
        button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        return button

    def apply_theme(self) -> None:
        if not self._built:
            return
        t = theme.current()
        text = t.palette.buttonText().color()
        colors = {"start": t.canvas.valid, "stop": t.error, "kill": t.error}
        for b in (self.start_button, self.pause_button, self.resume_button, self.stop_button, self.kill_button):
            glyph = b.property("glyph")
            b.setIcon(icons.icon(glyph, colors.get(glyph, text)))
        self.plots.apply_theme()
        self.confusion.apply_theme()
        self.samples.apply_theme()
        self.runs.apply_theme()
        self.banner.apply_theme()
        self._on_status(self.controller.status)

    # -- the public surface (Train menu, tests) -------------------------------------------------------
    @property
    def status(self) -> str:
        return self.controller.status

    @property
    def active(self) -> bool:
        return self.controller.active

    def start(self) -> bool:
        """Start a run of the current network; False (with the reason in the panel) if it cannot."""
        self.ensure_built()
        if self.controller.active:
            return False
        self.banner.hide()
        if not self.session.project.settings.get(DATASET_KEY):
            self.side.setCurrentWidget(self.picker)
            self._show_error("data", "Choose a data set first: pick one in the Data tab, then press Start.")
            return False
        path = self._ensure_saved()
        if path is None:
            self._show_error("options", "Save the project first: every run is kept in a 'runs' folder beside the "
                             "project file.")
            return False
        network = self._current_network() or self.session.project.main
        try:
            self.controller.start(self.session.project, project_path=path, network=network.name,
                                  overrides=dict(self.overrides) or None)
        except TrainingError as exc:
            self._show_error(exc.kind, exc.message, exc.node)
            return False
        except OSError as exc:   # the runs folder cannot be created (read-only disk, ...)
            self._show_error("options", f"The run cannot start: {exc}")
            return False
        from gui.training.curves import RunCurves

        self.network_name = network.name
        self._run_project = self.session.project
        self._run_recipe = self._planned_recipe()
        self.curves = RunCurves()
        self.shown_run = self.controller.run_dir
        self._note = (f"Training '{network.name}' of {self.session.project.name}"
                      + (f" (overrides: {self.overrides})" if self.overrides else "") + ".")
        # starting the worker process took this turn of the event loop; the views are cleared in
        # the next one, so the window answers in between
        self._reset_pending = True
        QTimer.singleShot(0, self._reset_views)
        self.raiseRequested.emit()
        self.message.emit(f"Training {network.name}…")
        return True

    def _reset_views(self) -> None:
        if not self._reset_pending:
            return
        self._reset_pending = False
        self.plots.set_curves(self.curves)
        self.confusion.show_matrix(None)
        self._confusion_version = -1
        self.samples.clear()
        self._previews_seen = False
        from gui.training.samples import PREVIEW_RECIPES

        # recipes known to send previews keep their tab from the start (it does not blink away
        # and back at every run); the others get it with their first preview
        self._set_samples_tab(self._run_recipe in PREVIEW_RECIPES)
        self._set_confusion_tab(self._run_recipe)
        self.log.clear_log()
        self.log.add_note(self._note)

    def show_data_tab(self) -> None:
        """Bring the Data tab forward (the status bar's data problem leads here)."""
        self.ensure_built()
        self.side.setCurrentWidget(self.picker)

    def toggle_pause(self) -> None:
        if self.controller.status == "paused":
            self.controller.resume()
        else:
            self.controller.pause()

    def stop(self) -> None:
        self.controller.stop()

    def shutdown(self) -> None:
        """The window closes: end a run in progress (cooperatively first)."""
        self.controller.shutdown()

    # -- a run's events ---------------------------------------------------------------------------------
    def _node_names(self) -> dict[str, str]:
        try:
            net = self.session.project.network(self.network_name)
        except Exception:   # the network was removed or renamed meanwhile
            return {}
        return {n.id: n.name for n in net.nodes}

    def _on_events(self, events: list[Event]) -> None:
        if not self._built:
            self.ensure_built()
        self._reset_views()
        names = None
        changed = False
        previews: list[PreviewSamples] = []
        for event in events:
            if isinstance(event, RunStarted):
                names = self._node_names()
                self.shown_run = Path(event.run_dir)
                self._runs_timer.start()
            elif isinstance(event, PreviewSamples):
                previews.append(event)
                continue
            changed |= self.curves.apply(event, names)
            if isinstance(event, RunError):
                self._show_run_error(event)
        if previews:
            self._show_previews(previews)
        if changed:
            self.plots.request_redraw()
            if self.curves.confusion is not None and not self._confusion_timer.isActive():
                self._confusion_timer.start()
        self.log.add_events(events)

    def _show_previews(self, previews: list[PreviewSamples]) -> None:
        """Draw a batch of previews (each kind once, with its newest); the run's first one brings
        the Samples tab forward unless the person is reading the log."""
        if not self.samples.add_all(previews):
            return
        self._set_samples_tab(True)
        if not self._previews_seen:
            self._previews_seen = True
            if self.detail.currentWidget() is not self.log or self._log_is_fallback:
                self.detail.setCurrentWidget(self.samples)

    def _detail_tab_clicked(self, _index: int) -> None:
        self._log_is_fallback = False

    def _fall_back_to(self, widget: QWidget) -> None:
        """Show ``widget`` because the current tab is being hidden."""
        self._log_is_fallback = widget is self.log
        self.detail.setCurrentWidget(widget)

    def _set_samples_tab(self, visible: bool) -> None:
        index = self.detail.indexOf(self.samples)
        was_current = self.detail.currentWidget() is self.samples   # hiding it moves Qt's current tab
        if self.detail.isTabVisible(index) != visible:
            self.detail.setTabVisible(index, visible)
        if not visible and was_current:
            confusion_shown = self.detail.isTabVisible(self.detail.indexOf(self.confusion))
            self._fall_back_to(self.confusion if confusion_shown else self.log)
        if visible and not self._samples_widened:
            # pictures need more room than a confusion matrix: the first time, the right-hand
            # side grows a little (from the plots); after that the person's splitter stays
            self._samples_widened = True
            sizes = self.splitter.sizes()
            grow = SAMPLES_WIDTH - sizes[2]
            if grow > 0 and sizes[1] - grow >= MIN_PLOTS_WIDTH:
                self.splitter.setSizes([sizes[0], sizes[1] - grow, SAMPLES_WIDTH])

    def _set_confusion_tab(self, recipe: str | None) -> None:
        """The Confusion matrix tab only for runs that predict classes (not a GAN or an autoencoder)."""
        visible = recipe not in NO_CLASSES
        index = self.detail.indexOf(self.confusion)
        was_current = self.detail.currentWidget() is self.confusion
        if self.detail.isTabVisible(index) != visible:
            self.detail.setTabVisible(index, visible)
        if not visible and was_current:
            samples = self.detail.indexOf(self.samples)
            self._fall_back_to(self.samples if self.detail.isTabVisible(samples) else self.log)

    def _planned_recipe(self) -> str | None:
        """The recipe a run started now trains (the overrides win over the project's options)."""
        recipe = self.overrides.get("recipe")
        if recipe is None:
            training = self.session.project.settings.get("training")
            recipe = training.get("recipe") if isinstance(training, dict) else None
        return str(recipe) if recipe else None

    def _update_confusion(self) -> None:
        curves = self.curves
        if curves is None or curves.version == self._confusion_version:
            return
        self._confusion_version = curves.version
        self.confusion.show_matrix(curves.confusion, curves.class_names, curves.confusion_epoch)

    def _show_run_error(self, event: RunError) -> None:
        node_name = None
        if event.node:
            node_name = self._node_names().get(event.node)
        message = event.message
        if event.step is not None and f"step {event.step}" not in message:
            message += f" (step {event.step})"
        self._show_error(event.kind, message, event.node, node_name)
        if event.node:
            self.nodeChosen.emit(event.node)
        if event.details:
            log.error("training failed:\n%s", event.details)

    def _show_error(self, kind: str, message: str, node_id: str | None = None, node_name: str | None = None) -> None:
        self.ensure_built()
        if node_id and node_name is None:
            node_name = self._node_names().get(node_id)
        self.banner.show_error(ERROR_TITLES.get(kind, "Training failed"), message, node_id,
                               f"'{node_name}'" if node_name else None)
        self.message.emit(message)

    def _on_finished(self, result: RunFinished | None) -> None:
        self._reset_views()
        self.plots.release_spares()
        self._runs_timer.stop()
        self._refresh_runs()
        self._on_progress(self.controller.progress)
        self._update_confusion()
        self.plots.request_redraw()
        if result is not None:
            words = {"completed": "Training finished", "stopped": "Training stopped", "failed": "Training failed"}
            headline = words.get(result.status, "Training ended")
            run_dir = self.controller.run_dir or (Path(self.shown_run) if self.shown_run else None)
            same_project = self._run_project is self.session.project
            if result.status in ("completed", "stopped") and run_dir is not None and self.network_name and same_project:
                self._attach_run_weights(run_dir, self.network_name, headline)
            else:
                self.message.emit(headline)

    def _attach_run_weights(self, run_dir: Path, network_name: str, headline: str) -> None:
        """A run that ended well leaves its best weights attached to the network it trained, so
        Evaluate, Trace, Saliency and the exports use them at once; one undo step takes them off."""
        from engine.runs import WEIGHTS

        run_dir = Path(run_dir)
        which = "best" if (run_dir / WEIGHTS["best"]).is_file() else "last"
        if not (run_dir / WEIGHTS[which]).is_file():
            self.message.emit(f"{headline}: the run saved no weights to attach.")
            return
        try:
            self.session.project.network(network_name)
        except Exception:   # the network was removed or renamed during the run
            self.message.emit(f"{headline}. The network '{network_name}' is gone, so its weights are not "
                              f"attached (Runs ▸ Use weights attaches them to another network).")
            return
        from graph import project_to_dict

        project = self.session.project
        snapshot = project_to_dict(project)

        def load() -> Any:
            from gui.training.weights import match_run_weights

            return match_run_weights(snapshot, network_name, run_dir, which)

        def done(match: Any) -> None:
            if self.controller.active or self.session.project is not project:
                return      # a newer run, or another project, by now: these weights are not wanted
            self._weights_loaded(match, lead=f"{headline}: ", undo_text=f"Attach the weights of run {run_dir.name}")

        run_in_background(load, done, self._weights_failed, owner=self)

    def _on_status(self, status: str) -> None:
        self.stateChanged.emit(status)
        if not self._built:
            return
        active = status in ACTIVE
        self.start_button.setEnabled(not active)
        self.pause_button.setVisible(status != "paused")
        self.pause_button.setEnabled(status in ("running", "loading", "starting"))
        self.resume_button.setVisible(status == "paused")
        self.stop_button.setEnabled(active and status != "stopping")
        if not active:
            self.kill_button.hide()
        t = theme.current()
        color = {"running": t.accent, "paused": QColor("#d49a2a"), "completed": t.canvas.valid,
                 "failed": t.error, "stopped": t.muted_text}.get(status, t.muted_text)
        where = ""
        started = self.controller.started
        if started is not None and status in ACTIVE:
            where = f" on {started.device}"
        net = f"'{self.network_name}' · " if self.network_name and status != "idle" else ""
        self.status_label.setText(f"<span style='color:{t.muted_text.name()}'>{net}</span>"
                                  f"<b style='color:{QColor(color).name()}'>● {STATUS_WORDS.get(status, status)}"
                                  f"</b><span style='color:{t.muted_text.name()}'>{where}</span>")

    def _offer_kill(self) -> None:
        if self._built and self.controller.active:
            self.kill_button.show()

    def _progress_changed(self, p: Progress) -> None:
        if not self._built:
            return
        final = self.controller.status not in ACTIVE or p.fraction >= 1.0 or p.step == 0
        if final:
            self._progress_timer.stop()
            self._on_progress(p)
        elif not self._progress_timer.isActive():
            self._progress_timer.start()

    def _on_progress(self, p: Progress) -> None:
        if not self._built:
            return
        self.progress.setValue(int(round(p.fraction * 1000)))
        if p.epochs:
            self.progress.setFormat(f"Epoch {max(1, p.epoch)}/{p.epochs} · {100 * p.fraction:.0f} %")
        else:
            self.progress.setFormat("")
        parts = []
        if p.eta_seconds is not None and self.controller.status in ACTIVE:
            parts.append(f"ETA {format_duration(p.eta_seconds)}")
        elif p.elapsed and self.controller.status not in ACTIVE:
            parts.append(f"took {format_duration(p.elapsed)}")
        if p.samples_per_sec:
            rate = p.samples_per_sec
            parts.append(f"{rate / 1000:.1f}k samples/s" if rate >= 1000 else f"{rate:.0f} samples/s")
        self.eta_label.setText("  ·  ".join(parts))

    # -- the runs of the project ------------------------------------------------------------------------
    def _refresh_runs(self) -> None:
        if self._built:
            self.runs.set_project(self.session.path, self.session.project.name)

    def _project_replaced(self, _project: Any) -> None:
        # weights saved beside the project come back with it (torch loads off the GUI thread, and
        # a moment later, so opening a project stays as quick as before)
        QTimer.singleShot(WEIGHTS_LOAD_DELAY_MS, self._load_attached_weights)
        if not self._built:
            return
        self._refresh_runs()
        if not self.controller.active:
            from gui.training.curves import RunCurves

            self.plots.clear_overlays()
            self.curves = RunCurves()
            self.plots.set_curves(self.curves)
            self.plots.release_spares()
            self.confusion.show_matrix(None)
            self.samples.clear()
            self._set_samples_tab(False)
            self._set_confusion_tab(self._planned_recipe())
            self.log.clear_log()
            self.banner.hide()
            self.shown_run = None
            self.network_name = None
            self.controller.progress = Progress()
            self._on_progress(self.controller.progress)
            self._on_status("idle" if self.controller.handle is None else self.controller.status)

    def _load_attached_weights(self) -> None:
        """A project opened with a weights file beside it: attach those weights again."""
        path = self.session.path
        if path is None:
            return
        from graph.project_file import weights_path

        file = weights_path(path)
        if not file.is_file():
            return

        def load() -> dict[str, Any]:
            from graph.project_file import load_weights

            return load_weights(file)

        def done(weights: dict[str, Any], expected: Path = path) -> None:
            if self.session.path != expected or self.session.weights:
                return      # another project by now, or weights were attached meanwhile
            for name, state in weights.items():
                self.session.set_network_weights(name, state, f"saved with {expected.name}")

        run_in_background(load, done, lambda exc: self.message.emit(f"The weights beside the project cannot be "
                                                                    f"read: {exc}"), owner=self)

    def open_run(self, path: Path) -> None:
        """Show a past run's curves, confusion matrix and how it ended."""
        self.ensure_built()
        if self.controller.active:
            self.message.emit("A run is in progress: tick earlier runs to lay them over it instead.")
            return

        def load() -> tuple[Any, Any, Any]:
            from engine.runs import load_run
            from gui.training.curves import RunCurves
            from gui.training.samples import record_previews

            record = load_run(path)
            return record, RunCurves.from_record(record), record_previews(record)

        run_in_background(load, lambda result: self._show_run(Path(path), *result),
                          lambda exc: self._show_error("data", str(exc)), owner=self)

    def _show_run(self, path: Path, record: Any, curves: Any, previews: list[PreviewSamples] | None = None) -> None:
        if self.controller.active:
            return
        self.curves = curves
        self.shown_run = path
        self.plots.set_curves(curves)
        self._confusion_version = -1
        self._update_confusion()
        shown = self.samples.show_previews(previews or [])
        self._set_samples_tab(shown)
        run_recipe = ((record.settings or {}).get("training") or {}).get("recipe")
        self._set_confusion_tab(str(run_recipe) if run_recipe else self._planned_recipe())
        if shown and (self.detail.currentWidget() is self.confusion or self._log_is_fallback):
            self.detail.setCurrentWidget(self.samples)
        self.banner.hide()
        self.runs.set_current(path)
        self.runs.select(path)
        report = record.report or {}
        self.log.clear_log()
        self.log.add_note(f"Run {path.name}: {record.status}, {curves.epochs_done} epochs"
                          + (f", best epoch {curves.best_epoch}" if curves.best_epoch else "") + ".")
        desc = report.get("dataset") or (record.settings or {}).get("dataset_description")
        if desc:
            self.log.add_note(f"Data: {desc}")
        for line in record.epochs:
            from gui.training.event_log import format_metrics

            self.log.add_note(f"Epoch {line.get('epoch')}: {format_metrics(line)}", "info")
        error = report.get("error")
        if isinstance(error, dict) and error.get("message"):
            self.log.add_note(str(error["message"]), "error")
            self._show_error(str(error.get("kind", "internal")), f"This run failed: {error['message']}",
                             error.get("node"))
        epochs = ((record.settings or {}).get("training") or {}).get("epochs")
        fraction = min(1.0, curves.epochs_done / epochs) if isinstance(epochs, int) and epochs else 0.0
        if record.status == "completed":
            fraction = 1.0
        self.progress.setValue(int(round(fraction * 1000)))
        self.progress.setFormat(f"Epoch {curves.epochs_done}/{epochs} · {record.status}" if epochs else record.status)
        elapsed = report.get("elapsed_seconds")
        self.eta_label.setText(f"took {format_duration(elapsed)}" if isinstance(elapsed, int | float) else "")
        self.message.emit(f"Showing run {path.name}")

    def set_overlay(self, path: Path, on: bool) -> None:
        """Lay a past run's curves over the current ones (or take them away)."""
        self.ensure_built()
        key = str(path)
        if not on:
            self.plots.remove_overlay(key)
            return

        def load() -> Any:
            from engine.runs import load_run
            from gui.training.curves import RunCurves

            return RunCurves.from_record(load_run(path))

        def done(curves: Any) -> None:
            if Path(path) in self.runs.ticked():
                info = self.runs.info(Path(path))
                from gui.training.runs_list import started_text

                label = started_text(info) if info is not None else Path(path).name
                self.plots.add_overlay(key, label, curves)

        run_in_background(load, done, lambda exc: self.message.emit(f"Cannot read run {Path(path).name}: {exc}"),
                          owner=self)

    # -- reusing weights ----------------------------------------------------------------------------------
    def use_weights(self, path: Path, which: str = "best") -> None:
        """Attach a run's weights to the network (undoable; saved beside the project file) and say
        which layers matched."""
        from graph import project_to_dict

        self.ensure_built()
        network = self._current_network() or self.session.project.main
        snapshot = project_to_dict(self.session.project)
        name = network.name
        self.message.emit(f"Loading the weights of {Path(path).name}…")

        def load() -> Any:
            from gui.training.weights import match_run_weights

            return match_run_weights(snapshot, name, path, which)

        run_in_background(load, self._weights_loaded, self._weights_failed, owner=self)

    def _weights_loaded(self, match: Any, lead: str = "", undo_text: str | None = None) -> None:
        from gui import commands

        self.weights_report = match
        sentence = match.sentence()
        if match.matched:
            self.session.push(commands.SetWeightsCommand(self.session, match.network, match.state, match.source,
                                                         undo_text or f"Use weights of {match.source}"))
            self.runs.hint.setText(sentence)
            self.log.add_note(sentence, "ok")
            if lead:
                sentence = (f"{lead}the weights of {match.source} are attached to '{match.network}' "
                            "(Edit ▸ Undo detaches them).")
        else:
            self._show_error("shape", sentence)
            sentence = lead + sentence
        self.message.emit(sentence)

    def _weights_failed(self, exc: Exception) -> None:
        text = exc.message if isinstance(exc, TrainingError) else f"The weights cannot be loaded: {exc}"
        if not isinstance(exc, TrainingError):
            log.error("loading weights failed", exc_info=(type(exc), exc, exc.__traceback__))
        self._show_error("data", text)

    def _update_weights_note(self) -> None:
        if not self._built:
            return
        sources = [f"{name}: {self.session.weights_source.get(name, '')}" for name in self.session.weights]
        if sources:
            self.runs.hint.setText("Weights attached (saved beside the project): " + "; ".join(sources))
        else:
            self.runs.refresh()
