"""The training options form, generated from ``engine.options.OPTION_SPECS`` the way the inspector
is generated from the layer registry: one editor per option, grouped, with the option's help as
tooltip. A change becomes an undoable edit of ``project.settings["training"]``; a value the engine
refuses stays in the field, marked, with the engine's sentence under it. Options that do not apply
to the current choices (momentum for Adam, the step schedule's factor with a cosine schedule) are
greyed out, not hidden, so the form does not jump about.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.errors import OptionsError
from engine.options import SPECS, TRAINING_KEY, TrainingOptions
from graph.events import GraphEvent, SettingsChanged
from gui import commands
from gui.inspector import heading
from gui.param_editors import ParamEditor
from gui.session import EditorSession

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Task", ("recipe", "loss", "label_smoothing", "huber_delta", "monitor")),
    ("Length", ("epochs", "batch_size", "early_stopping", "min_delta")),
    ("Optimizer", ("optimizer", "lr", "momentum", "weight_decay", "grad_clip")),
    ("Learning-rate schedule", ("schedule", "step_size", "gamma", "plateau_patience", "plateau_factor")),
    ("Run", ("device", "mixed_precision", "seed", "keep_best")),
)

#: when an option matters; the others are greyed out
RELEVANT: dict[str, Callable[[TrainingOptions], bool]] = {
    "label_smoothing": lambda o: o.resolved_loss == "cross_entropy",
    "huber_delta": lambda o: o.resolved_loss == "huber",
    "momentum": lambda o: o.optimizer in ("sgd", "rmsprop"),
    "step_size": lambda o: o.schedule == "step",
    "gamma": lambda o: o.schedule == "step",
    "plateau_patience": lambda o: o.schedule == "plateau",
    "plateau_factor": lambda o: o.schedule == "plateau",
    "min_delta": lambda o: o.early_stopping > 0 or o.schedule == "plateau" or o.keep_best,
    "mixed_precision": lambda o: o.device in ("auto", "cuda"),
}
#: options reset to their default when another change makes them invalid (a new recipe makes
#: the old loss or monitored metric meaningless: follow along instead of refusing the change)
FOLLOWERS = {"recipe": ("loss", "monitor")}

assert {name for _, names in SECTIONS for name in names} == set(SPECS), "every option has a place"


def _heading(text: str) -> QLabel:
    return heading(text, top_margin=8)


def proposed_training(current: Mapping[str, Any] | None, name: str, value: Any) -> tuple[dict[str, Any], list[str]]:
    """The training settings after setting ``name`` to ``value``, checked by the engine; raises
    OptionsError when refused. Returns (settings, options reset to their default to follow along)."""
    data = dict(current or {})
    data[name] = value
    followers = FOLLOWERS.get(name, ())
    reset: list[str] = []
    while True:
        try:
            options = TrainingOptions.from_dict(data)
            break
        except OptionsError as exc:
            if exc.key in followers and exc.key in data and exc.key not in reset:
                del data[exc.key]
                reset.append(exc.key)
                continue
            raise
    # canonical spelling of what was entered ("Cross-Entropy" -> "cross_entropy", 1 -> 1.0)
    data[name] = getattr(options, name)
    return data, reset


class OptionsForm(QScrollArea):
    #: a sentence for the status bar ("Loss set back to auto to suit regression")
    message = Signal(str)

    def __init__(self, session: EditorSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.editors: dict[str, ParamEditor] = {}
        self.labels: dict[str, QLabel] = {}
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(10, 2, 10, 10)
        layout.setSpacing(2)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setProperty("role", "muted")
        layout.addWidget(self.summary)
        for title, names in SECTIONS:
            layout.addWidget(_heading(title))
            form = QFormLayout()
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
            form.setVerticalSpacing(4)
            for name in names:
                spec = SPECS[name]
                editor = ParamEditor(spec)  # type: ignore[arg-type]  # an OptionSpec has the fields it reads
                if isinstance(editor.field, QDoubleSpinBox):
                    # 1e-3 -> 1.1e-3 -> ...: steps that suit learning rates as well as dropout-like values
                    editor.field.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
                editor.edited.connect(self._commit)
                label = QLabel(spec.label)
                label.setToolTip(spec.help)
                form.addRow(label, editor)
                self.editors[name] = editor
                self.labels[name] = label
            layout.addLayout(form)
        layout.addStretch(1)
        self.setWidget(page)
        # one label column for all sections, so the fields line up
        width = max(label.sizeHint().width() for label in self.labels.values())
        for label in self.labels.values():
            label.setMinimumWidth(width)
        session.graphEvent.connect(self._on_event)
        session.projectReplaced.connect(lambda _p: self.refresh())
        self.refresh()

    # -- the document coming back ---------------------------------------------------------------------
    def current(self) -> dict[str, Any]:
        raw = self.session.project.settings.get(TRAINING_KEY)
        return dict(raw) if isinstance(raw, Mapping) else {}

    def options(self) -> TrainingOptions | None:
        try:
            return TrainingOptions.from_dict(self.current())
        except OptionsError:
            return None

    def _on_event(self, event: GraphEvent) -> None:
        if isinstance(event, SettingsChanged) and event.key == TRAINING_KEY:
            self.refresh()

    def refresh(self) -> None:
        """Show the project's options (signals blocked, so nothing is echoed back as an edit)."""
        raw = self.current()
        try:
            options = TrainingOptions.from_dict(raw)
            problem = None
        except OptionsError as exc:      # a hand-edited file: show the defaults and say what is wrong
            options, problem = TrainingOptions(), exc
        for name, editor in self.editors.items():
            editor.set_value(getattr(options, name))
            relevant = RELEVANT.get(name, lambda _o: True)(options)
            editor.setEnabled(relevant)
            self.labels[name].setEnabled(relevant)
        if problem is not None and problem.key in self.editors:
            self.editors[problem.key].show_error(str(problem))
        self.summary.setText(self._summary(options))

    @staticmethod
    def _summary(o: TrainingOptions) -> str:
        return (f"{o.epochs} epochs of batches of {o.batch_size}, {o.optimizer} at learning rate {o.lr:g}"
                f"{'' if o.schedule == 'none' else f' ({o.schedule} schedule)'}; {o.resolved_loss.replace('_', '-')} "
                f"loss. Hover a name for what it does.")

    # -- edits going out ----------------------------------------------------------------------------
    def _commit(self, name: str, value: Any) -> None:
        editor = self.editors[name]
        current = self.current()
        try:
            data, reset = proposed_training(current, name, value)
        except OptionsError as exc:
            editor.show_error(str(exc))
            return
        editor.show_error(None)
        if data == current:
            return
        spec = SPECS[name]
        command = commands.SetSettingCommand(self.session.project, TRAINING_KEY, data,
                                             f"Set {spec.label.lower()}",
                                             merge_key=(id(editor), editor.focus_generation))
        self.session.push(command)
        if reset:
            labels = " and ".join(SPECS[k].label.lower() for k in reset)
            self.message.emit(f"{labels.capitalize()} set back to the default to suit {data.get(name)}.")

    def set_option(self, name: str, value: Any) -> bool:
        """Enter a value as a person would (tests, the Train menu); True when it was accepted."""
        self._commit(name, value)
        return not self.editors[name].error
