"""Choosing the data set: a kind (built-in samples or the person's own csv / npz / image folder /
idx files), its file or folder and options, and how it is split. Below: what the data set is
(``Dataset.describe()``), its shapes, whether it fits the network's Input node, and a preview of
its first samples.

Every change is an undoable edit of ``project.settings["dataset"]``. Loading happens in the
thread pool (the data-set code and scikit-learn alone take most of a second to import), so the
window never waits for it; results for a spec that is no longer current are dropped.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.options import DATASET_KEY
from graph import Network
from graph.events import GraphEvent, SettingsChanged
from gui import commands
from gui.session import EditorSession
from gui.training import prompts
from gui.training.background import run_in_background
from gui.training.image_options import HANDLED as IMAGE_HANDLED
from gui.training.image_options import IMAGE_KINDS

log = logging.getLogger(__name__)

#: what each way of feeding images means, for the line under the data set's summary
FEEDING_MODES = {"memory": "all images decoded now and held in memory as uint8",
                 "cache": "decoded by workers during the first epoch, then held in memory",
                 "stream": "decoded from disk by workers every epoch"}

#: kinds whose path is a folder (the others read one file)
FOLDER_KINDS = frozenset({"image_folder", "idx"})
FILE_FILTERS = {"csv": "CSV tables (*.csv *.tsv *.txt);;All files (*)", "npz": "NumPy archives (*.npz);;All files (*)",
                "text_csv": "CSV tables (*.csv *.tsv *.txt);;All files (*)",
                "text": "Text files (*.txt);;All files (*)",
                "parquet": "Parquet tables (*.parquet *.pq);;All files (*)",
                "image_list": "Image lists (*.csv *.tsv *.json);;All files (*)"}
SPEC_DEFAULTS = {"path": None, "options": {}, "val_fraction": 0.2, "seed": 0, "normalize": True}
#: data sets kept loaded (switching back and forth, undo/redo, does not reload them)
CACHE_SIZE = 2


def _catalog() -> list[tuple[str, str, bool, list[str]]]:
    """(kind, description, needs a path, option names) for every kind; imports engine.data."""
    from engine.data.registry import KINDS

    return [(k.kind, k.description, k.needs_path, sorted(k.options)) for k in KINDS.values()]


def spec_key(raw: Mapping[str, Any] | None, base_dir: str | None) -> str:
    return json.dumps([raw, base_dir], sort_keys=True, default=str)


def minimal_spec(data: Mapping[str, Any]) -> dict[str, Any]:
    """Only what differs from the defaults (what a template writes), so files stay readable."""
    out: dict[str, Any] = {"kind": data["kind"]}
    for key, default in SPEC_DEFAULTS.items():
        value = data.get(key, default)
        if value not in (default, None, "") or (key == "options" and value):
            out[key] = value
    return out


def parse_option(text: str) -> Any:
    """What a person types into an option field: JSON when it reads as such (28, 0.1, true,
    [28, 28]), plain text otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        lowered = text.lower()
        if lowered in ("true", "false", "yes", "no"):
            return lowered in ("true", "yes")
        return text


