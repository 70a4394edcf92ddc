"""How the four training plots share the space they get: one row of four in a wide and short
strip (a bottom dock on a big screen), a 2×2 grid when each plot still gets a readable size, and
otherwise one plot at a time behind a tab bar.

Squeezing four plots into a small dock (a 1024×700 screen, a narrow splitter pane) gave clipped
axes and legends lying over the curves; one readable plot with its siblings a click away is
better than four that cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import pyqtgraph as pg
from PySide6.QtWidgets import QTabBar

Arrangement = Literal["row", "grid", "tabs"]

#: a plot narrower or shorter than this cannot show its axes, its title and a curve legibly
MIN_PLOT_WIDTH = 240
MIN_PLOT_HEIGHT = 150
#: in one row, where each plot has the whole height, a plot may be a little narrower
MIN_ROW_PLOT_WIDTH = 200
#: a strip this much wider than tall gets the four plots in one row
ROW_ASPECT = 3.2
#: the height of a plot's title row (pyqtgraph's own)
TITLE_HEIGHT = 30


def choose_arrangement(width: int, height: int, count: int = 4) -> Arrangement:
    """The arrangement for ``count`` plots in ``width`` × ``height`` pixels."""
    if count <= 1:
        return "grid"
    height = max(1, height)
    if width / height > ROW_ASPECT and width >= count * MIN_ROW_PLOT_WIDTH and height >= MIN_PLOT_HEIGHT:
        return "row"
    columns = 2
    rows = -(-count // columns)
    if width >= columns * MIN_PLOT_WIDTH and height >= rows * MIN_PLOT_HEIGHT:
        return "grid"
    return "tabs"


class PlotArranger:
    """Places the plots of one :class:`pg.GraphicsLayoutWidget`; owns the tab bar of the tabbed
    view (the caller puts :attr:`tab_bar` above the plots and calls :meth:`arrange` on resize)."""

    def __init__(self, layout_widget: pg.GraphicsLayoutWidget, plots: dict[str, pg.PlotItem],
                 order: Sequence[str], title: Callable[[str], str]) -> None:
        self.layout_widget = layout_widget
        self.plots = plots
        self.order = list(order)
        self._title = title
        self.mode: Arrangement | None = None
        self.tab_bar = QTabBar()
        self.tab_bar.setObjectName("plotTabs")
        self.tab_bar.setDocumentMode(True)
        self.tab_bar.setExpanding(False)
        self.tab_bar.setDrawBase(False)
        for group in self.order:
            self.tab_bar.addTab(title(group))
        self.tab_bar.setVisible(False)
        self.tab_bar.currentChanged.connect(self._tab_changed)

    @property
    def current_group(self) -> str:
        """The plot shown in the tabbed view."""
        return self.order[max(0, self.tab_bar.currentIndex())]

    def refresh_titles(self) -> None:
        """Tab labels follow the plots' titles (the metric plot is "Accuracy", "R²", ...); behind
        tabs a plot's own title only repeats its tab's, so it gives its row to the curves."""
        for i, group in enumerate(self.order):
            text = self._title(group)
            if self.tab_bar.tabText(i) != text:
                self.tab_bar.setTabText(i, text)
        shown = self.mode != "tabs"
        for plot in self.plots.values():
            if plot.titleLabel.isVisible() != shown:
                plot.titleLabel.setVisible(shown)
                plot.titleLabel.setMaximumHeight(TITLE_HEIGHT if shown else 0)
                plot.layout.setRowFixedHeight(0, TITLE_HEIGHT if shown else 0)

    def arrange(self, width: int, height: int) -> Arrangement:
        """Lay the plots out for a ``width`` × ``height`` area (the tab bar's height included)."""
        mode = choose_arrangement(width, height, len(self.order))
        if mode != self.mode:
            self.mode = mode
            self.tab_bar.setVisible(mode == "tabs")
            self.refresh_titles()
            self._place()
        return mode

    def _place(self) -> None:
        ci = self.layout_widget.ci
        ci.clear()
        if self.mode == "tabs":
            ci.addItem(self.plots[self.current_group], row=0, col=0)
            return
        columns = len(self.order) if self.mode == "row" else 2
        for i, group in enumerate(self.order):
            ci.addItem(self.plots[group], row=i // columns, col=i % columns)

    def _tab_changed(self, _index: int) -> None:
        if self.mode == "tabs":
            self._place()
