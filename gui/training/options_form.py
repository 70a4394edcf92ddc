"""The training options form, generated from ``engine.options.OPTION_SPECS`` the way the inspector
is generated from the layer registry: one editor per option, grouped, with the option's help as
tooltip. A change becomes an undoable edit of ``project.settings["training"]``; a value the engine
refuses stays in the field, marked, with the engine's sentence under it. Options that do not apply
to the current choices (momentum for Adam, the step schedule's factor with a cosine schedule) are
greyed out, not hidden, so the form does not jump about; options of another recipe (a GAN's
generator for a classifier) are hidden, since they mean nothing for it.

Options naming nodes (kind "node") are combos of the trained network's nodes, kept up to date as
nodes come, go and are renamed; options this form has no place for (a newer engine) still get an
editor, in a last section, so nothing the engine offers is out of reach.
"""

from __future__ import annotations

import logging
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

import engine.options as engine_options
from engine.errors import OptionsError
from engine.options import OPTION_SPECS, SPECS, TRAINING_KEY, OptionSpec, TrainingOptions
from graph import Network
from graph.events import (
    GraphEvent,
    NetworkAdded,
    NetworkRemoved,
    NetworkRenamed,
    NodeAdded,
    NodeRemoved,
    NodeRenamed,
    SettingsChanged,
)
from gui import commands
from gui.inspector import heading
from gui.param_editors import ParamEditor
from gui.session import EditorSession
from gui.training.node_choice import NodeChoiceEditor, NodeListEditor

log = logging.getLogger(__name__)

#: where each option goes (names the engine does not have are skipped; options not named here go
#: to a last "More" section)
PLACES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Task", ("recipe", "loss", "label_smoothing", "huber_delta", "monitor", "temperature")),
    ("Network parts", ("latent_node", "generator_node", "discriminator_node", "frozen_nodes")),
    ("Length", ("epochs", "batch_size", "early_stopping", "min_delta")),
    ("Optimizer", ("optimizer", "lr", "discriminator_lr", "momentum", "weight_decay", "grad_clip")),
    ("Learning-rate schedule", ("schedule", "step_size", "gamma", "plateau_patience", "plateau_factor")),
    ("Run", ("device", "mixed_precision", "seed", "keep_best")),
)
#: the recipes an option belongs to, when the engine's help does not start with them
RECIPE_OPTIONS: dict[str, tuple[str, ...]] = {
    "latent_node": ("autoencoder",),
    "generator_node": ("gan",),
    "discriminator_node": ("gan",),
    "discriminator_lr": ("gan",),
    "temperature": ("language_model",),
}
#: how the engine's help texts begin for options of one recipe ("GAN: the generator's ...")
_HELP_PREFIXES = {"autoencoder": ("autoencoder",), "gan": ("gan",), "language_model": ("language model",),
                  "classification": ("classification",), "regression": ("regression",)}


def _sections() -> tuple[tuple[str, tuple[str, ...]], ...]:
    placed = {name for _, names in PLACES for name in names}
    sections = [(title, tuple(n for n in names if n in SPECS)) for title, names in PLACES]
    rest = tuple(s.name for s in OPTION_SPECS if s.name not in placed)
    if rest:
        sections.append(("More", rest))
    return tuple((title, names) for title, names in sections if names)


SECTIONS = _sections()


def recipes_of(spec: OptionSpec) -> tuple[str, ...] | None:
    """The recipes an option is for (None: every recipe): as the spec says, as listed here, or
    as its help text begins ("GAN: ..." / "Autoencoder: ...")."""
    declared = getattr(spec, "recipes", None)
    if isinstance(declared, tuple | list) and declared:
        return tuple(declared)
    if spec.name in RECIPE_OPTIONS:
        return RECIPE_OPTIONS[spec.name]
    head = spec.help.split(":", 1)[0].strip().lower() if ":" in spec.help[:40] else ""
    found = tuple(r for r, words in _HELP_PREFIXES.items() if head in words)
    return found or None

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
    # canonical spelling of what was entered ("Cross-Entropy" -> "cross_entropy", 1 -> 1.0), as
    # plain JSON (a tuple of frozen nodes is stored as a list)
    if hasattr(options, name):
        value = getattr(options, name)
        data[name] = list(value) if isinstance(value, tuple) else value
    return data, reset