def format_option(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _load(raw: dict[str, Any], base_dir: str | None) -> tuple[Any, Any]:
    """Background: (Dataset, Preview)."""
    from engine.data import load_dataset
    from engine.session import dataset_spec
    from gui.training.preview import make_preview

    dataset = load_dataset(dataset_spec({DATASET_KEY: raw}, base_dir))
    return dataset, make_preview(dataset)


class DatasetPicker(QScrollArea):
    #: a node to select on the canvas (the Input node a data set does not fit)
    nodeChosen = Signal(str)
    #: (kind, describe() line) once a data set is loaded; ("", "") when it cannot be
    loaded = Signal(str, str)
    #: why the data does not fit the current network ("" when it fits, or nothing is loaded)
    fitChanged = Signal(str)

    def __init__(self, session: EditorSession, network: Callable[[], Network | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.network = network
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.kinds: dict[str, tuple[str, bool, list[str]]] = {}
        self.option_edits: dict[str, QLineEdit] = {}
        self._options_kind = ""
        self.dataset: Any = None
        self.preview_data: Any = None
        self.error: str = ""
        self.compat_problem: str | None = None
        self._cache: dict[str, tuple[Any, Any]] = {}
        self._wanted: str | None = None
        self._loading = False
        self._syncing = False

        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(10, 6, 10, 10)
        outer.setSpacing(6)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(5)
        self.kind_combo = QComboBox()
        self.kind_combo.setToolTip("Which data set to train on: a built-in sample or your own files.")
        self.kind_combo.activated.connect(self._kind_chosen)
        form.addRow("Data set", self.kind_combo)
        self.description = QLabel()
        self.description.setProperty("role", "muted")
        self.description.setWordWrap(True)
        form.addRow("", self.description)

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("file or folder")
        self.path_edit.editingFinished.connect(self._path_edited)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        path_row = QWidget()
        path_layout = QHBoxLayout(path_row)
        path_layout.setContentsMargins(0, 0, 0, 0)
        path_layout.addWidget(self.path_edit, 1)
        path_layout.addWidget(self.browse)
        self.path_label = QLabel("Path")
        form.addRow(self.path_label, path_row)
        self.path_row = path_row

        self.options_box = QWidget()
        self.options_form = QFormLayout(self.options_box)
        self.options_form.setContentsMargins(0, 0, 0, 0)
        self.options_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(self.options_box)
        # image sets: typed option editors and the Augmentation section, made once the data-set code is
        # loaded (in the background, with the catalog), so building the panel never waits for it
        self.image_box: Any = None
        self.augment: Any = None
        self._image_slot = QVBoxLayout()
        self._image_slot.setContentsMargins(0, 0, 0, 0)
        form.addRow(self._image_slot)

        split = QWidget()
        split_layout = QHBoxLayout(split)
        split_layout.setContentsMargins(0, 0, 0, 0)
        self.val_spin = QDoubleSpinBox()
        self.val_spin.setRange(0.01, 0.99)
        self.val_spin.setSingleStep(0.05)
        self.val_spin.setDecimals(2)
        self.val_spin.setToolTip("Share of the samples kept aside to validate on (never trained on).")
        self.val_spin.editingFinished.connect(lambda: self._set_field("val_fraction", round(self.val_spin.value(), 4)))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Seed of the shuffle that splits the data: the same seed gives the same split.")
        self.seed_spin.editingFinished.connect(lambda: self._set_field("seed", int(self.seed_spin.value())))
        self.norm_check = QCheckBox("Normalize")
        self.norm_check.setToolTip("Scale inputs to zero mean and unit variance (computed on the training split).")
        self.norm_check.toggled.connect(lambda on: self._set_field("normalize", bool(on)))
        split_layout.addWidget(QLabel("validation"))
        split_layout.addWidget(self.val_spin)
        split_layout.addSpacing(6)
        split_layout.addWidget(QLabel("seed"))
        split_layout.addWidget(self.seed_spin, 1)
        form.addRow("Split", split)
        form.addRow("", self.norm_check)
        outer.addLayout(form)
        self._augment_slot = QVBoxLayout()
        self._augment_slot.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(self._augment_slot)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.shapes = QLabel()
        self.shapes.setWordWrap(True)
        self.shapes.setTextFormat(Qt.TextFormat.RichText)
        self.feeding = QLabel()     # image sets: memory / cache / stream, and why
        self.feeding.setWordWrap(True)
        self.feeding.setTextFormat(Qt.TextFormat.RichText)
        self.feeding.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.feeding.hide()
        self.compat = QLabel()
        self.compat.setWordWrap(True)
        self.compat.setTextFormat(Qt.TextFormat.RichText)
        self.compat.linkActivated.connect(self._link)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setProperty("role", "error")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        from gui.training.preview import PreviewView  # numpy: only once the panel is built

        self.preview = PreviewView()
        for w in (self.summary, self.shapes, self.feeding, self.compat, self.error_label):
            outer.addWidget(w)
        outer.addWidget(self.preview, 1)
        self.setWidget(page)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(150)      # typing in a field: load once it settles
        self._reload_timer.timeout.connect(self._load_current)
        session.graphEvent.connect(self._on_event)
        session.projectReplaced.connect(lambda _p: self.refresh())
        session.pathChanged.connect(lambda _p: self.refresh())
        session.analysisChanged.connect(lambda net, _a: self._check_fit() if net is self.network() else None)
        self.refresh()
        run_in_background(_catalog, self._catalog_ready, self._catalog_failed, owner=self)

    # -- reading the document -------------------------------------------------------------------------
    def current(self) -> dict[str, Any] | None:
        raw = self.session.project.settings.get(DATASET_KEY)
        return dict(raw) if isinstance(raw, Mapping) and raw.get("kind") else None

    def base_dir(self) -> str | None:
        path = self.session.path
        return str(path.resolve().parent) if path is not None else None

    @property
    def ready(self) -> bool:
        """The catalog is known and the current data set has been loaded (or failed to)."""
        return bool(self.kinds) and not self._loading and not self._reload_timer.isActive()

    def _on_event(self, event: GraphEvent) -> None:
        if isinstance(event, SettingsChanged) and event.key == DATASET_KEY:
            self.refresh()

    def refresh(self) -> None:
        """Show the project's data-set settings, then load that data set in the background."""
        raw = self.current()
        self._syncing = True
        try:
            self._fill_combo(raw["kind"] if raw else None)
            kind = raw["kind"] if raw else None
            info = self.kinds.get(kind or "")
            self.description.setText(info[0] if info else ("" if kind else "Choose a data set to train on."))
            needs_path = bool(info and info[1]) or bool(raw and raw.get("path"))
            self.path_label.setVisible(needs_path)
            self.path_row.setVisible(needs_path)
            self.path_edit.setText(str(raw.get("path") or "") if raw else "")
            options = (raw or {}).get("options") or {}
            names = info[2] if info else []
            image = kind in IMAGE_KINDS and bool(self.kinds)
            if image:       # typed editors and the augmentation section instead of text fields
                self._ensure_image_widgets()
                names = [n for n in names if n not in IMAGE_HANDLED]
                self.image_box.set_values(kind or "", options)
                self.augment.set_values(options.get("augment"))
            for w in (self.image_box, self.augment):
                if w is not None:
                    w.setVisible(image)
            self._build_options(names, options, kind or "")
            self.val_spin.setValue(float((raw or {}).get("val_fraction", 0.2) or 0.2))
            self.seed_spin.setValue(int((raw or {}).get("seed", 0) or 0))
            self.norm_check.setChecked(bool((raw or {}).get("normalize", True)))
            for w in (self.val_spin, self.seed_spin, self.norm_check):
                w.setEnabled(raw is not None)
        finally:
            self._syncing = False
        self._reload_timer.start()

    def _ensure_image_widgets(self) -> None:
        if self.image_box is not None:
            return
        from gui.training.image_options import AugmentSection, ImageOptionsBox

        self.image_box = ImageOptionsBox()
        self.image_box.edited.connect(self.set_option)
        self._image_slot.addWidget(self.image_box)
        self.augment = AugmentSection(self._augment_source)
        self.augment.edited.connect(self.set_augment)
        self._augment_slot.addWidget(self.augment)

    def _fill_combo(self, kind: str | None) -> None:
        combo = self.kind_combo
        combo.blockSignals(True)
        combo.clear()
        if not self.kinds:
            combo.addItem(kind or "(none)", kind)
            combo.addItem("loading the list of data sets…", None)
            combo.model().item(1).setEnabled(False)
        else:
            if kind is None:
                combo.addItem("(choose a data set)", None)
            builtin = [k for k, (_d, needs, _o) in self.kinds.items() if not needs]
            own = [k for k, (_d, needs, _o) in self.kinds.items() if needs]
            for k in builtin:
                combo.addItem(k, k)
                combo.setItemData(combo.count() - 1, self.kinds[k][0], Qt.ItemDataRole.ToolTipRole)
            combo.insertSeparator(combo.count())
            for k in own:
                combo.addItem(f"{k}  (your files)", k)
                combo.setItemData(combo.count() - 1, self.kinds[k][0], Qt.ItemDataRole.ToolTipRole)
            if kind is not None and kind not in self.kinds:
                combo.addItem(f"{kind} (unknown)", kind)
        index = combo.findData(kind)
        combo.setCurrentIndex(max(0, index))
        combo.blockSignals(False)

    def _build_options(self, names: list[str], values: Mapping[str, Any], kind: str = "") -> None:
        from gui.training.option_help import option_help, tooltip

        if list(self.option_edits) == names and self._options_kind == kind:
            for name, edit in self.option_edits.items():
                text = format_option(values.get(name))
                if edit.text() != text:
                    edit.setText(text)
            return
        while self.options_form.rowCount():
            self.options_form.removeRow(0)
        self.option_edits = {}
        self._options_kind = kind
        for name in names:
            edit = QLineEdit(format_option(values.get(name)))
            # what empty means, in words ("false: 1×8×8 images"), not a bare "default"
            edit.setPlaceholderText(option_help(kind, name).empty)
            edit.setToolTip(tooltip(kind, name))
            edit.editingFinished.connect(lambda n=name: self._option_edited(n))
            label = QLabel(name.replace("_", " ").capitalize())
            label.setToolTip(edit.toolTip())
            self.options_form.addRow(label, edit)
            self.option_edits[name] = edit

    def _catalog_ready(self, catalog: list[tuple[str, str, bool, list[str]]]) -> None:
        self.kinds = {kind: (desc, needs, options) for kind, desc, needs, options in catalog}
        self.refresh()

    def _catalog_failed(self, exc: Exception) -> None:
        log.error("cannot list the data sets: %s", exc)
        self._show_error(f"The list of data sets cannot be read: {exc}")

    # -- edits going out ----------------------------------------------------------------------------
    def _push(self, data: dict[str, Any], text: str, merge_key: object | None = None) -> None:
        new = minimal_spec(data)
        if new == self.current():
            return
        self.session.push(commands.SetSettingCommand(self.session.project, DATASET_KEY, new, text,
                                                     merge_key=merge_key))

    def choose_kind(self, kind: str) -> None:
        """Switch to another kind (its options start from their defaults; the split is kept)."""
        old = self.current() or {}
        if old.get("kind") == kind:
            return
        data: dict[str, Any] = {"kind": kind}
        for key in ("val_fraction", "seed", "normalize"):
            if key in old:
                data[key] = old[key]
        info = self.kinds.get(kind)
        if info and info[1] and old.get("path") and self.kinds.get(old.get("kind", ""), ("", False, []))[1]:
            data["path"] = old["path"]      # e.g. csv -> npz of the same folder: keep what was typed
        self._push(data, f"Use data set {kind}")

    def _kind_chosen(self, index: int) -> None:
        kind = self.kind_combo.itemData(index)
        if isinstance(kind, str):
            self.choose_kind(kind)

    def set_path(self, path: str) -> None:
        raw = self.current()
        if raw is None:
            return
        text = path.strip()
        base = self.base_dir()
        if text and base:
            try:   # inside the project's folder: keep it relative, so the folder can move
                text = str(Path(text).resolve().relative_to(base))
            except ValueError:
                pass
        self._push({**raw, "path": text or None}, "Set data set path")

    def _path_edited(self) -> None:
        if not self._syncing:
            raw = self.current() or {}
            if self.path_edit.text().strip() != str(raw.get("path") or ""):
                self.set_path(self.path_edit.text())

    def _browse(self) -> None:
        raw = self.current()
        if raw is None:
            return
        kind = raw["kind"]
        start = self.base_dir() or str(Path.cwd())
        if kind in FOLDER_KINDS:
            chosen = prompts.choose_data_folder(self, start)
        else:
            chosen = prompts.choose_data_file(self, start, FILE_FILTERS.get(kind, "All files (*)"))
        if chosen:
            self.set_path(str(chosen))

    def set_option(self, name: str, value: Any, merge_key: object | None = None) -> None:
        """Set (None: remove) one option; edits with the same ``merge_key`` (one spin-box drag) merge
        into one undo step."""
        raw = self.current()
        if raw is None:
            return
        options = dict(raw.get("options") or {})
        if value is None:
            options.pop(name, None)
        else:
            options[name] = value
        if name == "channels":
            options.pop("grayscale", None)      # 'channels' says it all; an old 'grayscale' would only confuse
        self._push({**raw, "options": options}, f"Set data set option {name}", merge_key)

    def set_augment(self, name: str, value: Any, merge_key: object | None = None) -> None:
        """Set one augmentation (an undoable edit of the data set's 'augment' option); a value the
        engine refuses is shown under its field and not stored."""
        from engine.augment import AUGMENT_SPECS, AugmentOptions
        from engine.data import DatasetError

        raw = self.current()
        if raw is None:
            return
        options = dict(raw.get("options") or {})
        current = options.get("augment") if isinstance(options.get("augment"), Mapping) else {}
        editor = self.augment.editors.get(name)
        try:
            augment = AugmentOptions.from_dict({**current, name: value}).to_dict()
        except DatasetError as exc:
            if editor is not None:
                editor.show_error(str(exc))
            return
        if editor is not None:
            editor.show_error(None)
        if augment:
            options["augment"] = augment
        else:
            options.pop("augment", None)
        label = next((s.label for s in AUGMENT_SPECS if s.name == name), name)
        self._push({**raw, "options": options}, f"Set augmentation {label.lower()}", merge_key)

    def _augment_source(self) -> tuple[dict[str, Any], str | None] | None:
        raw = self.current()
        return (raw, self.base_dir()) if raw is not None and raw.get("kind") in IMAGE_KINDS else None

    def _option_edited(self, name: str) -> None:
        if not self._syncing:
            self.set_option(name, parse_option(self.option_edits[name].text()))

    def _set_field(self, key: str, value: Any) -> None:
        raw = self.current()
        if self._syncing or raw is None or raw.get(key, SPEC_DEFAULTS[key]) == value:
            return
        self._push({**raw, key: value}, f"Set data set {key.replace('_', ' ')}")

    # -- loading --------------------------------------------------------------------------------------
    def _load_current(self) -> None:
        raw = self.current()
        if raw is None:
            self._wanted, self._loading = None, False
            self._show_loaded(None, None)
            return
        base = self.base_dir()
        key = spec_key(raw, base)
        if key in self._cache:
            self._wanted, self._loading = key, False
            self._show_loaded(*self._cache[key])
            return
        if key == self._wanted and self._loading:
            return
        self._wanted, self._loading = key, True
        self.summary.setText("Loading the data set…")
        run_in_background(lambda: _load(raw, base), lambda result, k=key: self._loaded(k, result),
                          lambda exc, k=key: self._failed(k, exc), owner=self)

    def _loaded(self, key: str, result: tuple[Any, Any]) -> None:
        self._cache[key] = result
        while len(self._cache) > CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        if key != self._wanted:
            return
        self._loading = False
        self._show_loaded(*result)

    def _failed(self, key: str, exc: Exception) -> None:
        if key != self._wanted:
            return
        self._loading = False
        self.dataset = None
        from engine.data import DatasetError
        from engine.errors import TrainingError

        if isinstance(exc, DatasetError | TrainingError):
            message = str(exc)
        else:
            log.error("loading the data set failed", exc_info=(type(exc), exc, exc.__traceback__))
            message = f"The data set cannot be loaded: {type(exc).__name__}: {exc}"
        self._show_loaded(None, None)
        self._show_error(message)
        self.loaded.emit("", "")

    def _show_error(self, message: str) -> None:
        self.error = message
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _show_loaded(self, dataset: Any, preview: Any) -> None:
        self.dataset = dataset
        self.preview_data = preview
        self._show_error("")
        if dataset is None:
            self.summary.setText("")
            self.shapes.setText("")
            self._show_feeding(None)
            self.compat.setText("")
            self._set_problem(None)
            self.preview.show_message("" if self.current() else "No data set chosen yet.")
            return
        from engine.data import format_shape

        self.summary.setText(f"<b>{dataset.describe()}</b>")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self._show_feeding(dataset)
        target = {"classification": f"a class index ({dataset.num_classes} classes)",
                  "regression": ("a number" if not dataset.target_shape
                                 else f"{format_shape(dataset.target_shape)} numbers"),
                  "sequence": f"{format_shape(dataset.target_shape)} per sample",
                  "language": f"the next token of {format_shape(dataset.target_shape)}"}.get(dataset.task, "")
        self.shapes.setText(f"Input <b>{format_shape(dataset.input_shape)}</b> {dataset.input_dtype} "
                            f"&nbsp;·&nbsp; target: {target}")
        self._check_fit()
        self.preview.show_preview(preview)
        self.loaded.emit(str(dataset.name), dataset.describe())

    def _show_feeding(self, dataset: Any) -> None:
        """Image sets: how training will feed the images (memory / cache / stream) and why."""
        source = getattr(dataset, "image_source", None)
        self.feeding.setVisible(source is not None)
        if source is None:
            self.feeding.setText("")
            return
        from gui import theme

        meaning = FEEDING_MODES.get(source.mode, "")
        muted = theme.current().muted_text.name()
        self.feeding.setText(f"Feeding: <b>{source.mode}</b> — {meaning} <span style='color:{muted}'>"
                             f"({html.escape(source.reason)})</span>")

    def _check_fit(self) -> None:
        """Say whether the data fits the current network's Input node (before any training), and
        announce a change of verdict (the status bar counts it with the network's problems)."""
        dataset, net = self.dataset, self.network()
        problem = None
        try:
            problem = self._fit_problem(dataset, net)
        finally:
            self._set_problem(problem)

    def _set_problem(self, problem: str | None) -> None:
        changed = problem != self.compat_problem
        self.compat_problem = problem
        if changed:
            self.fitChanged.emit(problem or "")

    def _fit_problem(self, dataset: Any, net: Network | None) -> str | None:
        """Show whether ``dataset`` fits ``net`` under the picker; the problem, or None."""
        from gui import theme

        if dataset is None or net is None:
            self.compat.setText("")
            return None
        from engine.data import check_input_shape

        inputs = net.inputs()
        t = theme.current()
        if len(inputs) != 1:
            training = self.session.project.settings.get("training")
            if isinstance(training, dict) and training.get("recipe") == "gan" and len(inputs) == 2:
                self.compat.setText(f"<span style='color:{t.muted_text.name()}'>A GAN: the data feeds the "
                                    "discriminator's Input, noise the generator's.</span>")
                return None
            problem = (f"The network '{net.name}' has {len(inputs)} Input nodes, but training feeds exactly one "
                       "(a GAN, with the recipe set to gan in Options, takes two): remove the extra Inputs."
                       if inputs else f"The network '{net.name}' has no Input node: add one for the data.")
            self.compat.setText(f"<span style='color:{t.error.name()}'>✗ {html.escape(problem)}</span>")
            return problem
        node = inputs[0]
        problem = check_input_shape(dataset, node.params["shape"], node.params["dtype"], node.name)
        if problem is None:
            self.compat.setText(f"<span style='color:{t.canvas.valid.name()}'>✓ Fits Input '{node.name}'.</span>")
        else:
            self.compat.setText(f"<span style='color:{t.error.name()}'>✗ {problem}</span> "
                                f"<a href='node:{node.id}'>Show</a>")
        return problem

    def _link(self, href: str) -> None:
        if href.startswith("node:"):
            self.nodeChosen.emit(href[5:])
