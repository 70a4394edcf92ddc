"""Analyze ▸ Saliency Map: which pixels of one image the class score is most sensitive to, shown
as the image, the map, and the map laid over the image, for the predicted or a chosen class."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.analysis.drawing import HEAT, blend, sample_image, scaled_pixmap, to_qimage
from gui.analysis.sample_picker import SamplePicker, target_text
from gui.analysis.view_base import AnalysisView, classifier_only

#: pixels per side of each of the three pictures
PICTURE_SIZE = 240
PREDICTED = -1


class SaliencyView(AnalysisView):
    title = "Saliency map"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.result: Any = None
        self.dataset: Any = None
        self.picker = SamplePicker()
        self.picker.indexChanged.connect(lambda _i: self.refresh())
        self.class_box = QComboBox()
        self.class_box.addItem("the predicted class", PREDICTED)
        self.class_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.pictures: dict[str, QLabel] = {}
        grid = QGridLayout()
        for col, (key, title) in enumerate((("image", "Input"), ("map", "Saliency |∂score/∂input|"),
                                            ("overlay", "Saliency over the input"))):
            heading = QLabel(title)
            heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
            picture = QLabel()
            picture.setFixedSize(PICTURE_SIZE, PICTURE_SIZE)
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(heading, 0, col)
            grid.addWidget(picture, 1, col)
            self.pictures[key] = picture
        row = QHBoxLayout()
        row.addWidget(QLabel("Map of the score of"))
        row.addWidget(self.class_box)
        row.addStretch(1)
        explain = QLabel("Bright pixels change the class score the most when they change (the gradient of the "
                         "class's raw score, largest over the channels).")
        explain.setProperty("role", "muted")
        explain.setWordWrap(True)
        column = QVBoxLayout()
        column.addWidget(self.picker)
        column.addLayout(row)
        column.addLayout(grid)
        column.addWidget(self.caption)
        column.addWidget(explain)
        column.addStretch(1)
        self.body_layout.addLayout(column)
        self.resize(800, 620)

    def not_applicable(self, network: Any) -> str:
        return classifier_only("A saliency map", self.recipe(), network.name)

    def clear_result(self) -> None:
        for picture in self.pictures.values():
            picture.clear()
        self.caption.setText("")

    def set_class(self, index: int | None) -> None:
        """Map the score of this class (None: the predicted one)."""
        wanted = PREDICTED if index is None else index
        pos = self.class_box.findData(wanted)
        if pos >= 0:
            self.class_box.setCurrentIndex(pos)

    def start(self, network: str, weights: dict[str, Any] | None) -> None:
        index = self.picker.index
        chosen = self.class_box.currentData()
        target = None if chosen in (None, PREDICTED) else int(chosen)

        def compute(project: Any, dataset: Any, sample: Any) -> Any:
            from engine.analysis import saliency

            return saliency(project, network, weights, sample, target, dataset.class_names)

        self.run_job(self.sample_job(index, compute), self._show, f"Computing the saliency of sample {index}…")

    def _show(self, outcome: tuple[Any, tuple[int, Any]]) -> None:
        dataset, index, result = self.take_sample_result(outcome)
        if self.class_box.count() != len(result.class_names) + 1:
            self.class_box.blockSignals(True)
            current = self.class_box.currentData()
            self.class_box.clear()
            self.class_box.addItem("the predicted class", PREDICTED)
            for i, name in enumerate(result.class_names):
                self.class_box.addItem(f"class {name}", i)
            self.class_box.setCurrentIndex(max(0, self.class_box.findData(current)))
            self.class_box.blockSignals(False)
        image = sample_image(result.image)
        heat = to_qimage(result.normalized, HEAT)
        self.pictures["image"].setPixmap(scaled_pixmap(image, PICTURE_SIZE))
        self.pictures["map"].setPixmap(scaled_pixmap(heat, PICTURE_SIZE))
        gray = sample_image(result.image.mean(axis=0, keepdims=True) if result.image.ndim == 3 else result.image)
        self.pictures["overlay"].setPixmap(scaled_pixmap(blend(gray, heat), PICTURE_SIZE))
        names = result.class_names
        p = np.asarray(result.probabilities)
        top = np.argsort(p)[::-1][:3]
        likely = ", ".join(f"{names[i]} {p[i]:.2f}" for i in top)
        truth = target_text(dataset, dataset.y_val[index]) if len(dataset.y_val) > index else "?"
        self.caption.setText(f"Sample {index} (true class <b>{truth}</b>): predicted <b>{names[result.predicted]}"
                             f"</b>; most likely {likely}. The map shows the score of class "
                             f"<b>{names[result.target_class]}</b>." + (" " + " ".join(result.notes)
                                                                        if result.notes else ""))
