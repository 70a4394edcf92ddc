"""The frame every Analyze window shares: which network and weights it shows, a notice with a way
out when no weights are attached, a line for errors, and background jobs whose late results are
dropped when a newer request has been made."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.errors import TrainingError
from gui import theme
from gui.training.background import run_in_background

log = logging.getLogger(__name__)


class Notice(QFrame):
    """A tinted box with a sentence and a button (no weights attached: pick a run or a file)."""

    def __init__(self, text: str, button: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("analysisNotice")
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.button = QPushButton(button)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 8, 8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        accent = QColor(theme.current().accent)
        self.setStyleSheet(f"QFrame#analysisNotice {{ background: rgba({accent.red()},{accent.green()},"
                           f"{accent.blue()},28); border: 1px solid {accent.name()}; border-radius: 4px; }}")


#: why a classifier's analysis (evaluation, saliency) does not fit a recipe, and where to look instead
NOT_A_CLASSIFIER = {
    "gan": ("'{net}' is a GAN: its generator makes samples and its discriminator tells real from made, so there "
            "are no classes to score. The training panel's Samples tab shows what the generator makes."),
    "autoencoder": ("'{net}' is an autoencoder: it rebuilds its input instead of naming a class. The training "
                    "panel's Samples tab shows its reconstructions."),
    "regression": ("'{net}' predicts numbers (regression), not classes. The training panel's curves show its "
                   "validation loss, error and R²."),
}


def classifier_only(what: str, recipe: str, network: str) -> str:
    """The sentence for a classifier's analysis asked of a network trained another way ("" if it is one)."""
    reason = NOT_A_CLASSIFIER.get(recipe)
    return f"{what} is for classifiers. {reason.format(net=network)}" if reason else ""


def fit_on_screen(window: QWidget) -> None:
    """A window sized for a big screen (the evaluation wants 960×820) shrinks to the screen it
    opens on, and comes back onto it: on a 1024×700 laptop its buttons and gallery hung below the edge."""
    screen = window.screen()
    if screen is None:
        return
    room = screen.availableGeometry()
    frame = window.frameGeometry()
    extra_w, extra_h = frame.width() - window.width(), frame.height() - window.height()   # the title bar
    width = min(window.width(), room.width() - extra_w)
    height = min(window.height(), room.height() - extra_h)
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    frame = window.frameGeometry()
    if not room.contains(frame):
        x = min(max(frame.x(), room.x()), room.right() - frame.width() + 1)
        y = min(max(frame.y(), room.y()), room.bottom() - frame.height() + 1)
        window.move(x, y)


