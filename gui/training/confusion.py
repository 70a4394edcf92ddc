"""The confusion matrix as a heat map: rows are the true classes, columns the predicted ones, each
cell coloured by the share of its row (so rare classes read as clearly as common ones) and
labelled with its count."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui import theme

#: with more classes the counts no longer fit in the cells; the colours still tell the story
MAX_LABELLED_CLASSES = 20
#: tick labels longer than this are cut
MAX_LABEL_CHARS = 10


def _short(name: str) -> str:
    return name if len(name) <= MAX_LABEL_CHARS else name[:MAX_LABEL_CHARS - 1] + "…"


class ConfusionView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.widget = pg.GraphicsLayoutWidget()
        self.plot = self.widget.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.getAxis("bottom").setLabel("predicted", **{"font-size": "8pt"})
        self.plot.getAxis("left").setLabel("true", **{"font-size": "8pt"})
        self.plot.vb.sigResized.connect(lambda _vb: self._update_ticks())
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.labels = CellLabels()
        self.plot.addItem(self.labels)
        self.caption = QLabel()
        self.caption.setProperty("role", "muted")
        self.caption.setContentsMargins(12, 0, 12, 2)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.caption, 0)
        self.matrix: np.ndarray | None = None
        self.class_names: list[str] | None = None
        self._shape: tuple[int, int] | None = None
        self.apply_theme()
        self.show_matrix(None)

    def apply_theme(self) -> None:
        t = theme.current()
        self.widget.setBackground(t.palette.color(QPalette.ColorRole.Base))
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen(t.muted_text))
            axis.setTextPen(pg.mkPen(t.palette.color(QPalette.ColorRole.Text)))
        base = QColor(t.palette.color(QPalette.ColorRole.Base))
        accent = QColor(t.accent)
        self.colormap = pg.ColorMap([0.0, 1.0], [base, accent])
        self.image.setLookupTable(self.colormap.getLookupTable(0.0, 1.0, 256))
        if self.matrix is not None:
            self.show_matrix(self.matrix, self.class_names, self._caption_epoch)

    _caption_epoch: int | None = None
    _tick_names: list[str] = []

    def _update_ticks(self) -> None:
        """Label every class whose name fits its column (or row); in a small panel, every second
        or third one, instead of names printed over each other."""
        names = self._tick_names
        n = len(names)
        if not n:
            return
        vb = self.plot.vb
        cell = max(1.0, min(vb.width(), vb.height()) / n)      # the aspect is locked: square cells
        metrics = QFontMetrics(self.plot.getAxis("bottom").font())
        wide = max(metrics.horizontalAdvance(name) for name in names) + 6
        tall = metrics.height() + 2
        for axis, room in (("bottom", wide), ("left", tall)):
            step = max(1, n // 20, math.ceil(room / cell))
            self.plot.getAxis(axis).setTicks([[(i + 0.5, names[i]) for i in range(0, n, step)]])

    def show_matrix(self, matrix: np.ndarray | None, class_names: list[str] | None = None,
                    epoch: int | None = None) -> None:
        self._caption_epoch = epoch
        if matrix is None or not np.size(matrix):
            self.matrix = None
            self.image.clear()
            self.labels.set_cells(None, np.zeros((0, 0)), QColor(), QColor())
            self.widget.hide()
            self.caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
            self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.caption.setText("The confusion matrix of the validation data appears here after the first "
                                 "epoch of a classification run.")
            return
        self.widget.show()
        self.caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        cm = np.asarray(matrix, dtype=np.int64)
        n = cm.shape[0]
        self.matrix, self.class_names = cm, class_names
        rows = cm.sum(axis=1, keepdims=True).astype(np.float64)
        share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
        # ImageItem is column-major (x first): transpose so x is the predicted class, y the true one
        self.image.setImage(share.T, autoLevels=False, levels=(0.0, 1.0))
        self.image.setRect(QRectF(0, 0, n, n))
        names = [str(c) for c in (class_names or [])]
        if len(names) != n:
            names = [str(i) for i in range(n)]
        self._tick_names = [_short(name) for name in names]
        self._update_ticks()
        if self._shape != cm.shape:
            self.plot.setRange(xRange=(0, n), yRange=(0, n), padding=0.02)
            self._shape = cm.shape
        self._label_cells(cm, share)
        total = int(cm.sum())
        correct = int(np.trace(cm))
        when = f"epoch {epoch}, " if epoch is not None else ""
        accuracy = f"{100 * correct / total:.1f} %" if total else "—"
        self.caption.setText(f"Validation, {when}{total} samples: {correct} right ({accuracy}). "
                             "Rows: true class; colour: share of the row.")

    def _label_cells(self, cm: np.ndarray, share: np.ndarray) -> None:
        t = theme.current()
        self.labels.set_cells(cm if cm.shape[0] <= MAX_LABELLED_CLASSES else None, share,
                              QColor(t.palette.color(QPalette.ColorRole.Text)), QColor("#ffffff"))


class CellLabels(pg.GraphicsObject):
    """The counts written in the cells: one item painting every number (a hundred TextItems
    cost tens of milliseconds to create and to update each epoch; this costs well under one)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: np.ndarray | None = None
        self.share: np.ndarray | None = None
        self.dark = QColor("#000000")
        self.light = QColor("#ffffff")

    def set_cells(self, counts: np.ndarray | None, share: np.ndarray, dark: QColor, light: QColor) -> None:
        self.prepareGeometryChange()
        self.counts, self.share, self.dark, self.light = counts, share, dark, light
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        n = 0 if self.counts is None else self.counts.shape[0]
        return QRectF(0, 0, n, n)

    def paint(self, painter: QPainter, *_args: object) -> None:
        counts, share = self.counts, self.share
        if counts is None or share is None:
            return
        to_device = painter.transform()
        origin = to_device.map(QPointF(0, 0))
        corner = to_device.map(QPointF(1, 1))
        w, h = abs(corner.x() - origin.x()), abs(corner.y() - origin.y())
        if w < 10 or h < 9:
            return                 # too small to read: the colours say it
        font = QFont()
        font.setPixelSize(max(7, min(12, int(h * 0.42))))
        painter.save()
        painter.resetTransform()
        painter.setFont(font)
        n = counts.shape[0]
        for i in range(n):          # true class: row, y
            for j in range(n):      # predicted class: column, x
                value = int(counts[i, j])
                if not value:
                    continue
                centre = to_device.map(QPointF(j + 0.5, i + 0.5))
                painter.setPen(self.light if share[i, j] > 0.55 else self.dark)
                painter.drawText(QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h),
                                 Qt.AlignmentFlag.AlignCenter, str(value))
        painter.restore()
