"""What the model makes of a few samples as it trains: the newest preview of each kind a recipe sends
(see :class:`engine.events.PreviewSamples`), one section per kind.

- reconstruction: inputs above their reconstructions (images), or small input/output charts (vectors)
- latent: the 2-D latent points coloured by class, with a legend
- generated: a grid of generated images, or generated points over real ones (2-D data)
- forecast: the history, then the true and the predicted continuation
- text: sampled text per epoch, newest first

Previews come once per epoch, so each one redraws only its own section, once. Pictures are painted
from small uint8 arrays (nearest-neighbour, so 8×8 digits stay crisp); the plots are pyqtgraph, like
the curves beside them.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QImage,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.events import PreviewSamples
from gui import theme
from gui.inspector import heading, stacked
from gui.training.samples import (
    KINDS,
    TITLES,
    SampleStore,
    as_array,
    forecast_curves,
    image_shape,
    points,
    to_images,
    value_range,
)

log = logging.getLogger(__name__)

#: hues of classes in the latent plot (the curves' palette)
CLASS_COLORS = ("#3d7be0", "#e0733a", "#2f9e6e", "#d64f79", "#8a5cd6", "#d49a2a", "#1f9ea8", "#7c8896",
                "#b05bb8", "#6f9a2c", "#c94f4f")
FORECAST_COLORS = {"true": "#2f9e6e", "predicted": "#e0733a"}
GENERATED_COLOR = "#d64f79"
#: more classes than this: one colour per class still, but no legend entry each
MAX_LEGEND_CLASSES = 20
#: plots take the height the view has, within these bounds (pixels)
MIN_PLOT_HEIGHT, MAX_PLOT_HEIGHT = 150, 300
#: picture cells stay within these sizes (pixels), whatever the panel's width
MIN_CELL, MAX_CELL = 18, 64


def _text_color() -> QColor:
    return theme.current().palette.color(QPalette.ColorRole.Text)


class _WrappingGrid(QWidget):
    """A grid of cells that wraps to the width it is given, its height following (a scroll area
    around it then scrolls the whole panel, not each grid)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(0)

    def content_height(self) -> int:
        raise NotImplementedError

    def _fit(self) -> None:
        height = self.content_height()
        if self.height() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()


