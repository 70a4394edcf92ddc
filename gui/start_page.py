"""The first screen: the templates (a small picture of each network and one line) and the recent
projects, over the editor until one is chosen.

Most people start from a template or a project they had open, not from a blank canvas; showing
those first saves a trip through File ▸ New. The page covers the editor's panels (not the menus or
the toolbar), is dismissed by choosing something, by Esc or by its close button, and comes back
with View ▸ Start Page.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from graph import GraphError, Network
from graph.templates import Template, list_templates
from gui import blocks, icons, theme

log = logging.getLogger(__name__)

PICTURE = QSize(112, 44)
CARD_WIDTH = 250
CARD_HEIGHT = 64
EMPTY_TEMPLATE = ""


def network_picture(net: Network, painter: QPainter, rect: QRectF) -> None:
    """A tiny drawing of a network: nodes as coloured blocks by depth (inputs on the left), edges as
    lines. It is drawn from the template's own graph, so it cannot drift from what opens."""
    order = net.topological_order()
    if not order:
        return
    depth: dict[str, int] = {}
    for node in order:
        parents = [depth[e.source] for e in net.in_edges(node.id) if e.source in depth]
        depth[node.id] = 1 + max(parents) if parents else 0
    columns = max(depth.values()) + 1
    slots: dict[int, list[str]] = {}
    for node in order:
        slots.setdefault(depth[node.id], []).append(node.id)
    rows = max(len(v) for v in slots.values())
    step_x = rect.width() / columns
    step_y = rect.height() / rows
    w = max(3.0, min(16.0, step_x * 0.62))
    h = max(3.0, min(14.0, step_y * 0.7))
    centre: dict[str, QPointF] = {}
    for d, ids in slots.items():
        top = rect.top() + (rect.height() - len(ids) * step_y) / 2
        for i, node_id in enumerate(ids):
            centre[node_id] = QPointF(rect.left() + (d + 0.5) * step_x, top + (i + 0.5) * step_y)
    line = QColor(theme.current().muted_text)
    painter.setPen(QPen(line, 1.2))
    for edge in net.edges:
        if edge.source in centre and edge.target in centre:
            painter.drawLine(centre[edge.source], centre[edge.target])
    painter.setPen(Qt.PenStyle.NoPen)
    for node in order:
        color = QColor(blocks.BLOCK_COLOR) if node.is_block else theme.category_color(node.spec.category)
        painter.setBrush(color)
        c = centre[node.id]
        painter.drawRoundedRect(QRectF(c.x() - w / 2, c.y() - h / 2, w, h), 2, 2)


