"""A look at a data set's first samples: a grid of images for image data, sparklines for series,
token text for sequences and a table of rows for tabular data.

``make_preview`` runs in the background thread (it only turns arrays into small uint8 images and
strings); ``PreviewView`` shows the result on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import theme

SAMPLES = 16
TABLE_ROWS = 8
MAX_TABLE_COLUMNS = 12
MAX_TOKENS = 48


@dataclass
class Preview:
    kind: str                                  # "images" | "series" | "tokens" | "table" | "none"
    targets: list[str] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)       # uint8 H×W or H×W×3
    series: list[np.ndarray] = field(default_factory=list)       # T×F floats
    tokens: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _target_text(dataset: Any, y: Any) -> str:
    names = dataset.class_names
    if isinstance(y, int | np.integer) and names and 0 <= int(y) < len(names):
        return str(names[int(y)])
    if isinstance(y, float | np.floating):
        return f"{float(y):.3g}"
    if isinstance(y, np.ndarray):
        if dataset.vocab and y.dtype.kind in "iu":
            return _detokenize(dataset.vocab, y)
        flat = y.reshape(-1)
        more = "…" if flat.size > 4 else ""
        return "[" + ", ".join(f"{v:.3g}" for v in flat[:4]) + more + "]"
    return str(y)


def _detokenize(vocab: list[str], ids: np.ndarray) -> str:
    ids = ids.reshape(-1)
    if vocab and vocab[0] == "[PAD]":       # a padded text: show the text, not the padding after it
        kept = np.flatnonzero(ids)
        ids = ids[:kept[-1] + 1] if kept.size else ids[:1]
    ids = ids[:MAX_TOKENS]
    words = [vocab[i] if 0 <= i < len(vocab) else "?" for i in ids.tolist()]
    joiner = "" if all(len(w) == 1 for w in words) else " "
    return joiner.join(words).replace("\n", "⏎")


def _to_uint8(img: np.ndarray) -> np.ndarray:
    img = np.nan_to_num(img.astype(np.float32))
    lo, hi = float(img.min()), float(img.max())
    scaled = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return np.ascontiguousarray((scaled * 255).round().astype(np.uint8))


def make_preview(dataset: Any, n: int = SAMPLES) -> Preview:
    """What to show for a loaded ``engine.data.Dataset`` (runs off the GUI thread)."""
    samples = dataset.preview(n)
    shape = tuple(dataset.input_shape)
    targets = [_target_text(dataset, y) for _, y in samples]
    if not samples:
        return Preview("none")
    if dataset.input_dtype == "int64":
        tokens = []
        for x, _ in samples:
            tokens.append(_detokenize(dataset.vocab, x) if dataset.vocab else
                          " ".join(str(v) for v in x.reshape(-1)[:MAX_TOKENS].tolist()))
        return Preview("tokens", targets, tokens=tokens)
    if len(shape) == 3 and shape[0] in (1, 3) and min(shape[1:]) >= 4:
        images = []
        for x, _ in samples:
            img = x[0] if shape[0] == 1 else np.transpose(x, (1, 2, 0))
            images.append(_to_uint8(img))
        return Preview("images", targets, images=images)
    if len(shape) == 2:
        return Preview("series", targets[:8], series=[np.asarray(x, dtype=np.float64) for x, _ in samples[:8]])
    names = list(dataset.feature_names or [])
    flat = [np.asarray(x).reshape(-1) for x, _ in samples[:TABLE_ROWS]]
    width = min(MAX_TABLE_COLUMNS, flat[0].size)
    if len(names) != flat[0].size:
        names = [f"x{i + 1}" for i in range(flat[0].size)]
    columns = names[:width] + (["…"] if flat[0].size > width else []) + ["target"]
    rows = []
    for values, target in zip(flat, targets, strict=False):
        row = [f"{v:.3g}" for v in values[:width].tolist()]
        if flat[0].size > width:
            row.append("…")
        rows.append(row + [target])
    return Preview("table", targets, columns=columns, rows=rows)


def _image_grid(preview: Preview, width: int) -> QPixmap:
    t = theme.current()
    count = len(preview.images)
    cell = 52
    label_h = 14
    gap = 6
    cols = max(1, min(count, (width + gap) // (cell + gap)))
    rows = (count + cols - 1) // cols
    pixmap = QPixmap(cols * (cell + gap) - gap, rows * (cell + label_h + gap))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    font = QFont()
    font.setPointSizeF(7.5)
    painter.setFont(font)
    for i, img in enumerate(preview.images):
        r, c = divmod(i, cols)
        x, y = c * (cell + gap), r * (cell + label_h + gap)
        if img.ndim == 2:
            qimg = QImage(img.data, img.shape[1], img.shape[0], img.strides[0], QImage.Format.Format_Grayscale8)
        else:
            qimg = QImage(img.data, img.shape[1], img.shape[0], img.strides[0], QImage.Format.Format_RGB888)
        painter.drawImage(QRectF(x, y, cell, cell), qimg.copy())
        painter.setPen(QPen(t.palette.color(QPalette.ColorRole.Mid)))
        painter.drawRect(QRectF(x, y, cell - 1, cell - 1))
        painter.setPen(QPen(t.muted_text))
        painter.drawText(QRectF(x, y + cell, cell, label_h), Qt.AlignmentFlag.AlignCenter,
                         preview.targets[i] if i < len(preview.targets) else "")
    painter.end()
    return pixmap


def _sparklines(preview: Preview, width: int) -> QPixmap:
    t = theme.current()
    cell_w, cell_h, gap, label_h = 120, 40, 8, 14
    cols = max(1, min(len(preview.series), (width + gap) // (cell_w + gap)))
    rows = (len(preview.series) + cols - 1) // cols
    pixmap = QPixmap(cols * (cell_w + gap) - gap, rows * (cell_h + label_h + gap))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont()
    font.setPointSizeF(7.5)
    painter.setFont(font)
    for i, data in enumerate(preview.series):
        r, c = divmod(i, cols)
        x0, y0 = c * (cell_w + gap), r * (cell_h + label_h + gap)
        painter.setPen(QPen(t.palette.color(QPalette.ColorRole.Mid)))
        painter.drawRect(QRectF(x0, y0, cell_w - 1, cell_h - 1))
        values = data.reshape(data.shape[0], -1)
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        span = hi - lo if hi > lo else 1.0
        for f in range(min(values.shape[1], 3)):
            path = QPainterPath()
            for k, v in enumerate(values[:, f]):
                px = x0 + 3 + (cell_w - 6) * k / max(1, len(values) - 1)
                py = y0 + cell_h - 3 - (cell_h - 6) * (float(v) - lo) / span
                path.moveTo(QPointF(px, py)) if k == 0 else path.lineTo(QPointF(px, py))
            painter.setPen(QPen(QColor(("#3d7be0", "#e0733a", "#2f9e6e")[f]), 1.3))
            painter.drawPath(path)
        painter.setPen(QPen(t.muted_text))
        painter.drawText(QRectF(x0, y0 + cell_h, cell_w, label_h), Qt.AlignmentFlag.AlignCenter,
                         f"→ {preview.targets[i]}" if i < len(preview.targets) else "")
    painter.end()
    return pixmap


class PreviewView(QStackedWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview: Preview | None = None
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # the grid follows the width it is given; it must never force the panel wider
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._drawn_width = 0
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.empty = QLabel()
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        for w in (self.empty, self.picture, self.text, self.table):
            page = QWidget()
            lay = QVBoxLayout(page)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(w)
            if w is not self.table:
                lay.addStretch(1)
            self.addWidget(page)
        self.show_message("")

    def show_message(self, text: str) -> None:
        self.preview = None
        self.empty.setText(text)
        self.setCurrentIndex(0)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self.preview is not None and self.preview.kind in ("images", "series") \
                and abs(self.width() - self._drawn_width) > 20:
            self._draw_picture(self.preview)

    def _draw_picture(self, preview: Preview) -> None:
        width = max(200, self.width() - 4)
        self._drawn_width = self.width()
        draw = _image_grid if preview.kind == "images" else _sparklines
        pixmap = draw(preview, width)
        self.picture.setPixmap(pixmap)
        self.picture.setMinimumHeight(pixmap.height())

    def show_preview(self, preview: Preview) -> None:
        self.preview = preview
        if preview.kind in ("images", "series"):
            self._draw_picture(preview)
            self.setCurrentIndex(1)
        elif preview.kind == "tokens":
            muted = theme.current().muted_text.name()
            lines = []
            for x, y in list(zip(preview.tokens, preview.targets, strict=False))[:8]:
                lines.append(f"<tt>{_esc(x)}</tt> <span style='color:{muted}'>→</span> <tt><b>{_esc(y)}</b></tt>")
            self.text.setText("<br>".join(lines))
            self.setCurrentIndex(2)
        elif preview.kind == "table":
            self.table.clear()
            self.table.setColumnCount(len(preview.columns))
            self.table.setRowCount(len(preview.rows))
            self.table.setHorizontalHeaderLabels(preview.columns)
            for r, row in enumerate(preview.rows):
                for c, value in enumerate(row):
                    item = QTableWidgetItem(value)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(r, c, item)
            self.setCurrentIndex(3)
        else:
            self.show_message("The data set has no samples to show.")


def _esc(text: str) -> str:
    import html

    return html.escape(text).replace(" ", "&nbsp;")