class AnalysisView(QDialog):
    """Base of the Evaluate, Trace and Saliency windows (non-modal, one of each)."""

    #: what the window is called
    title = "Analysis"
    #: also needs a classifier's data set (the evaluation and saliency views)
    needs_weights = True

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.session = controller.session
        self.setWindowTitle(self.title)
        self.setModal(False)
        self.network_name = ""
        #: (project, network name) the shown result belongs to; another one clears the result
        self._subject: tuple[Any, str] | None = None
        #: why the analysis does not apply to the network shown ("" when it does)
        self.not_applicable_text = ""
        self._generation = 0
        self.busy = False
        #: the last error shown (tests read it)
        self.error_text = ""
        self.result: Any = None
        self.heading = QLabel()
        self.heading.setProperty("role", "heading")
        self.weights_label = QLabel()
        self.weights_label.setProperty("role", "muted")
        self.weights_label.setWordWrap(True)
        self.notice = Notice("", "Load Weights…")
        self.notice.button.clicked.connect(lambda: self.controller.open_load_weights("run"))
        self.notice.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.notice.hide()
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.status = QLabel()
        self.status.setProperty("role", "muted")
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.status, 0)
        layout.addLayout(top)
        layout.addWidget(self.weights_label)
        layout.addWidget(self.notice)
        layout.addWidget(self.error)
        layout.addWidget(self.body, 1)
        layout.addStretch(0)         # takes the room while the body is hidden (no weights yet)
        self.session.weightsChanged.connect(self._weights_changed)
        self.session.projectReplaced.connect(self._project_replaced)

    # -- the frame ----------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        fit_on_screen(self)
        super().showEvent(event)

    def _project_replaced(self, _project: Any) -> None:
        # what is shown belongs to the project that went: never leave it under the new one's name
        self._generation += 1          # a job for the old project reports to nobody
        self.busy = False
        self.status.setText("")
        self._forget_result()
        if self.isVisible():
            self.refresh()

    def _forget_result(self) -> None:
        self._subject = None
        self.result = None
        self.clear_result()

    def clear_result(self) -> None:
        """Empty the view's drawings (another project or network is now shown); views override it."""

    def not_applicable(self, network: Any) -> str:
        """A plain sentence when this analysis does not apply to ``network`` (and what to do
        instead); "" when it does. Views override it."""
        return ""

    def recipe(self) -> str:
        training = self.session.project.settings.get("training")
        recipe = training.get("recipe") if isinstance(training, dict) else None
        return str(recipe) if recipe else ""

    def _weights_changed(self, name: str) -> None:
        if self.isVisible() and name == self.network_name:
            self.refresh()

    def prepare(self) -> tuple[Any, dict[str, Any] | None] | None:
        """Update the heading for the current network; (network, weights), or None when the view must
        wait for weights (the notice then says so and offers to load some)."""
        net = self.controller.network()
        self.network_name = net.name
        subject = (self.session.project, net.name)
        if self._subject is not None and (self._subject[0] is not subject[0] or self._subject[1] != subject[1]):
            self._generation += 1
            self._forget_result()
        self._subject = subject
        state, source = self.controller.weights(net.name)
        self.heading.setText(f"{self.title} — network '{net.name}' of {self.session.project.name}")
        self.error.hide()
        self.error_text = ""
        self.not_applicable_text = self.not_applicable(net)
        if self.not_applicable_text:
            self.weights_label.setText("")
            self.notice.label.setText(self.not_applicable_text)
            self.notice.button.hide()
            self.notice.show()
            self.body.hide()
            self.status.setText("")
            self.controller.message.emit(self.not_applicable_text)
            return None
        self.notice.button.show()
        if state is None and self.needs_weights:
            self.weights_label.setText("")
            self.notice.label.setText(f"No trained weights are attached to '{net.name}'. Train it, or load weights "
                                      "from a run, another project or a file (Analyze ▸ Load Weights).")
            self.notice.show()
            self.body.hide()
            return None
        self.notice.hide()
        self.body.show()
        self.weights_label.setText(f"Weights: {source}" if state is not None else "Weights: initial (untrained)")
        return net, state

    def refresh(self) -> None:
        """Recompute for the current network, unless it must wait for weights."""
        ready = self.prepare()
        if ready is not None:
            net, weights = ready
            self.start(net.name, weights)

    def start(self, network: str, weights: dict[str, Any] | None) -> None:
        """Start the view's background job for ``network`` with ``weights``."""
        raise NotImplementedError

    def show_error(self, exc: BaseException | str) -> None:
        self.busy = False
        self.status.setText("")
        if isinstance(exc, TrainingError):
            text = exc.message
        elif isinstance(exc, str):
            text = exc
        else:
            log.error("analysis failed", exc_info=(type(exc), exc, exc.__traceback__))
            text = f"The analysis failed unexpectedly: {exc}"
        self.error_text = text
        self.error.setText(text)
        self.error.show()
        if getattr(self, "result", None) is None:
            self.body.hide()         # nothing to show yet: the sentence says why
        node = getattr(exc, "node", None)
        if node:
            self.controller.select_node(node)
        self.controller.message.emit(text)

    def run_job(self, work: Callable[[], Any], done: Callable[[Any], None], what: str = "Working…") -> None:
        """``work()`` in the thread pool, then ``done(result)`` here, unless a newer job was started."""
        self._generation += 1
        generation = self._generation
        self.busy = True
        self.status.setText(what)

        def finished(result: Any) -> None:
            if generation != self._generation:
                return
            self.busy = False
            self.status.setText("")
            try:
                done(result)
            except Exception as exc:  # a view must never take the window down
                self.show_error(exc)

        def failed(exc: Exception) -> None:
            if generation == self._generation:
                self.show_error(exc)

        run_in_background(work, finished, failed, owner=self)

    def project_job(self, compute: Callable[[Any, Any], Any]) -> Callable[[], tuple[Any, Any]]:
        """A job over a snapshot of the project: ``compute(project, dataset)`` with the data set loaded
        (or taken from the cache) in the worker thread. Returns (dataset, result)."""
        from graph import project_to_dict

        snapshot = project_to_dict(self.session.project)
        key = self.controller.dataset_key()
        cached = self.controller.cached_dataset(key)
        base_dir = self.controller.base_dir()
        self._dataset_key = key

        def work() -> tuple[Any, Any]:
            from engine.analysis import load_project_dataset
            from graph import project_from_dict

            project = project_from_dict(snapshot)
            dataset = cached if cached is not None else load_project_dataset(project, base_dir)
            return dataset, compute(project, dataset)

        return work

    def keep_dataset(self, dataset: Any) -> None:
        self.controller.remember_dataset(getattr(self, "_dataset_key", ""), dataset)

    def sample_job(self, index: int, compute: Callable[[Any, Any, Any], Any]) -> Callable[[], tuple[Any, Any]]:
        """A project job over one validation sample: ``compute(project, dataset, sample)`` for sample
        ``index`` (the last one when the data has fewer). Returns (dataset, (index used, result))."""

        def per_sample(project: Any, dataset: Any) -> tuple[int, Any]:
            from engine.analysis import AnalysisError

            if not len(dataset.x_val):
                raise AnalysisError(f"The data set '{dataset.name}' has no validation samples.", "data")
            from engine.model_inputs import validation_sample

            i = min(index, len(dataset.x_val) - 1)
            return i, compute(project, dataset, validation_sample(dataset, i))   # as training fed it

        return self.project_job(per_sample)

    def take_sample_result(self, outcome: tuple[Any, tuple[int, Any]]) -> tuple[Any, int, Any]:
        """Keep what a :meth:`sample_job` brought (data set, picker range, result); (dataset, index, result)."""
        dataset, (index, result) = outcome
        self.keep_dataset(dataset)
        self.dataset = dataset
        self.picker.set_dataset(dataset)
        self.result = result
        return dataset, index, result
