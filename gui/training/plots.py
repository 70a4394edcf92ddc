"""Live training curves with pyqtgraph: one PlotItem per metric group (loss, the main metric,
learning rate, gradient norms per layer), one curve per series, redrawn from a timer at no more
than 30 Hz however fast the events come, and only the curves whose data moved on.

Curves use ``setClipToView(True)`` and automatic peak downsampling, so a run of a million steps
draws as fast as one of a hundred. Past runs can be laid over the live one in a dimmer, dashed pen.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from gui import theme
from gui.training.curves import GROUPS, STEP_SERIES, STEP_SUFFIX, RunCurves, Series, loss_label
from gui.training.plot_layout import PlotArranger

log = logging.getLogger(__name__)

#: redraw at most this often (the issue's cap); the timer is a precise one, and the interval is
#: checked again when it fires, so a burst of events can never push the rate over it
MAX_REDRAW_HZ = 30.0
MIN_REDRAW_INTERVAL = 1.0 / MAX_REDRAW_HZ
#: new curves (with their legend lines) made in one frame; making one costs a few milliseconds
MAX_NEW_CURVES_PER_FRAME = 2
#: frames are at least this many paint durations apart: painting takes at most ~1/3 of the GUI thread
PAINT_SHARE_FACTOR = 3.0

#: width of the value axes in pixels ("0.0015", "1e+03" and "0.25" all fit)
AXIS_WIDTH = 46
#: the row of a PlotItem's own grid layout under its x axis, where the legend goes
LEGEND_ROW = 4
#: a plot shorter than this has its legend at its right instead (below, it would squash the curves
#: into a line), in the column after the right axis, on the value-box row
SIDE_LEGEND_HEIGHT = 170
SIDE_LEGEND_CELL = (2, 3)
TITLES = {"loss": "Loss", "metric": "Accuracy", "lr": "Learning rate", "grad": "Gradient norm per layer"}
#: Tableau-like hues: distinguishable, readable on light and dark backgrounds
PALETTE = ("#3d7be0", "#e0733a", "#2f9e6e", "#d64f79", "#8a5cd6", "#d49a2a", "#1f9ea8", "#7c8896",
           "#b05bb8", "#6f9a2c", "#c94f4f")
SERIES_COLORS = {STEP_SERIES: "#9db8e8", "train": "#3d7be0", "validation": "#e0733a",
                 "learning rate": "#2f9e6e", "global": None, "g_loss": "#8a5cd6", "d_loss": "#1f9ea8"}
#: per-step curves of a named loss: its colour, this transparent (they are noisy and many)
STEP_ALPHA = 100


def _is_steps(name: str) -> bool:
    return name.endswith(STEP_SUFFIX)


def _series_color(group: str, name: str, index: int) -> QColor:
    if group == "grad":
        if name == "global":
            return QColor(theme.current().palette.color(QPalette.ColorRole.Text))
        return QColor(PALETTE[index % len(PALETTE)])
    if _is_steps(name) and name != STEP_SERIES:
        base = name[:-len(STEP_SUFFIX)]
        color = QColor(SERIES_COLORS.get(base) or PALETTE[index % len(PALETTE)])
        color.setAlpha(STEP_ALPHA)
        return color
    color = SERIES_COLORS.get(name)
    return QColor(color) if color else QColor(PALETTE[index % len(PALETTE)])


class LogAxis(pg.AxisItem):
    """A log axis labelled at 1-2-5 steps (pyqtgraph labels every minor tick of a short range,
    which piles the labels on top of each other)."""

    def logTickValues(self, minVal: float, maxVal: float, size: float, stdTicks: list) -> list:  # noqa: N802
        if not (math.isfinite(minVal) and math.isfinite(maxVal)) or maxVal <= minVal:
            return [(None, [])]
        room = max(2, int(size // 28))        # labels that fit along the axis
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        for mantissas in ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)):
            values = [d + math.log10(m) for d in range(lo, hi + 1) for m in mantissas]
            inside = [v for v in values if minVal <= v <= maxVal]
            if len(inside) >= 3 or mantissas[-1] == 7.0:
                break
        while len(inside) > room:
            inside = inside[::2]
        return [(None, inside)]

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [f"{10 ** v * scale:.3g}" for v in values]


def compact_number(value: float, digits: int) -> str:
    """``value`` in as few characters as a narrow axis has: "5e-4", "1.5e-3", "2e+5", "0"."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent):+d}".replace("e+", "e")