class ImageGrid(_WrappingGrid):
    """Small pictures in a grid whose cells follow the width it is given; optional row labels
    ("input", "output") down the left side."""

    GAP = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images: list[QImage] = []
        self.columns: int | None = None
        self.row_labels: list[str] = []

    @property
    def image_count(self) -> int:
        return len(self.images)

    def set_images(self, images: list[np.ndarray], columns: int | None = None,
                   row_labels: list[str] | None = None) -> None:
        """``columns`` fixes the grid's width in cells (inputs above their reconstructions);
        None fits as many as the width allows."""
        self.images = [_qimage(img) for img in images]
        self.columns = columns
        self.row_labels = list(row_labels or [])
        self._fit()
        self.update()

    def _label_width(self) -> int:
        if not self.row_labels:
            return 0
        return max(self.fontMetrics().horizontalAdvance(t) for t in self.row_labels) + 8

    def _layout(self) -> tuple[int, int, int]:
        """(columns, rows, cell size) for the current width."""
        n = len(self.images)
        if not n:
            return 0, 0, 0
        room = max(1, self.width() - self._label_width())
        if self.columns:
            cols = self.columns
            cell = (room - (cols - 1) * self.GAP) // cols
        else:
            cols = max(1, min(n, (room + self.GAP) // (MAX_CELL // 2 + self.GAP + 8)))
            cell = (room - (cols - 1) * self.GAP) // cols
        cell = int(max(MIN_CELL, min(MAX_CELL, cell)))
        rows = -(-n // cols)
        return cols, rows, cell

    def content_height(self) -> int:
        _cols, rows, cell = self._layout()
        return rows * cell + max(0, rows - 1) * self.GAP

    def paintEvent(self, event: QPaintEvent) -> None:
        cols, _rows, cell = self._layout()
        if not cols:
            return
        t = theme.current()
        painter = QPainter(self)
        left = self._label_width()
        painter.setPen(QPen(t.muted_text))
        for r, text in enumerate(self.row_labels):
            y = r * (cell + self.GAP)
            painter.drawText(QRectF(0, y, left - 6, cell), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             text)
        border = QPen(t.palette.color(QPalette.ColorRole.Mid))
        for i, image in enumerate(self.images):
            r, c = divmod(i, cols)
            rect = QRectF(left + c * (cell + self.GAP), r * (cell + self.GAP), cell, cell)
            painter.drawImage(rect, image)       # no smoothing: 8×8 pixels stay pixels
            painter.setPen(border)
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        painter.end()


def _qimage(img: np.ndarray) -> QImage:
    img = np.ascontiguousarray(img)
    fmt = QImage.Format.Format_Grayscale8 if img.ndim == 2 else QImage.Format.Format_RGB888
    return QImage(img.data, img.shape[1], img.shape[0], img.strides[0], fmt).copy()


class VectorGrid(_WrappingGrid):
    """Non-image reconstructions: one small chart per sample, the input as bars and the
    reconstruction as a line over them, on a shared scale so errors read as gaps."""

    CELL_W, CELL_H, GAP = 120, 54, 6

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inputs: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []

    @property
    def chart_count(self) -> int:
        return len(self.inputs)

    def set_vectors(self, inputs: np.ndarray | None, outputs: np.ndarray | None) -> None:
        n = len(inputs) if inputs is not None else 0
        self.inputs = [inputs[i].reshape(-1) for i in range(n)] if inputs is not None else []
        self.outputs = [outputs[i].reshape(-1) for i in range(min(n, len(outputs)))] if outputs is not None else []
        self._lo, self._hi = value_range(inputs, outputs)
        self._fit()
        self.update()

    def _columns(self) -> int:
        return max(1, (self.width() + self.GAP) // (self.CELL_W + self.GAP))

    def content_height(self) -> int:
        n = len(self.inputs)
        rows = -(-n // self._columns()) if n else 0
        return rows * (self.CELL_H + self.GAP)

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.inputs:
            return
        t = theme.current()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cols = self._columns()
        cell_w = (self.width() - (cols - 1) * self.GAP) / cols
        lo, hi = self._lo, self._hi
        span = hi - lo if hi > lo else 1.0
        bar = QColor(CLASS_COLORS[0])
        bar.setAlpha(120)
        line = QPen(QColor(FORECAST_COLORS["predicted"]), 1.6)
        for i, values in enumerate(self.inputs):
            r, c = divmod(i, cols)
            x0, y0 = c * (cell_w + self.GAP), r * (self.CELL_H + self.GAP)
            box = QRectF(x0, y0, cell_w - 1, self.CELL_H - 1)
            painter.setPen(QPen(t.palette.color(QPalette.ColorRole.Mid)))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box)
            inner = box.adjusted(3, 3, -3, -3)
            n = max(1, len(values))
            step = inner.width() / n
            zero = inner.bottom() - inner.height() * (min(max(0.0, lo), hi) - lo) / span

            def y_of(v: float, inner: QRectF = inner) -> float:
                return inner.bottom() - inner.height() * (float(v) - lo) / span

            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(bar)
            for k, v in enumerate(values):
                top = y_of(v)
                painter.drawRect(QRectF(inner.left() + k * step + 0.5, min(top, zero), max(1.0, step - 1.0),
                                        max(0.5, abs(zero - top))))
            if i < len(self.outputs):
                out = self.outputs[i]
                painter.setPen(line)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                pts = [(inner.left() + (k + 0.5) * step, y_of(v)) for k, v in enumerate(out[:n])]
                for (xa, ya), (xb, yb) in zip(pts, pts[1:], strict=False):
                    painter.drawLine(int(xa), int(ya), int(xb), int(yb))
                if len(pts) == 1:
                    painter.drawEllipse(QRectF(pts[0][0] - 2, pts[0][1] - 2, 4, 4))
        painter.end()


class Legend(QLabel):
    """A legend as a line of text under a plot: it wraps in a narrow panel and never covers the
    points the way a legend inside the plot would."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.entries: list[tuple[str, str, str]] = []

    def set_entries(self, entries: list[tuple[str, str, str]]) -> None:
        """(text, colour, mark) per entry; the mark is "dot", "line" or "dash"."""
        self.entries = list(entries)
        marks = {"dot": "●", "line": "━━", "dash": "╍╍"}
        text = _text_color().name()
        parts = [f"<span style='color:{color}'>{marks.get(mark, '●')}</span>&nbsp;"
                 f"<span style='color:{text}'>{html.escape(name)}</span>" for name, color, mark in self.entries]
        self.setText("&nbsp;&nbsp; ".join(parts))
        self.setVisible(bool(self.entries))

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.entries]


def _plot() -> pg.PlotWidget:
    widget = pg.PlotWidget()
    widget.setFixedHeight(MAX_PLOT_HEIGHT)
    widget.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    item = widget.getPlotItem()
    item.setMenuEnabled(False)
    item.hideButtons()
    item.showGrid(x=True, y=True, alpha=0.15)
    for side in ("left", "bottom"):
        item.getAxis(side).setStyle(maxTickLevel=0)
    item.getAxis("left").setWidth(40)
    return widget


def _theme_plot(widget: pg.PlotWidget) -> None:
    t = theme.current()
    widget.setBackground(t.palette.color(QPalette.ColorRole.Base))
    item = widget.getPlotItem()
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        axis.setPen(pg.mkPen(t.muted_text))
        axis.setTextPen(pg.mkPen(t.muted_text))


class Section(QWidget):
    """A titled part of the view: title, the epoch it shows, the picture, a short caption."""

    def __init__(self, kind: str, body: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.title = heading(TITLES[kind], top_margin=6)
        self.epoch = QLabel()
        self.epoch.setProperty("role", "muted")
        self.caption = QLabel()
        self.caption.setProperty("role", "muted")
        self.caption.setWordWrap(True)
        self.body = body
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.epoch, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(body)
        layout.addWidget(self.caption)
        self.drawn_version = -1
        self.hide()

    def set_epoch(self, epoch: int) -> None:
        self.epoch.setText(f"epoch {epoch}" if epoch > 0 else "")


class SamplesView(QScrollArea):
    """The run's previews, newest of each kind; empty (with a sentence saying what will appear)
    until the first one comes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.store = SampleStore()
        page = QWidget()
        self._page_layout = QVBoxLayout(page)
        self._page_layout.setContentsMargins(10, 4, 10, 10)
        self._page_layout.setSpacing(4)
        self.placeholder = QLabel("Samples of the model appear here after each epoch: reconstructions, "
                                  "generated samples, forecasts or sampled text, as the task has them.")
        self.placeholder.setProperty("role", "muted")
        self.placeholder.setWordWrap(True)
        self._page_layout.addWidget(self.placeholder)

        # reconstruction: pictures, or charts for vectors
        self.recon_images = ImageGrid()
        self.recon_vectors = VectorGrid()
        recon = QWidget()
        lay = QVBoxLayout(recon)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.recon_images)
        lay.addWidget(self.recon_vectors)
        # latent space
        self.latent_plot = _plot()
        self.latent_legend = Legend()
        self.latent_items: list[pg.ScatterPlotItem] = []
        # generated: pictures, or points over the real ones
        self.generated_images = ImageGrid()
        self.generated_plot = _plot()
        self.generated_legend = Legend()
        # the real points on top, small: where generated ones cover them, the mode is covered
        self.real_points = pg.ScatterPlotItem(size=3.5, pen=None)
        self.real_points.setZValue(1)
        self.fake_points = pg.ScatterPlotItem(size=6, pen=None)
        self.generated_plot.addItem(self.real_points)
        self.generated_plot.addItem(self.fake_points)
        generated = QWidget()
        lay = QVBoxLayout(generated)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.generated_images)
        self.generated_points_box = stacked(self.generated_plot, self.generated_legend)
        lay.addWidget(self.generated_points_box)
        # forecast
        self.forecast_plot = _plot()
        self.forecast_plot.getPlotItem().getAxis("bottom").setLabel("time step", **{"font-size": "8pt"})
        self.forecast_legend = Legend()
        self.forecast_items: dict[str, pg.PlotDataItem] = {}
        for name in ("history", "true", "predicted"):
            item = pg.PlotDataItem(antialias=True)
            self.forecast_plot.addItem(item)
            self.forecast_items[name] = item
        # sampled text
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setFrameShape(QFrame.Shape.NoFrame)
        self.text.setMinimumHeight(120)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(8.0, QFont().pointSizeF() - 0.5))
        self.text.setFont(font)

        bodies = {"reconstruction": recon, "latent": stacked(self.latent_plot, self.latent_legend),
                  "generated": generated, "forecast": stacked(self.forecast_plot, self.forecast_legend),
                  "text": self.text}
        self.sections: dict[str, Section] = {}
        for kind in KINDS:
            section = Section(kind, bodies[kind])
            self.sections[kind] = section
            # sampled text takes whatever height is left (the other sections have their own)
            self._page_layout.addWidget(section, 1 if kind == "text" else 0)
        self._page_layout.addStretch(1)
        self.setWidget(page)
        self._plots = (self.latent_plot, self.generated_plot, self.forecast_plot)
        self.apply_theme()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Plots as tall as the view (so one fits without scrolling), within bounds."""
        super().resizeEvent(event)
        height = int(max(MIN_PLOT_HEIGHT, min(MAX_PLOT_HEIGHT, self.viewport().height() - 80)))
        for plot in self._plots:
            if plot.height() != height:
                plot.setFixedHeight(height)

    def _update_stretch(self) -> None:
        """The empty space below the sections goes to the text when it is shown."""
        layout = self._page_layout
        layout.setStretch(layout.count() - 1, 0 if not self.sections["text"].isHidden() else 1)

    # -- the public surface -----------------------------------------------------------------------------
    def clear(self) -> None:
        self.store.clear()
        for section in self.sections.values():
            section.hide()
            section.drawn_version = -1
        self.placeholder.show()
        self._update_stretch()

    def add(self, event: PreviewSamples) -> bool:
        """Show one preview (replacing the previous of its kind); True when it could be drawn."""
        if not self.store.add(event):
            return False
        return self._draw(event.kind)

    def add_all(self, events: Iterable[PreviewSamples]) -> bool:
        """Show several previews (a reopened run's); each kind is drawn once, with its newest."""
        kinds = []
        for event in sorted(events, key=lambda e: e.epoch):
            if self.store.add(event):
                kinds.append(event.kind)
        return any([self._draw(kind) for kind in dict.fromkeys(kinds)])

    def show_previews(self, events: Iterable[PreviewSamples]) -> bool:
        self.clear()
        return self.add_all(events)

    @property
    def has_samples(self) -> bool:
        return any(s.isVisibleTo(self) for s in self.sections.values())

    def shown_kinds(self) -> list[str]:
        return [k for k, s in self.sections.items() if not s.isHidden()]

    def apply_theme(self) -> None:
        for plot in (self.latent_plot, self.generated_plot, self.forecast_plot):
            _theme_plot(plot)
        for kind in ("latent", "generated", "forecast", "text"):
            if kind in self.store.latest:
                self._draw(kind)
        self.recon_images.update()
        self.recon_vectors.update()
        self.generated_images.update()

    # -- drawing ------------------------------------------------------------------------------------
    def _draw(self, kind: str) -> bool:
        event = self.store.latest.get(kind)
        section = self.sections[kind]
        if event is None:
            return False
        draw = {"reconstruction": self._draw_reconstruction, "latent": self._draw_latent,
                "generated": self._draw_generated, "forecast": self._draw_forecast, "text": self._draw_text}[kind]
        try:
            caption = draw(event)
        except Exception:       # a preview must never take the panel down
            log.exception("cannot draw the %s preview", kind)
            caption = None
        if caption is None:
            section.hide()
            self._update_stretch()
            return False
        section.caption.setText(caption)
        section.caption.setVisible(bool(caption))
        section.set_epoch(event.epoch)
        section.drawn_version = self.store.versions.get(kind, 0)
        section.show()
        self.placeholder.hide()
        self._update_stretch()
        return True

    def _draw_reconstruction(self, event: PreviewSamples) -> str | None:
        data = event.data
        inputs, outputs = as_array(data.get("inputs")), as_array(data.get("outputs"))
        if inputs is None or not inputs.size:
            return None
        shape = image_shape(data.get("image_shape"))
        if shape is not None:
            k = len(inputs)
            # one scale per sample, shared by the input and its reconstruction, so they compare
            ins: list[np.ndarray] = []
            outs: list[np.ndarray] = []
            for i in range(k):
                lo, hi = value_range(inputs[i])
                ins += to_images(inputs[i], shape, lo, hi)
                if outputs is not None and i < len(outputs):
                    outs += to_images(outputs[i], shape, lo, hi)
            if len(ins) != k:
                shape = None
            else:
                self.recon_vectors.set_vectors(None, None)
                self.recon_vectors.hide()
                self.recon_images.show()
                self.recon_images.set_images(ins + outs, columns=k,
                                             row_labels=["input", "output"] if outs else ["input"])
                return f"{k} validation samples (top) and what the network makes of them (below)."
        self.recon_images.set_images([])
        self.recon_images.hide()
        self.recon_vectors.show()
        self.recon_vectors.set_vectors(inputs.reshape(len(inputs), -1),
                                       outputs.reshape(len(outputs), -1) if outputs is not None else None)
        return f"{len(inputs)} validation samples: input as bars, reconstruction as the line."

    def _draw_latent(self, event: PreviewSamples) -> str | None:
        pts = points(event.data.get("points"))
        if pts is None:
            return None
        labels = event.data.get("labels")
        names = event.data.get("class_names")
        plot = self.latent_plot
        for item in self.latent_items:
            plot.removeItem(item)
        self.latent_items.clear()
        raw = as_array(event.data.get("points"))
        label_array = np.asarray(labels, dtype=object) if isinstance(labels, list | tuple) else None
        if label_array is not None and raw is not None and len(label_array) == len(raw):
            keep = np.isfinite(raw).all(axis=1) if raw.ndim == 2 else np.ones(len(raw), dtype=bool)
            label_array = label_array[keep]
        else:
            label_array = None
        groups: list[tuple[str, np.ndarray]] = []
        if label_array is not None:
            classes = sorted({v for v in label_array.tolist()}, key=lambda v: (str(type(v)), v))
            for value in classes:
                name = str(value)
                if isinstance(names, list | tuple) and isinstance(value, int) and 0 <= value < len(names):
                    name = str(names[value])
                groups.append((name, pts[label_array == value]))
        else:
            groups.append(("samples", pts))
        entries = []
        for i, (name, group) in enumerate(groups):
            color = QColor(CLASS_COLORS[i % len(CLASS_COLORS)])
            entries.append((name, color.name(), "dot"))
            color.setAlpha(190)
            item = pg.ScatterPlotItem(group[:, 0], group[:, 1], size=6, pen=None, brush=pg.mkBrush(color))
            plot.addItem(item)
            self.latent_items.append(item)
        self.latent_legend.set_entries(entries if 1 < len(groups) <= MAX_LEGEND_CLASSES else [])
        plot.getPlotItem().enableAutoRange()
        by = f", coloured by class ({len(groups)})" if len(groups) > 1 else ""
        return f"{len(pts)} validation samples at their 2-D latent code{by}."

    def _draw_generated(self, event: PreviewSamples) -> str | None:
        data = event.data
        samples = as_array(data.get("samples"))
        if samples is None or not samples.size:
            return None
        shape = image_shape(data.get("image_shape"))
        if shape is not None:
            images = to_images(samples, shape)
            if images:
                self.generated_points_box.hide()
                self.generated_images.show()
                self.generated_images.set_images(images)
                return f"{len(images)} samples from the generator."
        flat = samples.reshape(len(samples), -1)
        width = flat.shape[1]
        if width < 2:
            return None
        # neither pictures nor points: the first two values of each sample, said so
        flat = flat[:, :2]
        self.generated_images.set_images([])
        self.generated_images.hide()
        self.generated_points_box.show()
        real = points(data.get("real"))
        muted = QColor(_text_color())
        muted.setAlpha(150)
        self.real_points.setData(*(real.T if real is not None else ([], [])), brush=pg.mkBrush(muted), pen=None)
        fake = QColor(GENERATED_COLOR)
        fake.setAlpha(150)
        ok = flat[np.isfinite(flat).all(axis=1)]
        self.fake_points.setData(ok[:, 0], ok[:, 1], brush=pg.mkBrush(fake), pen=None)
        entries = [("real data", QColor(_text_color()).name(), "dot")] if real is not None and len(real) else []
        self.generated_legend.set_entries(entries + [("generated", QColor(GENERATED_COLOR).name(), "dot")])
        self.generated_plot.getPlotItem().enableAutoRange()
        over = f" over {len(real)} real ones" if real is not None and len(real) else ""
        which = f" (the first 2 of their {width} values)" if width > 2 else ""
        return f"{len(ok)} generated points{which}{over}."

    def _draw_forecast(self, event: PreviewSamples) -> str | None:
        curves = forecast_curves(event.data)
        if not curves:
            return None
        history_color = QColor(_text_color())
        pens = {"history": pg.mkPen(history_color, width=1.6),
                "true": pg.mkPen(QColor(FORECAST_COLORS["true"]), width=2),
                "predicted": pg.mkPen(QColor(FORECAST_COLORS["predicted"]), width=2,
                                      style=Qt.PenStyle.DashLine)}
        entries = []
        for name, item in self.forecast_items.items():
            if name in curves:
                x, y = curves[name]
                item.setData(x, y, pen=pens[name])
                item.show()
                entries.append((name, pens[name].color().name(), "dash" if name == "predicted" else "line"))
            else:
                item.setData([], [])
                item.hide()
        self.forecast_legend.set_entries(entries)
        self.forecast_plot.getPlotItem().enableAutoRange()
        caption = "One validation series: what the network saw, then the true and the predicted values."
        if "true" in curves and "predicted" in curves:
            _, yt = curves["true"]
            _, yp = curves["predicted"]
            n = min(len(yt), len(yp))
            xh = curves.get("history", (np.zeros(0), None))[0]
            # a continuation that follows the history shares its first point (the last seen value)
            start = 1 if len(xh) and curves["true"][0][0] == xh[-1] else 0
            if n > start:
                mse = float(np.mean((yt[start:n] - yp[start:n]) ** 2))
                caption += f" Squared error here: {mse:.3g}."
        return caption

    def _draw_text(self, _event: PreviewSamples) -> str | None:
        entries = self.store.texts
        if not entries:
            return None
        t = theme.current()
        muted = t.muted_text.name()
        text_color = _text_color().name()
        accent = QColor(t.accent).name()
        blocks = []
        for entry in entries:
            lines = [f"<div style='color:{accent}; font-weight:600; margin-top:6px'>Epoch {entry.epoch}</div>"]
            for sample in entry.samples:
                body = sample
                prompt_html = ""
                if entry.prompt and sample.startswith(entry.prompt):
                    body = sample[len(entry.prompt):]
                    prompt_html = f"<span style='color:{muted}'>{_pre(entry.prompt)}</span>"
                lines.append(f"<div style='color:{text_color}; margin-bottom:4px; white-space:pre-wrap'>"
                             f"{prompt_html}{_pre(body)}</div>")
            blocks.append("".join(lines))
        self.text.setHtml("".join(blocks))
        if entries[0].prompt:
            return "The prompt (grey), then what the model wrote after it; newest epoch first."
        return "Text sampled from the model, newest epoch first."

    @property
    def text_plain(self) -> str:
        return self.text.toPlainText()


def _pre(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")