class TemplateCard(QAbstractButton):
    """One template: its picture, its name and one line (the whole description in the tooltip)."""

    def __init__(self, name: str, title: str, line: str, network: Network | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.title = title
        self.line = line
        self.network = network
        self.setObjectName(f"template_{name or 'empty'}")
        self.setToolTip(f"{title}: {line}")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(CARD_WIDTH, CARD_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover, True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(CARD_WIDTH + 40, CARD_HEIGHT)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        t = theme.current()
        pal = t.palette
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        hovered = self.underMouse() or self.hasFocus()
        p.setPen(QPen(t.accent if hovered else pal.color(QPalette.ColorRole.Mid), 1.5 if hovered else 1))
        p.setBrush(pal.color(QPalette.ColorRole.Base))
        p.drawRoundedRect(frame, 6, 6)
        pic = QRectF(8, (self.height() - PICTURE.height()) / 2, PICTURE.width(), PICTURE.height())
        if self.network is not None:
            network_picture(self.network, p, pic)
        else:
            p.setPen(QPen(t.muted_text, 1, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(pic.adjusted(20, 6, -20, -6), 4, 4)
        text_left = int(pic.right()) + 12
        width = self.width() - text_left - 8
        p.setPen(pal.color(QPalette.ColorRole.Text))
        bold = self.font()
        bold.setBold(True)
        p.setFont(bold)
        metrics = p.fontMetrics()
        p.drawText(text_left, 10 + metrics.ascent(), metrics.elidedText(self.title, Qt.TextElideMode.ElideRight, width))
        p.setFont(self.font())
        p.setPen(t.muted_text)
        metrics = p.fontMetrics()
        p.drawText(text_left, 34 + metrics.ascent(),
                   metrics.elidedText(self.line, Qt.TextElideMode.ElideRight, width))
        p.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.click()
            return
        super().keyPressEvent(event)


def _template_network(template: Template) -> Network | None:
    try:
        return template.make().main
    except GraphError as exc:     # a template that cannot be built still gets its card, pictureless
        log.warning("template %s cannot be drawn: %s", template.name, exc)
        return None


class StartPage(QFrame):
    """The page itself; :func:`gui.first_screen.install` places it over the editor."""

    #: a template's name, or "" for an empty network
    templateChosen = Signal(str)
    recentChosen = Signal(Path)
    openRequested = Signal()
    closeRequested = Signal()

    def __init__(self, recent: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("startPage")
        self.setAutoFillBackground(True)
        self.cards: dict[str, TemplateCard] = {}
        self.recent_buttons: dict[Path, QPushButton] = {}

        title = QLabel("Start")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        subtitle = QLabel("Open a template to train it right away, or pick up a recent project.")
        subtitle.setProperty("role", "muted")
        self.close_button = QToolButton()
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Go to the editor (Esc); View ▸ Start Page brings this page back")
        self.close_button.setIcon(icons.icon("close", theme.current().muted_text))
        self.close_button.clicked.connect(self.closeRequested)
        header = QHBoxLayout()
        heading = QVBoxLayout()
        heading.addWidget(title)
        heading.addWidget(subtitle)
        header.addLayout(heading, 1)
        header.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)

        grid_host = QWidget()
        self.grid = QGridLayout(grid_host)
        self.grid.setContentsMargins(0, 0, 6, 0)
        self.grid.setSpacing(8)
        entries: list[tuple[str, str, str, Network | None]] = [
            (EMPTY_TEMPLATE, "Empty network", "A blank canvas: drag layers in or press Tab", None)]
        entries += [(t.name, t.name, t.description, _template_network(t)) for t in list_templates()]
        for name, label, line, net in entries:
            card = TemplateCard(name, label, line, net)
            card.clicked.connect(lambda _c=False, n=name: self.templateChosen.emit(n))
            self.cards[name] = card
        self._columns = 0
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(grid_host)
        self.scroll = scroll

        templates_box = QVBoxLayout()
        templates_box.addWidget(_heading("New from a template"))
        templates_box.addWidget(scroll, 1)

        recent_box = QVBoxLayout()
        recent_box.addWidget(_heading("Recent projects"))
        existing = [p for p in recent if p.exists()]
        for path in existing:
            button = QPushButton(path.name)
            button.setObjectName("recentProject")
            button.setToolTip(str(path))
            button.setFlat(True)
            button.setStyleSheet("text-align: left; padding: 4px 6px;")
            button.clicked.connect(lambda _c=False, p=path: self.recentChosen.emit(p))
            self.recent_buttons[path] = button
            recent_box.addWidget(button)
            where = QLabel(str(path.parent))
            where.setProperty("role", "muted")
            where.setContentsMargins(8, 0, 0, 4)
            where.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            recent_box.addWidget(where)
        if not existing:
            none = QLabel("No recent projects yet: the projects you save or open appear here.")
            none.setWordWrap(True)
            none.setProperty("role", "muted")
            recent_box.addWidget(none)
        open_button = QPushButton("Open a project…")
        open_button.setIcon(icons.icon("open", theme.current().palette.buttonText().color()))
        open_button.clicked.connect(self.openRequested)
        recent_box.addSpacing(8)
        recent_box.addWidget(open_button, 0, Qt.AlignmentFlag.AlignLeft)
        recent_box.addStretch(1)
        recent_box.setContentsMargins(0, 0, 0, 0)
        recent_host = QWidget()
        recent_host.setLayout(recent_box)
        recent_host.setFixedWidth(280)

        body = QHBoxLayout()
        body.setSpacing(24)
        body.addLayout(templates_box, 1)
        body.addWidget(recent_host)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(28, 18, 28, 18)
        outer.setSpacing(14)
        outer.addLayout(header)
        outer.addLayout(body, 1)
        self._reflow()

    def _reflow(self) -> None:
        """As many columns of cards as fit the page's width."""
        usable = max(CARD_WIDTH, self.width() - 28 * 2 - 280 - 24 - 20)
        columns = max(1, min(3, usable // (CARD_WIDTH + 8)))
        if columns == self._columns:
            return
        self._columns = columns
        for i, card in enumerate(self.cards.values()):
            self.grid.addWidget(card, i // columns, i % columns)
        self.grid.setRowStretch(len(self.cards) // columns + 1, 1)

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._reflow()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.closeRequested.emit()
            return
        super().keyPressEvent(event)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.1)
    label.setFont(font)
    return label


class StartPageHost(QObject):
    """Shows the start page over a main window's docks and central area (not its menus, toolbar or
    status bar) and keeps it there as the window is resized."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.page: StartPage | None = None
        window.installEventFilter(self)

    @property
    def visible(self) -> bool:
        return self.page is not None and self.page.isVisible()

    def show(self) -> StartPage:
        """Build the page afresh (recent projects change) and put it over the editor."""
        self.hide()
        settings = getattr(self.window, "settings", None)
        recent = settings.recent_files() if settings is not None else []
        page = StartPage(recent, self.window)
        self.page = page
        self.place()
        page.show()
        page.raise_()
        first = next(iter(page.cards.values()), None)
        if first is not None:
            first.setFocus()
        return page

    def hide(self) -> None:
        if self.page is not None:
            self.page.hide()
            self.page.deleteLater()
            self.page = None

    def place(self) -> None:
        """Cover the docks and the central area (again, after the window's layout changed)."""
        if self.page is None:
            return
        w = self.window
        top = 0
        for bar in (w.menuWidget(), *[t for t in w.findChildren(QWidget, "toolbar_main")]):
            if bar is not None and bar.isVisible():
                top = max(top, bar.geometry().bottom() + 1)
        status = w.statusBar()
        bottom = status.geometry().top() if status.isVisible() else w.height()
        self.page.setGeometry(0, top, w.width(), max(0, bottom - top))
        self.page.raise_()      # docks moved or re-tabbed since would otherwise paint over it

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.window and event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest):
            self.place()
        return False