class CompactAxis(pg.AxisItem):
    """A value axis whose labels fit its fixed width: tiny values (a learning rate of 0.0005)
    and huge ones are written as "5e-4" instead of "0.0005", which pyqtgraph would leave out
    because it does not fit, and which left the learning-rate plot with a lone "0"."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        shown = [v * scale for v in values]
        big = max((abs(v) for v in shown), default=0.0)
        if self.logMode or big == 0 or 1e-2 <= big < 1e4:
            return super().tickStrings(values, scale, spacing)
        for digits in range(4):        # the fewest digits that still tell every label apart
            strings = [compact_number(v, digits) for v in shown]
            if len(set(strings)) == len(strings):
                return strings
        return strings


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k that is at least ``value``."""
    exponent = math.floor(math.log10(value))
    for mantissa in (1, 2, 5, 10):
        candidate = mantissa * 10.0 ** exponent
        if candidate >= value:
            return candidate
    return 10.0 ** (exponent + 1)


class _TimedLayoutWidget(pg.GraphicsLayoutWidget):
    """Remembers how long its paints take (smoothed), so redraws can be paced to the machine."""

    def __init__(self) -> None:
        super().__init__()
        self.paint_seconds = 0.0

    def paintEvent(self, event: object) -> None:  # noqa: N802
        start = time.perf_counter()
        super().paintEvent(event)
        spent = time.perf_counter() - start
        self.paint_seconds = spent if not self.paint_seconds else 0.8 * self.paint_seconds + 0.2 * spent


@dataclass
class _Curve:
    item: pg.PlotDataItem
    series: Series
    drawn_version: int = -1


@dataclass
class _Overlay:
    label: str
    curves: RunCurves
    items: list[pg.PlotDataItem] = field(default_factory=list)


