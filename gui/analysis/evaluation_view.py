"""Analyze ▸ Evaluate: how the network with its attached weights does on the validation data —
accuracy, the confusion matrix, precision / recall / F1 per class, and the samples it is least
sure of (the lowest probability of their true class), drawn the way the data is best read."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import theme
from gui.analysis.drawing import PixmapTile, sample_pixmap, token_text
from gui.analysis.view_base import AnalysisView, classifier_only

#: tiles per row in the gallery of worst samples
GALLERY_COLUMNS = 6


class _NumberItem(QTableWidgetItem):
    """Sorts by value, not by text."""

    def __init__(self, value: float, text: str, align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignRight) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < getattr(other, "value", 0.0)


class EvaluationView(AnalysisView):
    title = "Evaluation"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        from gui.training.confusion import ConfusionView

        self.result: Any = None
        self.summary = QLabel()
        font = self.summary.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.summary.setFont(font)
        self.summary.setWordWrap(True)
        self.notes = QLabel()
        self.notes.setProperty("role", "muted")
        self.notes.setWordWrap(True)
        self.confusion = ConfusionView()
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, 5):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.confusion)
        top.addWidget(self.table)
        top.setSizes([420, 420])
        top.setChildrenCollapsible(False)
        self.gallery_title = QLabel()
        self.gallery_title.setProperty("role", "heading")
        self.gallery = QWidget()
        self.gallery_layout = QGridLayout(self.gallery)
        self.gallery_layout.setContentsMargins(0, 0, 0, 0)
        self.gallery_layout.setSpacing(4)
        self.tiles: list[PixmapTile] = []
        scroll = QScrollArea()
        scroll.setWidget(self.gallery)
        scroll.setWidgetResizable(True)
        scroll.setMinimumHeight(170)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.gallery_title)
        lower_layout.addWidget(scroll, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(lower)
        split.setSizes([380, 260])
        split.setChildrenCollapsible(False)
        self.body_layout.addWidget(self.summary)
        self.body_layout.addWidget(self.notes)
        self.body_layout.addWidget(split, 1)
        self.resize(960, 820)

    def not_applicable(self, network: Any) -> str:
        return classifier_only("Evaluation (accuracy, confusion matrix, precision and recall)", self.recipe(),
                               network.name)

    def clear_result(self) -> None:
        self.summary.setText("")
        self.notes.setText("")
        self.notes.hide()
        self.confusion.show_matrix(None)
        self.table.setRowCount(0)
        for tile in self.tiles:
            tile.deleteLater()
        self.tiles = []
        self.gallery_title.setText("")

    def show_error(self, exc: BaseException | str) -> None:
        # the numbers shown no longer answer what was asked: the error stands alone
        self.result = None
        self.clear_result()
        super().show_error(exc)

    def start(self, network: str, weights: dict[str, Any] | None) -> None:
        def compute(project: Any, dataset: Any) -> Any:
            from engine.analysis import evaluate

            return evaluate(project, network, weights, dataset)

        self.run_job(self.project_job(compute), self._show, "Evaluating on the validation data…")

    def _show(self, outcome: tuple[Any, Any]) -> None:
        dataset, result = outcome
        self.keep_dataset(dataset)
        self.result = result
        self.dataset = dataset
        unit = "positions" if result.per_position else "samples"
        total = int(result.confusion.sum())
        right = int(np.trace(result.confusion))
        self.summary.setText(f"<b>Accuracy {100 * result.accuracy:.1f} %</b> — {right} of {total} validation {unit} "
                             f"right · macro F1 {result.macro_f1:.3f} · data set {result.dataset}")
        self.notes.setText(" ".join(result.notes))
        self.notes.setVisible(bool(result.notes))
        self.confusion.show_matrix(result.confusion, result.class_names)
        self._fill_table(result)
        self._fill_gallery(result, dataset)
        self.controller.message.emit(f"Evaluated '{result.network}': accuracy {100 * result.accuracy:.1f} %")

    def _fill_table(self, result: Any) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(result.class_names))
        weak = QColor(theme.current().error)
        for i, name in enumerate(result.class_names):
            self.table.setItem(i, 0, _NumberItem(float(i), name, Qt.AlignmentFlag.AlignLeft))   # sorts by class index
            for c, values in enumerate((result.precision, result.recall, result.f1), start=1):
                item = _NumberItem(float(values[i]), f"{values[i]:.3f}")
                if result.support[i] and values[i] < 0.5:
                    item.setForeground(weak)
                self.table.setItem(i, c, item)
            self.table.setItem(i, 4, _NumberItem(float(result.support[i]), str(int(result.support[i]))))
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)

    def _fill_gallery(self, result: Any, dataset: Any) -> None:
        for tile in self.tiles:
            tile.deleteLater()
        self.tiles = []
        wrong = sum(1 for w in result.worst if _differs(w.true, w.predicted))
        self.gallery_title.setText(f"Least sure: the {len(result.worst)} validation samples with the lowest "
                                   f"probability of their true class ({wrong} of them misclassified)")
        for k, sample in enumerate(result.worst):
            pix = sample_pixmap(sample.x, result.input_kind, 88, dataset.vocab)
            true, predicted = result.label(sample.true), result.label(sample.predicted)
            if result.input_kind == "tokens":
                tip = f"{token_text(sample.x, dataset.vocab)}\n"
            else:
                tip = ""
            caption = f"#{sample.index}: {true[:8]} → {predicted[:8]}\np(true) {sample.p_true:.2f}"
            tip += (f"Validation sample {sample.index}\ntrue: {true}\npredicted: {predicted} "
                    f"(p {sample.p_predicted:.3f})\np(true class): {sample.p_true:.3f}")
            tile = PixmapTile(pix, caption, tip, width=110)
            tile.set_warning(_differs(sample.true, sample.predicted))
            self.gallery_layout.addWidget(tile, k // GALLERY_COLUMNS, k % GALLERY_COLUMNS)
            self.tiles.append(tile)


def _differs(a: Any, b: Any) -> bool:
    return not np.array_equal(np.asarray(a), np.asarray(b))
