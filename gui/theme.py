"""Light and dark themes that follow the system colour scheme.

One :class:`Theme` object holds both the widget palette and the canvas colours, so a scheme
switch repaints everything from the same source. Canvas items read :func:`current` at paint time
(their caches are invalidated when the theme changes), which keeps colour constants out of them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

#: one hue per palette category; nodes, palette icons and the summary share them
CATEGORY_COLORS: dict[str, str] = {
    "Input / Output": "#2f9e6e",
    "Core": "#3d7be0",
    "Convolution": "#8a5cd6",
    "Pooling": "#b05bb8",
    "Normalization": "#d49a2a",
    "Regularization": "#7c8896",
    "Activation": "#e0733a",
    "Sequence": "#1f9ea8",
    "Attention": "#d64f79",
    "Merge": "#6f9a2c",
    "Upsampling": "#6a6fd8",
    "Shape": "#4f8f8a",
    "Math": "#a0763c",
}
FALLBACK_CATEGORY_COLOR = "#6b7785"

MODES = ("system", "light", "dark")


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, FALLBACK_CATEGORY_COLOR))


@dataclass(frozen=True)
class CanvasColors:
    background: QColor
    grid_dot: QColor
    grid_dot_major: QColor
    node_body: QColor
    node_border: QColor
    node_shadow: QColor
    node_text: QColor
    node_muted: QColor
    header_text: QColor
    selection: QColor
    edge: QColor
    edge_selected: QColor
    edge_label_bg: QColor
    edge_label_text: QColor
    port: QColor
    port_border: QColor
    valid: QColor
    invalid: QColor
    error: QColor
    hint_text: QColor


@dataclass(frozen=True)
class Theme:
    name: str
    dark: bool
    palette: QPalette
    canvas: CanvasColors
    accent: QColor
    error: QColor
    muted_text: QColor


def _palette(dark: bool) -> QPalette:
    p = QPalette()
    if dark:
        window, base, alt, text, button = "#25272b", "#1d1f22", "#2a2d31", "#e3e5e8", "#303338"
        mid, disabled, highlight = "#3a3d42", "#7d828a", "#3d7be0"
    else:
        window, base, alt, text, button = "#f2f3f5", "#ffffff", "#f6f7f9", "#1f2328", "#f7f8fa"
        mid, disabled, highlight = "#c9ccd1", "#9aa0a6", "#2f6fd6"
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: alt,
        QPalette.ColorRole.ToolTipBase: base,
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: disabled,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: button,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: "#ff5555",
        QPalette.ColorRole.Highlight: highlight,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: highlight,
        QPalette.ColorRole.Mid: mid,
        QPalette.ColorRole.Midlight: alt,
        QPalette.ColorRole.Dark: "#15171a" if dark else "#a0a4aa",
        QPalette.ColorRole.Shadow: "#000000",
        QPalette.ColorRole.Light: "#3a3d42" if dark else "#ffffff",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return p


def _canvas(dark: bool) -> CanvasColors:
    c = QColor
    if dark:
        return CanvasColors(
            background=c("#1b1d20"), grid_dot=c("#34373c"), grid_dot_major=c("#4a4e55"),
            node_body=c("#2b2e33"), node_border=c("#3d4148"), node_shadow=c(0, 0, 0, 90),
            node_text=c("#eceef1"), node_muted=c("#9aa1ab"), header_text=c("#ffffff"),
            selection=c("#f0b429"), edge=c("#7d848e"), edge_selected=c("#f0b429"),
            edge_label_bg=c("#2b2e33"), edge_label_text=c("#c9ced6"), port=c("#d9dde3"),
            port_border=c("#1b1d20"), valid=c("#3ecf8e"), invalid=c("#ef5b5b"), error=c("#ef5b5b"),
            hint_text=c("#6f757e"),
        )
    return CanvasColors(
        background=c("#f4f5f7"), grid_dot=c("#d3d6db"), grid_dot_major=c("#b7bbc2"),
        node_body=c("#ffffff"), node_border=c("#c8ccd2"), node_shadow=c(20, 30, 50, 40),
        node_text=c("#1f2328"), node_muted=c("#68707b"), header_text=c("#ffffff"),
        selection=c("#e8a010"), edge=c("#8a919b"), edge_selected=c("#e8a010"),
        edge_label_bg=c("#ffffff"), edge_label_text=c("#3a4049"), port=c("#ffffff"),
        port_border=c("#5b626c"), valid=c("#1f9d62"), invalid=c("#d93d3d"), error=c("#d93d3d"),
        hint_text=c("#9aa0a8"),
    )


def make_theme(dark: bool) -> Theme:
    palette = _palette(dark)
    return Theme(
        name="dark" if dark else "light",
        dark=dark,
        palette=palette,
        canvas=_canvas(dark),
        accent=palette.color(QPalette.ColorRole.Highlight),
        error=QColor("#ef5b5b" if dark else "#c62828"),
        muted_text=QColor("#9aa1ab" if dark else "#68707b"),
    )


_current: Theme = make_theme(False)


def current() -> Theme:
    return _current


def system_prefers_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def _stylesheet(theme: Theme) -> str:
    """Small touches the palette cannot express: flat dock titles and a quiet toolbar."""
    border = theme.palette.color(QPalette.ColorRole.Mid).name()
    window = theme.palette.color(QPalette.ColorRole.Window).name()
    muted = theme.muted_text.name()
    return f"""
QMainWindow::separator {{ background: {border}; width: 1px; height: 1px; }}
QDockWidget {{ titlebar-close-icon: none; }}
QDockWidget::title {{ background: {window}; padding: 6px 8px; border-bottom: 1px solid {border}; }}
QToolBar {{ border: none; border-bottom: 1px solid {border}; spacing: 2px; padding: 3px; }}
QStatusBar {{ border-top: 1px solid {border}; }}
QStatusBar QLabel {{ color: {muted}; padding: 0 6px; }}
QTabWidget::pane {{ border: none; }}
QLabel[role="muted"] {{ color: {muted}; }}
QLabel[role="error"] {{ color: {theme.error.name()}; }}
QLabel[role="heading"] {{ font-weight: 600; }}
"""


class ThemeManager(QObject):
    """Applies the chosen mode to the application and re-applies it when the system switches."""

    themeChanged = Signal(object)

    def __init__(self, app: QApplication, mode: str = "system") -> None:
        super().__init__(app)
        self._app = app
        self._mode = "system"
        app.setStyle("Fusion")
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_changed)
        self.set_mode(mode)

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        env = os.environ.get("DEEPCANVAS_THEME", "").lower()
        if env in MODES and env != "system":
            mode = env  # a forced theme (screenshots, tests) wins over the saved choice
        if mode not in MODES:
            log.warning("unknown theme %r; following the system", mode)
            mode = "system"
        self._mode = mode
        self._apply()

    def _system_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._mode == "system":
            self._apply()

    def _apply(self) -> None:
        global _current
        dark = system_prefers_dark() if self._mode == "system" else self._mode == "dark"
        _current = make_theme(dark)
        self._app.setPalette(_current.palette)
        self._app.setStyleSheet(_stylesheet(_current))
        self.themeChanged.emit(_current)