class CurvePlots(QWidget):
    """The four plots of a run, plus overlays of earlier runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.widget = _TimedLayoutWidget()
        self.widget.ci.setContentsMargins(4, 4, 4, 4)
        self.widget.ci.setSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)
        self.plots: dict[str, pg.PlotItem] = {}
        self.legends: dict[str, pg.LegendItem] = {}
        for group in GROUPS:
            axes = {"left": LogAxis("left") if group == "grad" else CompactAxis("left")}
            plot = pg.PlotItem(axisItems=axes)
            plot.setTitle(TITLES[group], size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.15)
            for side in ("left", "bottom"):      # grid lines at labelled ticks only: half the paint cost
                plot.getAxis(side).setStyle(maxTickLevel=0)
            # a fixed-width value axis: labels changing width ("0.5" -> "0.25") would otherwise
            # re-lay out the whole grid, and every plot would repaint for one plot's new data
            plot.getAxis("left").setWidth(AXIS_WIDTH)
            plot.getViewBox().sigRangeChangedManually.connect(self._manual_range)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            plot.getAxis("bottom").setLabel("epoch", **{"font-size": "8pt"})
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            legend = self._legend_below(plot)
            self.plots[group] = plot
            self.legends[group] = legend
            legend.setVisible(False)
        self.plots["grad"].setLogMode(y=True)
        self.curves: RunCurves | None = None
        #: row of four, 2×2 grid, or one plot at a time behind tabs (gui.training.plot_layout)
        self.arranger = PlotArranger(self.widget, self.plots, GROUPS, self._title)
        layout.insertWidget(0, self.arranger.tab_bar)
        self.arranger.arrange(self.width(), self.height())
        self._items: dict[tuple[str, str], _Curve] = {}
        #: emptied items of the previous run, kept for reuse by the next one
        self._spare: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.overlays: dict[str, _Overlay] = {}
        self._last_redraw = -1e9
        self._last_group = GROUPS[-1]
        self._user_x = False
        self._x_extent: dict[str, float] = {}
        self._drawn_metric: str | None = None
        #: number of redraws that pushed data (tests check the 30 Hz cap with it)
        self.redraw_count = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._redraw_due)
        self.apply_theme()

    # -- layout -------------------------------------------------------------------------------------
    def _legend_below(self, plot: pg.PlotItem) -> pg.LegendItem:
        """A legend under the plot's x axis, in the plot's own layout: inside the data area it
        sat on the newest points (where every curve ends). Its entries go side by side, as many
        to a row as the plot's width takes (see ``_fit_legend``)."""
        legend = pg.LegendItem(offset=None, labelTextSize="7.5pt", verSpacing=-6, horSpacing=4, colCount=1)
        plot.layout.addItem(legend, LEGEND_ROW, 1)
        plot.layout.setRowStretchFactor(LEGEND_ROW, 0)
        plot.legend = legend        # named curves added to the plot join it, as addLegend's would
        plot.geometryChanged.connect(lambda p=plot, lg=legend: self._fit_legend(p, lg))
        return legend

    @staticmethod
    def _fit_legend(plot: pg.PlotItem, legend: pg.LegendItem) -> None:
        if not legend.items:
            return
        # where it goes depends on the plot's height only, which moving it does not change
        side = plot.geometry().height() < SIDE_LEGEND_HEIGHT
        if side != bool(getattr(legend, "dc_side", False)):
            legend.dc_side = side
            plot.layout.removeItem(legend)
            plot.layout.addItem(legend, *(SIDE_LEGEND_CELL if side else (LEGEND_ROW, 1)))
            plot.layout.setColumnSpacing(SIDE_LEGEND_CELL[1] - 1, 6 if side else 0)   # clear of the data
            # at the side it keeps its own height, at the top, instead of spreading its lines out
            legend.setSizePolicy(QSizePolicy.Policy.Preferred,
                                 QSizePolicy.Policy.Maximum if side else QSizePolicy.Policy.Preferred)
            plot.layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        if side:
            if legend.columnCount != 1:
                legend.setColumnCount(1)
            return
        # the label's text, not the label (which stretches to its cell)
        widest = max(sample.boundingRect().width() + label.item.boundingRect().width() + 12
                     for sample, label in legend.items)
        columns = max(1, min(len(legend.items), int(plot.vb.width() // max(widest, 1.0))))
        if columns != legend.columnCount:
            legend.setColumnCount(columns)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.arranger.arrange(self.width(), self.height())

    def apply_theme(self) -> None:
        t = theme.current()
        pal = t.palette
        self.widget.setBackground(pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.Text)
        muted = t.muted_text
        for group, plot in self.plots.items():
            plot.setTitle(self._title(group), size="9pt", color=text.name())
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(muted))
                axis.setTextPen(pg.mkPen(muted))
            legend = self.legends[group]
            legend.setLabelTextColor(text)
            # outside the data it needs no backdrop: a frame there would only be clutter
            legend.setBrush(pg.mkBrush(None))
            legend.setPen(pg.mkPen(None))
        for (group, name), curve in self._items.items():
            index = list(self.curves.groups[group]).index(name) if self.curves else 0
            curve.item.setPen(self._pen(group, name, index))
        self.arranger.refresh_titles()      # setTitle shows a title the tabbed view hides

    def _title(self, group: str) -> str:
        if group == "metric" and self.curves is not None:
            return self.curves.metric_title
        return TITLES[group]

    # -- what is shown ------------------------------------------------------------------------------
    def set_curves(self, curves: RunCurves | None) -> None:
        """Show another run's curves (a new live run, or a past one reopened).

        The plot items of the previous run are emptied and kept for reuse: the next run of the
        same network has the same curves, and making them again (with their legend lines) would
        cost the window a noticeable pause at every Start."""
        for key, curve in self._items.items():
            curve.item.setData([], [])
            self._spare[key] = curve.item
        self._items.clear()
        self.curves = curves
        self._drawn_metric = None
        self._user_x = False
        self._x_extent.clear()
        for plot in self.plots.values():
            plot.enableAutoRange()
        self.redraw(force=True)

    def _remove_item(self, group: str, item: pg.PlotDataItem) -> None:
        self.plots[group].removeItem(item)
        self.legends[group].removeItem(item)
        self._legend_visibility(group)

    def _legend_visibility(self, group: str) -> None:
        """An empty legend would still draw its frame."""
        legend = self.legends[group]
        legend.setVisible(bool(legend.items))
        self._fit_legend(self.plots[group], legend)

    def add_overlay(self, key: str, label: str, curves: RunCurves) -> None:
        """Draw a past run's curves in a dimmer, dashed pen (per-step noise left out)."""
        self.remove_overlay(key)
        overlay = _Overlay(label, curves)
        for group in GROUPS:
            for index, (name, series) in enumerate(curves.groups[group].items()):
                if not len(series) or _is_steps(name):
                    continue
                if group == "grad" and name != "global":
                    continue    # one global norm per past run keeps the plot readable
                if group == "metric" and self.curves is not None and curves.metric != self.curves.metric:
                    continue
                color = _series_color(group, name, index)
                color.setAlpha(110)
                pen = pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine)
                # one legend line per past run (its dashed validation loss), not one per curve
                legend_name = f"{label} (dashed)" if (group, name) == ("loss", "validation") else None
                item = pg.PlotDataItem(pen=pen, name=legend_name)
                item.setZValue(-10)
                self.plots[group].addItem(item)     # in its view first: clipping asks the view
                self._legend_visibility(group)
                item.setClipToView(True)
                item.setDownsampling(auto=True, method="peak")
                x, y = series.x.copy(), series.y.copy()
                if group == "grad":
                    keep = y > 0
                    x, y = x[keep], y[keep]
                item.setData(x, y)
                overlay.items.append(item)
        self.overlays[key] = overlay

    def remove_overlay(self, key: str) -> None:
        overlay = self.overlays.pop(key, None)
        if overlay is None:
            return
        for item in overlay.items:
            for group, plot in self.plots.items():
                if item in plot.listDataItems():
                    self._remove_item(group, item)

    def clear_overlays(self) -> None:
        for key in list(self.overlays):
            self.remove_overlay(key)

    # -- drawing ------------------------------------------------------------------------------------
    #
    # One plot is redrawn per frame, round robin among those with new data: painting one plot
    # costs a quarter of painting four, so the window never waits long for a frame, and each
    # curve still gets several frames a second. Frames are at least 1/30 s apart, and further
    # when painting is slow (a slow machine gives the plots a fixed share of its time, not more).

    def request_redraw(self) -> None:
        """Data changed: redraw soon, but never more often than MAX_REDRAW_HZ."""
        if self._timer.isActive():
            return
        wait = self._last_redraw + self._interval() - time.monotonic()
        self._timer.start(max(0, int(np.ceil(wait * 1000))))

    def _interval(self) -> float:
        return max(MIN_REDRAW_INTERVAL, PAINT_SHARE_FACTOR * self.widget.paint_seconds)

    def _redraw_due(self) -> None:
        wait = self._last_redraw + self._interval() - time.monotonic()
        if wait > 0:           # a timer may fire a hair early: never go over the cap
            self._timer.start(max(1, int(np.ceil(wait * 1000))))
            return
        self.redraw()

    def _stale_groups(self) -> list[str]:
        curves = self.curves
        if curves is None:
            return []
        stale = []
        for group in GROUPS:
            for name, series in curves.groups[group].items():
                curve = self._items.get((group, name))
                if len(series) and (curve is None or curve.drawn_version != series.version):
                    stale.append(group)
                    break
        return stale

    @property
    def up_to_date(self) -> bool:
        """Every curve shows all of its data (no redraw pending)."""
        return not self._stale_groups()

    def redraw(self, force: bool = False) -> None:
        """Push new data into the plots: every stale plot with ``force``, else the next one in turn."""
        curves = self.curves
        if curves is None:
            self._last_redraw = time.monotonic()
            return
        if not force and time.monotonic() - self._last_redraw < MIN_REDRAW_INTERVAL:
            self.request_redraw()
            return
        if curves.metric != self._drawn_metric:
            self.plots["metric"].setTitle(self._title("metric"), size="9pt",
                                          color=theme.current().palette.color(QPalette.ColorRole.Text).name())
            self._drawn_metric = curves.metric
            self.arranger.refresh_titles()
        stale = self._stale_groups()
        if not force and stale:
            after = [g for g in stale if GROUPS.index(g) > GROUPS.index(self._last_group)]
            stale = [(after or stale)[0]]
        for group in stale:
            self._draw_group(group, curves)
            self._last_group = group
            self._drop_spares(group, curves)
        self._last_redraw = time.monotonic()
        if stale:
            self.redraw_count += 1
        if self._stale_groups():
            self.request_redraw()

    def _draw_group(self, group: str, curves: RunCurves) -> None:
        created = 0
        for index, (name, series) in enumerate(curves.groups[group].items()):
            key = (group, name)
            curve = self._items.get(key)
            if curve is None:
                if not len(series):
                    continue
                if created == MAX_NEW_CURVES_PER_FRAME:
                    continue        # a many-layer network: the rest get their curves in later frames
                curve = self._items[key] = self._make_curve(group, name, index, series, curves)
                created += 1
            if curve.drawn_version == series.version:
                continue
            x, y = series.x, series.y
            if group == "grad":    # log axis: keep it to positive values
                keep = y > 0
                if not keep.all():
                    x, y = x[keep], y[keep]
            curve.item.setData(x, y)
            curve.drawn_version = series.version
            if group == "lr":
                self._range_lr(y)
        self._range_x(group, curves)

    def release_spares(self) -> None:
        """Drop every kept item the current run did not reuse (it ended, or there is no run)."""
        for (group, _name), item in list(self._spare.items()):
            self._remove_item(group, item)
        self._spare.clear()

    def _drop_spares(self, group: str, curves: RunCurves) -> None:
        """Once a run has finished an epoch every kind of curve it has exists: the previous run's
        items it did not reuse (another network's layers) go."""
        if not curves.epochs_done:
            return
        for key in [k for k in self._spare if k[0] == group and k[1] not in curves.groups[group]]:
            self._remove_item(group, self._spare.pop(key))

    def _range_x(self, group: str, curves: RunCurves) -> None:
        """While a run grows, the x axis spans the planned epochs (or a round number ahead of the
        data for very long runs), so the curves grow into a still frame instead of the axes
        being rebuilt at every frame. Zooming with the mouse takes over until the next run."""
        plot = self.plots[group]
        if self._user_x or not curves.planned_epochs:
            return
        done = max((s.x[-1] for s in curves.groups[group].values() if len(s)), default=0.0)
        extent = float(curves.planned_epochs)
        if extent > 50:
            extent = min(extent, _nice_ceiling(max(done * 1.25, 1.0)))
        if self._x_extent.get(group) != extent:
            self._x_extent[group] = extent
            plot.setXRange(0.0, extent, padding=0.02)

    def _manual_range(self) -> None:
        self._user_x = True

    def _range_lr(self, y: np.ndarray) -> None:
        """A constant learning rate would sit in the middle of a ±0.5 range around it: show it from
        zero instead, so it reads as the value it is."""
        plot = self.plots["lr"]
        if not len(y):
            return
        lo, hi = float(y.min()), float(y.max())
        if hi - lo <= 1e-6 * max(abs(hi), 1e-30):
            plot.setYRange(0.0, hi * 1.25 if hi > 0 else 1.0, padding=0)
        else:
            plot.enableAutoRange(axis="y")

    def _pen(self, group: str, name: str, index: int) -> object:
        """Wide pens only for the per-epoch curves (a few points); the per-step ones, which can
        have a million points, are drawn with 1-pixel lines, many times cheaper to paint."""
        color = _series_color(group, name, index)
        if group in ("loss", "metric") and not _is_steps(name):
            return pg.mkPen(color, width=2)
        return pg.mkPen(color, width=1)

    def _make_curve(self, group: str, name: str, index: int, series: Series, curves: RunCurves) -> _Curve:
        label = name
        if group == "grad" and name != "global":
            label = curves.layer_labels.get(name, name)
        elif group == "loss":
            label = loss_label(name)
        spare = self._spare.pop((group, name), None)
        if spare is not None:
            spare.setPen(self._pen(group, name, index))
            legend_label = self.legends[group].getLabel(spare)
            if legend_label is not None and legend_label.text != label:
                legend_label.setText(label)
            return _Curve(spare, series)
        symbol = "o" if group in ("loss", "metric") and not _is_steps(name) else None
        color = _series_color(group, name, index)
        item = pg.PlotDataItem(pen=self._pen(group, name, index), name=label, symbol=symbol, symbolSize=5,
                               symbolPen=None, symbolBrush=color if symbol else None, antialias=True)
        item.setClipToView(True)
        item.setDownsampling(auto=True, method="peak")
        if _is_steps(name):
            item.setZValue(-5)
        self.plots[group].addItem(item)
        self._legend_visibility(group)
        return _Curve(item, series)

    def curve_items(self) -> dict[tuple[str, str], pg.PlotDataItem]:
        return {k: c.item for k, c in self._items.items()}
