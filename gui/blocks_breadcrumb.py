"""An opened block: its canvas under a breadcrumb bar ("main › Encoder › Residual").

The bar shows the way the block was opened, outermost network first; every crumb but the last is a
link back out. The page holds the networks themselves, not names, so renaming a network or a block
only changes the text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from graph import Network
from gui import blocks, theme
from gui.canvas.view import CanvasView

SEPARATOR = "›"


class BreadcrumbBar(QWidget):
    #: a crumb was clicked: the network to go back to
    crumbClicked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("breadcrumbs")
        self.setAutoFillBackground(True)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 3, 8, 3)
        self._layout.setSpacing(2)
        self.trail: list[Network] = []
        #: one button per network the user can go back to, in order (tests click these)
        self.buttons: list[QToolButton] = []

    def set_trail(self, trail: list[Network]) -> None:
        self.trail = list(trail)
        self.refresh()

    def text(self) -> str:
        return f" {SEPARATOR} ".join(net.name for net in self.trail)

    def refresh(self) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.deleteLater()
        self.buttons = []
        muted = theme.current().muted_text.name()
        icon = QLabel()
        icon.setPixmap(blocks.block_icon().pixmap(16, 16))
        self._layout.addWidget(icon)
        for i, net in enumerate(self.trail):
            if i:
                sep = QLabel(SEPARATOR)
                sep.setStyleSheet(f"color: {muted}; padding: 0 2px;")
                self._layout.addWidget(sep)
            if i == len(self.trail) - 1:
                here = QLabel(f"<b>{_escape(net.name)}</b>")
                here.setTextFormat(Qt.TextFormat.RichText)
                here.setToolTip("The block you are editing: changes apply to every node that uses it")
                self._layout.addWidget(here)
            else:
                button = QToolButton()
                button.setText(net.name)
                button.setAutoRaise(True)
                button.setCursor(Qt.CursorShape.PointingHandCursor)
                button.setToolTip(f"Back to {net.name}")
                button.clicked.connect(lambda _c=False, n=net: self.crumbClicked.emit(n))
                self._layout.addWidget(button)
                self.buttons.append(button)
        self._layout.addStretch(1)
        hint = QLabel("editing a block: every use of it follows")
        hint.setStyleSheet(f"color: {muted};")
        self._layout.addWidget(hint)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class BlockPage(QWidget):
    """The tab of an opened block: breadcrumbs above the canvas of the definition's network."""

    def __init__(self, view: CanvasView, trail: list[Network], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.crumbs = BreadcrumbBar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.crumbs)
        layout.addWidget(view, 1)
        self.set_trail(trail)

    @property
    def network(self) -> Network:
        return self.view.canvas.network

    @property
    def trail(self) -> list[Network]:
        """The networks outside this block, outermost first (the way it was opened)."""
        return self.crumbs.trail[:-1]

    def set_trail(self, outer: list[Network]) -> None:
        self.crumbs.set_trail([*outer, self.network])
