"""The data panel's parts for image data sets: typed editors for the image options (size, channels,
resize policy, normalisation, feeding) and the Augmentation section, whose editors are generated from
``engine.augment.AUGMENT_SPECS`` the way the training options form is generated from its specs, with a
grid of augmented samples that follows the options.

These widgets only report what the person entered (``edited``); the data-set picker turns it into an
undoable edit of the project's data-set settings. The grid is computed in the thread pool (kornia and
the image decoding stay off the GUI thread), at most once per pause in the editing (debounced), and a
result for options that are no longer current is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.options import OptionSpec
from gui.param_editors import ComboBox, ParamEditor, SpinBox
from gui.training.background import run_in_background

log = logging.getLogger(__name__)

#: the data-set kinds that read images (their options get the typed editors and augmentation)
IMAGE_KINDS = frozenset({"image_folder", "image_list"})
#: a pause in the editing this long (ms) before the augmented grid is recomputed
GRID_DELAY_MS = 300
GRID_ROWS, GRID_COLS = 3, 4
#: tiles are drawn at most this big on screen (pixels), and scaled up to at least MIN_TILE
MAX_TILE, MIN_TILE = 96, 48

#: options only the image list has
LIST_ONLY = frozenset({"path_column", "target", "task", "delimiter"})
#: options these editors show ("grayscale" is replaced by "channels"; "augment" has its own section)
HANDLED = frozenset({"size", "channels", "grayscale", "resize", "normalization", "cache", "memory_budget_mb",
                     "workers", "max_bad_fraction", "augment"}) | LIST_ONLY


def image_fields() -> tuple[OptionSpec, ...]:
    """The image options with typed editors; kinds "choice", "int", "float", "text", plus two with their own
    editor ("size", "channels"). The choices come from the engine (imported here, not at start-up: the
    data-set code takes seconds to import, and the picker builds these once it has been loaded)."""
    from engine.data.image_stream import CACHE_CHOICES, NORMALIZATIONS, RESIZE_POLICIES

    return _image_fields(RESIZE_POLICIES, NORMALIZATIONS, CACHE_CHOICES)


def _image_fields(resize: tuple[str, ...], normalizations: tuple[str, ...],
                  cache: tuple[str, ...]) -> tuple[OptionSpec, ...]:
    return (
        OptionSpec("size", "size", "Size (px)", "Every image is resized to height × width pixels (the network's Input "
                   "shape must match).", minimum=1, maximum=4096),
        OptionSpec("channels", "channels", "Channels", "1: grayscale, 3: RGB colour, 4: RGBA (colour with "
                   "transparency)."),
        OptionSpec("resize", "choice", "Resize", "stretch: to the size whatever the aspect; crop: fill the size and "
                   "cut the centre; pad: fit the whole image and fill the rest with black.", resize),
        OptionSpec("normalization", "choice", "Normalisation", "global: one mean and standard deviation from the "
                   "training images; per_channel: one per colour channel; imagenet: the usual preset for "
                   "pretrained networks; none: raw 0..255 values.", normalizations),
        OptionSpec("cache", "choice", "Feeding", "auto: hold the decoded images in memory when they fit the budget, "
                   "else stream them from disk every epoch; memory or stream force one.", cache),
        OptionSpec("memory_budget_mb", "int", "Memory (MB)", "The most memory the decoded images may take "
                   "(0: a quarter of the free memory).", minimum=0, maximum=1 << 20),
        OptionSpec("workers", "int", "Workers", "Processes decoding images while streaming (-1: one per "
                   "core, at most 8; 0: decode in the training process).", minimum=-1, maximum=64),
        OptionSpec("max_bad_fraction", "float", "Unreadable share", "Share of images that may fail to decode "
                   "(they are skipped and listed) before loading stops.", minimum=0.0, maximum=1.0),
        OptionSpec("path_column", "text", "Path column", "The column with the image paths (default: one named "
                   "path, file, image… or the first); relative paths are read from the list's folder."),
        OptionSpec("target", "text", "Label column(s)", "The class column, or number columns separated by commas "
                   "for regression (default: the first other column)."),
        OptionSpec("task", "choice", "Task", "auto: a column of words or few whole numbers is classes, anything "
                   "else numbers to predict.", ("auto", "classification", "regression")),
        OptionSpec("delimiter", "text", "Delimiter", "The CSV separator (default: guessed from the file)."),
    )


_DEFAULTS: dict[str, Any] = {"size": [28, 28], "resize": "stretch", "normalization": "global", "cache": "auto",
                             "memory_budget_mb": 0, "workers": -1, "max_bad_fraction": 0.01, "path_column": "",
                             "target": "", "task": "auto", "delimiter": ""}
CHANNEL_CHOICES = ((1, "1 · grayscale"), (3, "3 · RGB"), (4, "4 · RGBA"))


def channels_of(options: Mapping[str, Any]) -> int:
    """The channels an image set is read with (the 'channels' option, else from 'grayscale')."""
    value = options.get("channels")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 1 if options.get("grayscale", True) else 3


def size_of(options: Mapping[str, Any]) -> tuple[int, int]:
    value = options.get("size", _DEFAULTS["size"])
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    return 28, 28


def to_qimage(grid: np.ndarray) -> QImage:
    """An H×W×C uint8 picture (C 1, 3 or 4) as a QImage that owns its pixels."""
    grid = np.ascontiguousarray(grid)
    h, w = grid.shape[:2]
    channels = grid.shape[2] if grid.ndim == 3 else 1
    fmt = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888,
           4: QImage.Format.Format_RGBA8888}[channels]
    return QImage(grid.data, w, h, grid.strides[0], fmt).copy()


class SizeEditor(QWidget):
    """Height × width in two spin boxes; reports [height, width]."""

    edited = Signal(str, object)

    def __init__(self, spec: OptionSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.focus_generation = 0
        self.height_box, self.width_box = SpinBox(), SpinBox()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for i, box in enumerate((self.height_box, self.width_box)):
            box.setRange(int(spec.minimum or 1), int(spec.maximum or 4096))
            box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            box.setToolTip(spec.help)
            box.valueChanged.connect(lambda _v: self.edited.emit("size", self.value()))
            layout.addWidget(box, 1)
            if i == 0:
                layout.addWidget(QLabel("×"))

    def value(self) -> list[int]:
        return [int(self.height_box.value()), int(self.width_box.value())]

    def set_value(self, value: tuple[int, int]) -> None:
        for box, v in zip((self.height_box, self.width_box), value, strict=True):
            box.blockSignals(True)
            box.setValue(int(v))
            box.blockSignals(False)


class ImageOptionsBox(QWidget):
    """Typed editors of an image data set's options; ``edited(name, value, merge key)``, value None meaning
    "back to the default"."""

    edited = Signal(str, object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setVerticalSpacing(4)
        self.editors: dict[str, QWidget] = {}
        self.fields = image_fields()
        for spec in self.fields:
            editor = self._editor(spec)
            label = QLabel(spec.label)
            label.setToolTip(spec.help)
            self.form.addRow(label, editor)
            self.editors[spec.name] = editor

    def _editor(self, spec: OptionSpec) -> QWidget:
        if spec.kind == "size":
            size = SizeEditor(spec)
            size.edited.connect(lambda n, v: self.edited.emit(n, v, ("size", id(self))))
            return size
        if spec.kind == "channels":
            combo = ComboBox()
            combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            combo.setToolTip(spec.help)
            for value, text in CHANNEL_CHOICES:
                combo.addItem(text, value)
            combo.activated.connect(lambda i: self.edited.emit("channels", int(combo.itemData(i)), None))
            return combo
        if spec.kind == "text":
            line = QLineEdit()
            line.setToolTip(spec.help)
            line.setPlaceholderText("automatic")
            line.editingFinished.connect(lambda n=spec.name, e=line: self._text_edited(n, e))
            return line
        editor = ParamEditor(spec)  # type: ignore[arg-type]   # an OptionSpec has the fields it reads
        editor.edited.connect(lambda n, v, e=editor: self.edited.emit(n, v, (n, id(e), e.focus_generation)))
        return editor

    def _text_edited(self, name: str, line: QLineEdit) -> None:
        text = line.text().strip()
        if name == "target" and "," in text:
            value: Any = [t.strip() for t in text.split(",") if t.strip()]
        else:
            value = text or None
        self.edited.emit(name, value, None)

    def set_values(self, kind: str, options: Mapping[str, Any]) -> None:
        """Show a data set's options (signals blocked, so nothing is echoed back as an edit)."""
        for spec in self.fields:
            editor = self.editors[spec.name]
            self.form.setRowVisible(editor, spec.name not in LIST_ONLY or kind == "image_list")
            value = options.get(spec.name, _DEFAULTS.get(spec.name))
            if isinstance(editor, SizeEditor):
                editor.set_value(size_of(options))
            elif isinstance(editor, QComboBox):
                editor.blockSignals(True)
                editor.setCurrentIndex(max(0, editor.findData(channels_of(options))))
                editor.blockSignals(False)
            elif isinstance(editor, QLineEdit):
                text = ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")
                if editor.text() != text:
                    editor.setText(text)
            elif isinstance(editor, ParamEditor):
                try:
                    editor.set_value(value)
                except (TypeError, ValueError):       # a hand-edited file: the engine's message says what
                    editor.set_value(_DEFAULTS[spec.name])


