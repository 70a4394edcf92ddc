"""Arrays as pictures: images as images (grey or colour), feature maps as a grid of small images,
vectors as bars, sequences as heat maps, token ids as text. Everything here turns numpy arrays into
QImages or paints them; no model state, no torch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import theme

#: feature maps drawn per layer; more are summarised in a line of text
MAX_MAPS = 32
#: bars drawn for a vector; longer vectors are shown in chunks of their mean
MAX_BARS = 256
#: tokens written for a token sequence
MAX_TOKENS = 40


# -- colour maps ------------------------------------------------------------------------------------
def _lut(stops: Sequence[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    xs = np.linspace(0.0, 1.0, 256)
    pos = np.array([s[0] for s in stops])
    cols = np.array([s[1] for s in stops], dtype=np.float64)
    return np.stack([np.interp(xs, pos, cols[:, c]) for c in range(3)], axis=1).astype(np.uint8)


GRAY = _lut([(0.0, (0, 0, 0)), (1.0, (255, 255, 255))])
#: saliency: dark to hot
HEAT = _lut([(0.0, (0, 0, 4)), (0.35, (120, 28, 109)), (0.65, (237, 105, 37)), (1.0, (252, 255, 164))])
#: signed activations: blue below zero, white at zero, red above
DIVERGING = _lut([(0.0, (33, 102, 172)), (0.5, (247, 247, 247)), (1.0, (178, 24, 43))])


def normalize(a: np.ndarray, signed: bool = False) -> np.ndarray:
    """Values to 0..1: min..max, or symmetric about zero (so zero is the middle colour)."""
    a = np.nan_to_num(np.asarray(a, dtype=np.float64))
    if signed:
        top = float(np.abs(a).max()) if a.size else 0.0
        return np.full(a.shape, 0.5) if top == 0 else 0.5 + 0.5 * a / top
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    return np.zeros(a.shape) if hi - lo < 1e-12 else (a - lo) / (hi - lo)


def to_qimage(values01: np.ndarray, lut: np.ndarray = GRAY) -> QImage:
    """An H×W array of 0..1 values through a colour table -> a QImage (owning its pixels)."""
    idx = np.clip(np.rint(np.asarray(values01) * 255), 0, 255).astype(np.uint8)
    return rgb_image(lut[idx])


def rgb_image(rgb: np.ndarray) -> QImage:
    """H×W×3 uint8 -> QImage (copied, so the array may go away)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def sample_image(x: np.ndarray) -> QImage:
    """A C×H×W (or H×W) input as a picture: colour for 3 channels, grey otherwise (first channel)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[0] == 3:
        rgb = normalize(np.moveaxis(x, 0, -1))
        return rgb_image(np.rint(rgb * 255).astype(np.uint8))
    if x.ndim == 3:
        x = x[0]
    return to_qimage(normalize(x))


def blend(base: QImage, overlay: QImage, alpha: float = 0.55) -> QImage:
    """``overlay`` laid over ``base`` (same size), for saliency over the image."""
    out = base.convertToFormat(QImage.Format.Format_RGB32)
    painter = QPainter(out)
    painter.setOpacity(alpha)
    painter.drawImage(0, 0, overlay.scaled(out.size()))
    painter.end()
    return out


def scaled_pixmap(image: QImage, size: int) -> QPixmap:
    """Crisp (nearest-neighbour) upscaling: each input pixel stays a visible square."""
    return QPixmap.fromImage(image.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation))


def token_text(tokens: np.ndarray, vocab: Sequence[str] | None, limit: int = MAX_TOKENS) -> str:
    flat = np.asarray(tokens).reshape(-1)
    words = []
    for t in flat[:limit]:
        i = int(t)
        words.append(vocab[i] if vocab and 0 <= i < len(vocab) else str(i))
    sep = "" if vocab and all(len(w) == 1 for w in vocab) and any(not w.isdigit() for w in vocab) else " "
    return sep.join(words) + ("…" if flat.size > limit else "")


def value_text(a: np.ndarray) -> str:
    """min / mean / max of an activation, for its heading."""
    a = np.asarray(a, dtype=np.float64)
    if not a.size:
        return "empty"
    return f"min {a.min():.3g} · mean {a.mean():.3g} · max {a.max():.3g}"


def sample_pixmap(x: np.ndarray, kind: str, size: int, vocab: Sequence[str] | None = None) -> QPixmap:
    """A thumbnail of one input: the image, a heat map for a sequence, bars for a vector, text for tokens."""
    if kind == "image":
        return scaled_pixmap(sample_image(x), size)
    if kind == "sequence":
        return QPixmap.fromImage(to_qimage(normalize(np.asarray(x).T, signed=True), DIVERGING).scaled(
            QSize(size, size // 2), Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation))
    pix = QPixmap(size, size // 2)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    t = theme.current()
    if kind == "tokens":
        font = QFont()
        font.setPixelSize(11)
        painter.setFont(font)
        painter.setPen(t.palette.color(QPalette.ColorRole.Text))
        # as many tokens as fit the thumbnail (about two characters each)
        fit = max(1, size // 14) * max(1, (size // 2) // 14)
        painter.drawText(QRectF(0, 0, size, size // 2), Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignCenter,
                         token_text(x, vocab, fit))
    else:
        paint_bars(painter, QRectF(0, 2, size, size // 2 - 4), np.asarray(x, dtype=np.float64).reshape(-1))
    painter.end()
    return pix


def paint_bars(painter: QPainter, rect: QRectF, values: np.ndarray, highlight: int | None = None) -> None:
    """Bars from a zero line: positive up in the accent colour, negative down in the error colour."""
    t = theme.current()
    values = np.nan_to_num(np.asarray(values, dtype=np.float64).reshape(-1))
    if values.size > MAX_BARS:
        chunks = np.array_split(values, MAX_BARS)
        values = np.array([c.mean() for c in chunks])
        highlight = None
    n = values.size
    if not n:
        return
    lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
    span = hi - lo or 1.0
    zero_y = rect.top() + rect.height() * hi / span
    width = rect.width() / n
    gap = 1.0 if width > 4 else 0.0
    accent, negative = QColor(t.accent), QColor(t.error)
    painter.setPen(Qt.PenStyle.NoPen)
    for i, v in enumerate(values):
        h = rect.height() * abs(v) / span
        color = QColor(accent if v >= 0 else negative)
        if highlight is not None and i != highlight:
            color.setAlpha(110)
        painter.setBrush(color)
        y = zero_y - h if v >= 0 else zero_y
        painter.drawRect(QRectF(rect.left() + i * width, y, max(1.0, width - gap), max(h, 0.5)))
    painter.setPen(QPen(t.muted_text, 1))
    painter.drawLine(QPointF(rect.left(), zero_y), QPointF(rect.right(), zero_y))


# -- widgets ------------------------------------------------------------------------------------------
class BarsView(QWidget):
    """A vector as bars, with optional labels under them (class names of an Output)."""

    def __init__(self, values: np.ndarray, labels: Sequence[str] | None = None, highlight: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values = np.asarray(values, dtype=np.float64).reshape(-1)
        self.labels = list(labels) if labels is not None and len(labels) == self.values.size else None
        self.highlight = highlight
        self.setMinimumHeight(90 if self.labels else 70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        n = self.values.size
        if n <= 64:
            self.setToolTip("  ".join(f"{(self.labels or range(n))[i]}: {v:.3g}" for i, v in enumerate(self.values)))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, 90 if self.labels else 70)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        label_h = 16 if self.labels else 0
        rect = QRectF(4, 4, self.width() - 8, self.height() - 8 - label_h)
        paint_bars(painter, rect, self.values, self.highlight)
        if self.labels:
            font = QFont()
            font.setPixelSize(10)
            painter.setFont(font)
            painter.setPen(theme.current().palette.color(QPalette.ColorRole.Text))
            w = rect.width() / len(self.labels)
            for i, text in enumerate(self.labels):
                painter.drawText(QRectF(rect.left() + i * w, rect.bottom() + 2, w, label_h),
                                 Qt.AlignmentFlag.AlignCenter, text[:6])
        painter.end()


class ImageGrid(QWidget):
    """Feature maps (C×H×W) as a grid of small images, each scaled to its own range."""

    def __init__(self, maps: np.ndarray, tile: int = 56, limit: int = MAX_MAPS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        maps = np.asarray(maps)
        self.total = int(maps.shape[0])
        self.tile = tile
        self.images = [to_qimage(normalize(m)) for m in maps[:limit]]
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip(f"{self.total} feature map{'s' if self.total != 1 else ''}, each scaled from its own "
                        "minimum (black) to its maximum (white)"
                        + (f"; the first {limit} are shown" if self.total > limit else ""))

    def _columns(self, width: int) -> int:
        return max(1, (width + 4) // (self.tile + 4))

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        rows = -(-len(self.images) // self._columns(width))
        return rows * (self.tile + 4) + (16 if self.total > len(self.images) else 0)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(8 * (self.tile + 4), self.heightForWidth(8 * (self.tile + 4)))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.tile + 4, self.tile + 4)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.setMinimumHeight(self.heightForWidth(self.width()))

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        cols = self._columns(self.width())
        border = QPen(theme.current().palette.color(QPalette.ColorRole.Mid), 1)
        for i, image in enumerate(self.images):
            r, c = divmod(i, cols)
            target = QRectF(c * (self.tile + 4), r * (self.tile + 4), self.tile, self.tile)
            painter.drawImage(target, image)
            painter.setPen(border)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(target)
        if self.total > len(self.images):
            painter.setPen(theme.current().muted_text)
            rows = -(-len(self.images) // cols)
            painter.drawText(QRectF(0, rows * (self.tile + 4), self.width(), 16), Qt.AlignmentFlag.AlignLeft,
                             f"… and {self.total - len(self.images)} more feature maps")
        painter.end()


class HeatMap(QWidget):
    """An L×D sequence as a heat map: time left to right, features top to bottom, blue < 0 < red."""

    def __init__(self, values: np.ndarray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        values = np.asarray(values, dtype=np.float64)
        self.image = to_qimage(normalize(values.T, signed=True), DIVERGING)
        rows = values.shape[1] if values.ndim == 2 else 1
        self.setFixedHeight(int(min(160, max(40, rows * 4))))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(f"{values.shape[0]} positions (left to right) × {rows} features (top to bottom); "
                        "blue below zero, red above")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, self.height())

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawImage(QRectF(0, 0, self.width(), self.height()), self.image)
        painter.end()


class PixmapTile(QWidget):
    """A thumbnail with a caption under it; clicking it emits ``clicked``."""

    clicked = Signal()

    def __init__(self, pixmap: QPixmap, caption: str, tooltip: str = "", parent: QWidget | None = None,
                 width: int = 96) -> None:
        super().__init__(parent)
        self.pixmap = pixmap
        self.caption = caption
        self.selected = False
        self.warning = False
        self._width = max(width, pixmap.width())
        self.setToolTip(tooltip or caption)
        self.setFixedSize(self._width + 8, pixmap.height() + 8 + 16 * max(1, caption.count("\n") + 1))
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_selected(self, on: bool) -> None:
        self.selected = on
        self.update()

    def set_warning(self, on: bool) -> None:
        """Outline in the error colour (a misclassified sample)."""
        self.warning = on
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        t = theme.current()
        if self.selected or self.warning:
            painter.setPen(QPen(t.accent if self.selected else t.error, 2))
            painter.drawRoundedRect(QRectF(1, 1, self.width() - 2, self.height() - 2), 4, 4)
        x = (self.width() - self.pixmap.width()) / 2
        painter.drawPixmap(QPointF(x, 4), self.pixmap)
        font = QFont()
        font.setPixelSize(11)
        painter.setFont(font)
        painter.setPen(t.palette.color(QPalette.ColorRole.Text))
        painter.drawText(QRectF(2, self.pixmap.height() + 6, self.width() - 4, self.height() - self.pixmap.height() - 6),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, self.caption)
        painter.end()