class OptionsForm(QScrollArea):
    #: a sentence for the status bar ("Loss set back to auto to suit regression")
    message = Signal(str)

    def __init__(self, session: EditorSession, current_network: Callable[[], Network | None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._current_network = current_network or (lambda: session.project.main)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.editors: dict[str, ParamEditor] = {}
        self.labels: dict[str, QLabel] = {}
        #: per option: (its form, its section heading) so recipe-specific rows can be hidden
        self._rows: dict[str, tuple[QFormLayout, QLabel]] = {}
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(10, 2, 10, 10)
        layout.setSpacing(2)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setProperty("role", "muted")
        layout.addWidget(self.summary)
        self._headings: dict[QLabel, list[str]] = {}
        for title, names in SECTIONS:
            section_heading = _heading(title)
            self._headings[section_heading] = list(names)
            layout.addWidget(section_heading)
            form = QFormLayout()
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
            form.setVerticalSpacing(4)
            for name in names:
                spec = SPECS[name]
                editor = _editor(spec)
                if isinstance(editor.field, QDoubleSpinBox):
                    # 1e-3 -> 1.1e-3 -> ...: steps that suit learning rates as well as dropout-like values
                    editor.field.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
                editor.edited.connect(self._commit)
                label = QLabel(spec.label)
                label.setToolTip(spec.help)
                form.addRow(label, editor)
                self.editors[name] = editor
                self.labels[name] = label
                self._rows[name] = (form, section_heading)
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

    def showEvent(self, event: Any) -> None:  # noqa: N802
        """Another network may have become the current one while the form was away."""
        super().showEvent(event)
        self.refresh_nodes()

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
        elif isinstance(event, NodeAdded | NodeRemoved | NodeRenamed | NetworkAdded | NetworkRemoved | NetworkRenamed):
            self.refresh_nodes()

    def network(self) -> Network | None:
        try:
            return self._current_network() or self.session.project.main
        except Exception:       # no network at all (an empty project being replaced)
            return None

    def refresh_nodes(self) -> None:
        """Offer the current network's nodes in the node options, and say when a chosen node is
        no longer there."""
        net = self.network()
        nodes = [(n.name, n.spec.display_name) for n in net.nodes] if net is not None else []
        for editor in self.editors.values():
            if isinstance(editor, NodeChoiceEditor):
                editor.set_nodes(nodes)
                if editor.missing:
                    where = f" '{net.name}'" if net is not None else ""
                    editor.show_error(f"There is no node named '{editor.value}' in the network{where} (renamed or "
                                      f"removed?): pick one, or automatic.")
                elif editor.error.startswith("There is no node named"):
                    editor.show_error(None)

    def refresh(self) -> None:
        """Show the project's options (signals blocked, so nothing is echoed back as an edit)."""
        raw = self.current()
        try:
            options = TrainingOptions.from_dict(raw)
            problem = None
        except OptionsError as exc:      # a hand-edited file: show the defaults and say what is wrong
            options, problem = TrainingOptions(), exc
        for name, editor in self.editors.items():
            editor.set_value(getattr(options, name, raw.get(name, "")))
            relevant = RELEVANT.get(name, lambda _o: True)(options)
            editor.setEnabled(relevant)
            self.labels[name].setEnabled(relevant)
            recipes = recipes_of(SPECS[name])
            form, _ = self._rows[name]
            form.setRowVisible(editor, recipes is None or options.recipe in recipes)
        for section_heading, names in self._headings.items():
            section_heading.setVisible(any(self.is_shown(n) for n in names))
        self._offer_recipe_choices(options.recipe)
        self.refresh_nodes()
        if problem is not None and problem.key in self.editors:
            self.editors[problem.key].show_error(str(problem))
        self.summary.setText(self._summary(options))

    def _offer_recipe_choices(self, recipe: str) -> None:
        """Grey out the losses and monitored metrics the recipe does not have (picking one would
        only be refused)."""
        for name, table in (("loss", getattr(engine_options, "RECIPE_LOSSES", None)),
                            ("monitor", getattr(engine_options, "RECIPE_MONITORS", None))):
            editor = self.editors.get(name)
            allowed = table.get(recipe) if isinstance(table, Mapping) else None
            if editor is None or allowed is None:
                continue
            model = editor.field.model()      # a QComboBox's own QStandardItemModel
            for row in range(model.rowCount()):
                item = model.item(row)
                item.setEnabled(item.text() in allowed or item.text() == "auto")

    def is_shown(self, name: str) -> bool:
        """The option's row is part of the form for the current recipe."""
        recipes = recipes_of(SPECS[name])
        options = self.options()
        return recipes is None or options is None or options.recipe in recipes

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


def _editor(spec: OptionSpec) -> ParamEditor:
    """The editor of one option (an OptionSpec has the fields a ParamEditor reads)."""
    if spec.kind == "node":
        return NodeChoiceEditor(spec)  # type: ignore[arg-type]
    if spec.kind == "nodes":
        return NodeListEditor(spec)  # type: ignore[arg-type]
    if spec.kind not in ("choice", "float", "int", "bool"):
        log.info("training option %r has kind %r: edited as text", spec.name, spec.kind)
    return ParamEditor(spec)  # type: ignore[arg-type]