class AugmentSection(QWidget):
    """The Augmentation section: a header that opens it, one editor per augmentation, and the grid
    (top row as loaded, each row below a new random draw)."""

    edited = Signal(str, object, object)     # augmentation name, value, merge key

    def __init__(self, spec_source: Callable[[], tuple[dict[str, Any], str | None] | None],
                 parent: QWidget | None = None) -> None:
        """``spec_source()`` gives the data set's settings and the project folder, or None without one."""
        super().__init__(parent)
        self.spec_source = spec_source
        self.seed = 0
        self.grid: np.ndarray | None = None
        self.grid_error = ""
        self._generation = 0
        self._computing = False
        self._shown_key: str | None = None
        self._state_text = ""
        self.toggle = QToolButton()
        self.toggle.setText("Augmentation")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolTip("Random changes to the training images each epoch (validation images are never "
                               "changed); saved in the project.")
        font = self.toggle.font()
        font.setBold(True)
        self.toggle.setFont(font)
        self.toggle.toggled.connect(self._opened)
        self.state = QLabel()       # which augmentations are on, in a few words
        self.state.setProperty("role", "muted")
        self.state.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.toggle)
        header.addWidget(self.state, 1)

        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(14, 0, 0, 0)
        body.setSpacing(4)
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setVerticalSpacing(3)
        self.editors: dict[str, ParamEditor] = {}
        from engine.augment import AUGMENT_SPECS

        self.specs = AUGMENT_SPECS
        for spec in AUGMENT_SPECS:
            editor = ParamEditor(spec)  # type: ignore[arg-type]   # an OptionSpec has the fields it reads
            editor.edited.connect(lambda n, v, e=editor: self.edited.emit(n, v, ("augment", n, id(e),
                                                                                 e.focus_generation)))
            label = QLabel(spec.label)
            label.setToolTip(spec.help)
            self.form.addRow(label, editor)
            self.editors[spec.name] = editor
        body.addLayout(self.form)
        grid_header = QHBoxLayout()
        grid_header.setContentsMargins(0, 4, 0, 0)
        self.grid_note = QLabel("Top row as loaded; each row below is a new random draw.")
        self.grid_note.setProperty("role", "muted")
        self.grid_note.setWordWrap(True)
        self.redraw = QPushButton("New draw")
        self.redraw.setToolTip("Show other random draws of the same augmentations.")
        self.redraw.clicked.connect(self.new_draw)
        grid_header.addWidget(self.grid_note, 1)
        grid_header.addWidget(self.redraw)
        body.addLayout(grid_header)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # the grid follows the width it is given; it must never force the panel wider
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setProperty("role", "muted")
        body.addWidget(self.picture)
        body.addWidget(self.message)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.body)
        self.body.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(GRID_DELAY_MS)
        self._timer.timeout.connect(self._compute)

    # -- the document coming back ---------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.toggle.isChecked()

    @property
    def busy(self) -> bool:
        """A grid is waiting to be computed or being computed (tests wait for this to end)."""
        return self._timer.isActive() or self._computing

    def set_values(self, augment: Any) -> None:
        """Show the project's augmentations and schedule a new grid."""
        from engine.augment import AugmentOptions

        try:
            options = AugmentOptions.from_dict(augment if isinstance(augment, Mapping) else None)
            problem = ""
        except Exception as exc:   # DatasetError from a hand-edited file: show the defaults, say why
            options, problem = AugmentOptions(), str(exc)
        for name, editor in self.editors.items():
            editor.set_value(getattr(options, name))
        active = [s.label.split(" (")[0].lower() for s in self.specs
                  if getattr(options, s.name) != getattr(AugmentOptions(), s.name)]
        self._state_text = problem or (", ".join(active) if active else "off")
        self.state.setToolTip(self._state_text)
        self._elide_state()
        self.schedule()

    @property
    def state_text(self) -> str:
        """Which augmentations are on, as the header says it (before it is shortened to fit)."""
        return self._state_text

    def _elide_state(self) -> None:
        room = max(40, self.width() - self.toggle.sizeHint().width() - 12)
        self.state.setText(self.state.fontMetrics().elidedText(self._state_text, Qt.TextElideMode.ElideRight,
                                                                room))

    def _opened(self, on: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)
        if on:
            self.schedule()

    def open(self) -> None:
        self.toggle.setChecked(True)

    def new_draw(self) -> None:
        self.seed += 1
        self.schedule()

    def schedule(self) -> None:
        """Recompute the grid once the editing pauses (only while the section is open)."""
        if self.is_open and not self.isHidden():
            self._timer.start()

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        self.schedule()

    # -- the grid ---------------------------------------------------------------------------------------
    def _compute(self) -> None:
        source = self.spec_source()
        if source is None:
            return
        raw, base_dir = source
        key = repr((raw, base_dir, self.seed))
        if key == self._shown_key and self.grid is not None:
            return
        self._generation += 1
        generation, seed = self._generation, self.seed
        self._computing = True

        def work() -> np.ndarray:
            from engine.augment import augmented_grid
            from engine.options import DATASET_KEY
            from engine.session import dataset_spec

            return augmented_grid(dataset_spec({DATASET_KEY: raw}, base_dir), None, rows=GRID_ROWS,
                                  cols=GRID_COLS, seed=seed)

        run_in_background(work, lambda grid: self._done(generation, key, grid),
                          lambda exc: self._failed(generation, exc), owner=self)

    def _done(self, generation: int, key: str, grid: np.ndarray) -> None:
        if generation != self._generation:
            return
        self._computing = False
        self.grid, self.grid_error, self._shown_key = grid, "", key
        self.message.setText("")
        self.message.hide()
        self._draw()

    def _failed(self, generation: int, exc: Exception) -> None:
        if generation != self._generation:
            return
        self._computing = False
        from engine.data import DatasetError
        from engine.errors import TrainingError

        if isinstance(exc, DatasetError | TrainingError):
            text = str(exc)
        else:
            log.error("the augmentation preview failed", exc_info=(type(exc), exc, exc.__traceback__))
            text = f"The augmented samples cannot be shown: {type(exc).__name__}: {exc}"
        self.grid, self.grid_error, self._shown_key = None, text, None
        self.picture.clear()
        self.message.setText(text)
        self.message.show()

    def _draw(self) -> None:
        if self.grid is None:
            return
        image = to_qimage(self.grid)
        tile_w = (image.width() + 2) / GRID_COLS
        available = max(160, self.body.width() - 20)
        scale = min(available / image.width(), MAX_TILE / max(tile_w, 1))
        scale = max(scale, min(MIN_TILE / max(tile_w, 1), available / image.width()))
        w, h = max(1, round(image.width() * scale)), max(1, round(image.height() * scale))
        smooth = scale < 1 or tile_w > 64        # small images stay crisp pixels when enlarged
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        pixmap = QPixmap.fromImage(image.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio, mode))
        self.picture.setPixmap(pixmap)
        self.picture.setMinimumHeight(pixmap.height())

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide_state()
        self._draw()
