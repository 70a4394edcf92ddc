"""The training panel's icons (start, pause, stop, ...), drawn like gui.icons: inline SVG line art
tinted to the theme. They live here so the panel is one self-contained package."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

_PATHS: dict[str, str] = {
    "start": '<path d="M7 4.5v15l12-7.5z" fill="currentColor"/>',
    "pause": '<rect x="6" y="4.5" width="4" height="15" rx="1" fill="currentColor"/>'
             '<rect x="14" y="4.5" width="4" height="15" rx="1" fill="currentColor"/>',
    "stop": '<rect x="5.5" y="5.5" width="13" height="13" rx="2" fill="currentColor"/>',
    "kill": '<circle cx="12" cy="12" r="9"/><path d="m8.5 8.5 7 7M15.5 8.5l-7 7"/>',
    "open": '<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>',
    "refresh": '<path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/>',
    "weights": '<path d="M12 3v3M5 8h14M7 8l-3 7h6zM17 8l-3 7h6z"/><path d="M9 21h6M12 6v15"/>',
    "train": '<path d="M3 17l5-6 4 4 8-10"/><path d="M15 5h5v5"/>',
    "close": '<path d="M6 6l12 12M18 6 6 18"/>',
    "node": '<rect x="4" y="7" width="16" height="10" rx="2"/><path d="M1 12h3M20 12h3"/>',
}


def _svg(name: str, color: str) -> bytes:
    body = _PATHS[name].replace("currentColor", color)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="{color}" '
            f'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">{body}</svg>').encode()


@cache
def _render(name: str, color: str, size: int) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(_svg(name, color)))
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


def icon(name: str, color: QColor | str) -> QIcon:
    hexcolor = QColor(color).name()
    result = QIcon()
    for size in (16, 20, 24, 32):
        result.addPixmap(_render(name, hexcolor, size))
    return result
