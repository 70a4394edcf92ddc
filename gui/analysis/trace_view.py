"""Analyze ▸ Trace a Sample: one validation sample through the network, node by node, in the order
the network runs them. Feature maps (C×H×W) show as a grid of small images, vectors as bars,
sequences (L×D) as heat maps, token ids as text; clicking a node's heading shows it on the canvas."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from gui.analysis.drawing import (
    BarsView,
    HeatMap,
    ImageGrid,
    sample_image,
    scaled_pixmap,
    token_text,
    value_text,
)
from gui.analysis.sample_picker import SamplePicker
from gui.analysis.view_base import AnalysisView

#: activations with more elements than this are summarised, not drawn element by element
MAX_DRAWN = 200_000


def _shape_text(shape: tuple[Any, ...]) -> str:
    return "×".join("N" if d is None else str(d) for d in shape) or "scalar"


class NodeHeading(QLabel):
    """The node's name, type, shape and value range; a click shows the node on the canvas."""

    clicked = Signal(str)

    def __init__(self, node_id: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.node_id = node_id
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Show this node on the canvas")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.node_id)


def class_score_nodes(activations: list[Any], class_names: list[str] | None) -> set[str]:
    """The node ids whose values are the class scores: walking back from the Output, every vector of
    one value per class (the last Dense, a Softmax after it, the Output itself) gets the class names
    under its bars."""
    if not class_names:
        return set()
    n = len(class_names)
    out: set[str] = set()
    for act in reversed(activations):
        if act.kind != "vector" or act.value.size != n:
            if out:
                break
            continue
        out.add(act.node_id)
    return out


def activation_widget(act: Any, class_names: list[str] | None, vocab: list[str] | None,
                      class_scores: bool | None = None) -> QWidget:
    """The drawing that suits an activation's shape; ``class_scores`` labels a vector's bars with
    the class names (by default only an Output's)."""
    value = act.value
    if value.size > MAX_DRAWN and act.kind not in ("image", "vector"):     # those draw a bounded part
        label = QLabel(f"{value.size:,} values: too many to draw; {value_text(value)}")
        label.setProperty("role", "muted")
        return label
    if act.kind == "image":
        if act.type_id == "Input":
            picture = QLabel()
            picture.setPixmap(scaled_pixmap(sample_image(value), 112))
            return picture
        return ImageGrid(value)
    if act.kind == "sequence":
        return HeatMap(value)
    if act.kind == "tokens":
        label = QLabel(token_text(value, vocab, 120))
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label
    if act.kind == "vector":
        scores = act.type_id == "Output" if class_scores is None else class_scores
        labels = class_names if scores and class_names and len(class_names) == value.size else None
        top = int(np.argmax(value)) if labels else None
        return BarsView(value, labels, top)
    if act.kind == "scalar":
        return QLabel(f"{float(value):.4g}")
    flat = value.reshape(value.shape[0], -1) if value.ndim > 1 else value
    return HeatMap(flat) if flat.ndim == 2 else BarsView(flat)


class TraceView(AnalysisView):
    title = "Trace a sample"
    needs_weights = True

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.result: Any = None
        self.dataset: Any = None
        self.rows: list[QWidget] = []
        self.headings: list[NodeHeading] = []
        self.picker = SamplePicker()
        self.picker.indexChanged.connect(lambda _i: self.refresh())
        self.prediction = QLabel()
        self.notes = QLabel()
        self.notes.setProperty("role", "muted")
        self.notes.setWordWrap(True)
        self.list = QWidget()
        self.list_layout = QVBoxLayout(self.list)
        self.list_layout.setContentsMargins(4, 4, 12, 4)
        self.list_layout.setSpacing(6)
        self.list_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.list)
        self.scroll.setWidgetResizable(True)
        self.body_layout.addWidget(self.picker)
        self.body_layout.addWidget(self.prediction)
        self.body_layout.addWidget(self.notes)
        self.body_layout.addWidget(self.scroll, 1)
        self.resize(820, 860)

    def not_applicable(self, network: Any) -> str:
        inputs = network.inputs()
        if len(inputs) == 1:
            return ""
        if not inputs:
            return (f"Trace follows one validation sample from an Input node, and '{network.name}' has none: add an "
                    "Input node (Tab, then type Input).")
        names = ", ".join(f"'{n.name}'" for n in inputs)
        if self.recipe() == "gan":
            return (f"Trace follows one validation sample through a network with one Input. '{network.name}' is a "
                    f"GAN with {len(inputs)} Inputs ({names}): noise feeds the generator and the data feeds the "
                    "discriminator, so no single sample runs through all of it. The training panel's Samples tab "
                    "shows what the generator makes.")
        return (f"Trace follows one validation sample through a network with one Input, and '{network.name}' has "
                f"{len(inputs)} ({names}); a data set feeds exactly one. Trace a network with a single Input.")

    def clear_result(self) -> None:
        for row in self.rows:
            row.deleteLater()
        self.rows, self.headings = [], []
        self.prediction.setText("")
        self.notes.setText("")

    def start(self, network: str, weights: dict[str, Any] | None) -> None:
        index = self.picker.index

        def compute(project: Any, dataset: Any, sample: Any) -> Any:
            from engine.analysis import trace

            return trace(project, network, weights, sample)

        self.run_job(self.sample_job(index, compute), self._show, f"Tracing sample {index}…")

    def _show(self, outcome: tuple[Any, tuple[int, Any]]) -> None:
        dataset, index, result = self.take_sample_result(outcome)
        self.sample_index = index
        self.notes.setText(" ".join(result.notes))
        self.notes.setVisible(bool(result.notes))
        class_names = dataset.class_names or dataset.vocab
        self.prediction.setText(self._prediction_text(result, class_names))
        for row in self.rows:
            row.deleteLater()
        self.rows, self.headings = [], []
        scores = class_score_nodes(result.activations, class_names)
        for act in result.activations:
            row = QFrame()
            row.setFrameShape(QFrame.Shape.StyledPanel)
            layout = QVBoxLayout(row)
            layout.setContentsMargins(8, 6, 8, 6)
            heading = NodeHeading(act.node_id, f"<b>{act.name}</b> &nbsp;<span>{act.type_id}</span> &nbsp;"
                                               f"{_shape_text(act.shape)} &nbsp;<small>{value_text(act.value)}</small>")
            heading.clicked.connect(self.controller.select_node)
            layout.addWidget(heading)
            layout.addWidget(activation_widget(act, class_names, dataset.vocab, act.node_id in scores))
            self.list_layout.insertWidget(self.list_layout.count() - 1, row)
            self.rows.append(row)
            self.headings.append(heading)

    @staticmethod
    def _prediction_text(result: Any, class_names: list[str] | None) -> str:
        if len(result.outputs) != 1:
            return ""
        (name, out), = result.outputs.items()
        out = np.asarray(out)
        if out.ndim == 1 and class_names and out.size == len(class_names):
            top = int(np.argmax(out))
            e = np.exp(out - out.max())
            return f"Output '{name}': predicts <b>{class_names[top]}</b> (softmax {e[top] / e.sum():.2f})"
        return f"Output '{name}': {value_text(out)}"
