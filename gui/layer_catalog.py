"""What the palette and the quick-add popup both list: every registered layer, in palette order,
with a search that ranks name matches above description matches."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from graph.layers import LayerSpec, layers_by_category
from gui import theme


def catalog() -> dict[str, list[LayerSpec]]:
    return layers_by_category()


def search(text: str) -> list[LayerSpec]:
    """Layers matching every word of ``text``; best matches first, palette order otherwise."""
    words = text.lower().split()
    ranked: list[tuple[int, int, LayerSpec]] = []
    order = 0
    for category, specs in catalog().items():
        for spec in specs:
            order += 1
            name = spec.display_name.lower()
            haystack = " ".join((name, spec.type_id.lower(), category.lower(), spec.description.lower(),
                                 " ".join(spec.tags).lower()))
            if not all(w in haystack for w in words):
                continue
            if not words:
                rank = 2
            elif name.startswith(words[0]):
                rank = 0
            elif all(w in name or w in category.lower() for w in words):
                rank = 1
            else:
                rank = 2
            ranked.append((rank, order, spec))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [spec for _, _, spec in ranked]


@cache
def _swatch(color: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    inset = size * 0.2
    painter.drawRoundedRect(inset, inset, size - 2 * inset, size - 2 * inset, size * 0.18, size * 0.18)
    painter.end()
    return pixmap


def category_icon(category: str) -> QIcon:
    color = theme.category_color(category).name()
    icon = QIcon()
    for size in (16, 20, 32):
        icon.addPixmap(_swatch(color, size))
    return icon
