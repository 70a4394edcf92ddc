"""Choosing one validation sample: by its number, or by clicking it in a strip of the first few."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QSpinBox, QVBoxLayout, QWidget

from engine.analysis import input_kind
from gui.analysis.drawing import PixmapTile, sample_pixmap

#: samples shown in the strip
STRIP_SAMPLES = 16


def target_text(dataset: Any, y: Any) -> str:
    """A target as the person reads it: the class name, a token string, or a number."""
    y = np.asarray(y)
    names = dataset.class_names or dataset.vocab
    if y.ndim == 0:
        if np.issubdtype(y.dtype, np.integer) and names and 0 <= int(y) < len(names):
            return str(names[int(y)])
        return f"{float(y):.3g}" if np.issubdtype(y.dtype, np.floating) else str(y.item())
    flat = y.reshape(-1)
    if np.issubdtype(flat.dtype, np.integer) and names:
        return " ".join(str(names[int(v)]) if 0 <= int(v) < len(names) else str(int(v)) for v in flat[:12]) + (
            "…" if flat.size > 12 else "")
    return "[" + ", ".join(f"{float(v):.3g}" for v in flat[:4]) + ("…" if flat.size > 4 else "") + "]"


class SamplePicker(QWidget):
    indexChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset: Any = None
        self.spin = QSpinBox()
        self.spin.setRange(0, 0)
        self.spin.setKeyboardTracking(False)
        self.spin.valueChanged.connect(self._changed)
        self.target = QLabel()
        self.tiles: list[PixmapTile] = []
        self.strip = QWidget()
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(0, 0, 0, 0)
        self.strip_layout.setSpacing(2)
        scroll = QScrollArea()
        scroll.setWidget(self.strip)
        scroll.setWidgetResizable(True)
        scroll.setFixedHeight(104)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        row = QHBoxLayout()
        row.addWidget(QLabel("Validation sample"))
        row.addWidget(self.spin)
        row.addWidget(self.target, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(scroll)

    @property
    def index(self) -> int:
        return self.spin.value()

    def set_dataset(self, dataset: Any) -> None:
        if dataset is self.dataset:
            return
        self.dataset = dataset
        for tile in self.tiles:
            tile.deleteLater()
        self.tiles = []
        n = len(dataset.x_val)
        self.spin.blockSignals(True)
        self.spin.setRange(0, max(0, n - 1))
        self.spin.setSuffix(f"  of {n}")
        self.spin.blockSignals(False)
        kind = input_kind(tuple(dataset.input_shape), dataset.input_dtype)
        for i in range(min(STRIP_SAMPLES, n)):
            pix = sample_pixmap(dataset.x_val[i], kind, 64, dataset.vocab)
            tile = PixmapTile(pix, f"#{i} · {target_text(dataset, dataset.y_val[i])[:10]}", width=64)
            tile.clicked.connect(lambda i=i: self.set_index(i))
            self.strip_layout.addWidget(tile)
            self.tiles.append(tile)
        self.strip_layout.addStretch(1)
        self._mark()

    def set_index(self, index: int) -> None:
        self.spin.setValue(index)

    def _changed(self, index: int) -> None:
        self._mark()
        self.indexChanged.emit(index)

    def _mark(self) -> None:
        for i, tile in enumerate(self.tiles):
            tile.set_selected(i == self.index)
        if self.dataset is not None and len(self.dataset.y_val):
            self.target.setText(f"true: {target_text(self.dataset, self.dataset.y_val[self.index])}")
