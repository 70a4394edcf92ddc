"""A readable log of what a run did: status changes, each epoch's numbers, warnings and errors.
Lines are built per batch of events and appended in one go, so a flood of epochs costs one append."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from engine.events import (
    EpochMetrics,
    Event,
    LogMessage,
    RunError,
    RunFinished,
    RunStarted,
    StatusChanged,
)
from gui import theme

#: oldest lines are dropped beyond this
MAX_LINES = 5000
#: metrics shown in an epoch line, in this order, with their labels
EPOCH_FIELDS = (("train_loss", "train loss"), ("val_loss", "val loss"), ("val_accuracy", "val accuracy"),
                ("val_f1", "val F1"), ("val_mae", "val MAE"), ("val_r2", "val R²"))
PERCENT = {"val_accuracy", "val_f1"}


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


#: epoch keys that are bookkeeping, not results
NOT_SHOWN = frozenset({"type", "epoch", "step", "time", "is_best", "lr", "elapsed", "elapsed_seconds",
                       "samples_per_sec", "memory_mb", "grad_norm", "epoch_time"})
#: other fractions shown as percentages
EXTRA_PERCENT = frozenset({"train_accuracy", "val_precision", "val_recall", "high_quality_fraction"})
#: other recipes' metrics are shown after the usual ones, at most this many
MAX_EXTRA_FIELDS = 6


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """The usual metrics in their order, then whatever else the recipe measured (a GAN's losses
    and quality, an autoencoder's reconstruction error) by its own name."""
    parts = []

    def number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

    for key, label in EPOCH_FIELDS:
        value = metrics.get(key)
        if number(value):
            parts.append(f"{label} {100 * value:.1f} %" if key in PERCENT else f"{label} {value:.4g}")
    known = {key for key, _ in EPOCH_FIELDS} | NOT_SHOWN
    extra = [(str(k), v) for k, v in metrics.items() if k not in known and number(v)]
    for key, value in extra[:MAX_EXTRA_FIELDS]:
        label = key.replace("_", " ")
        parts.append(f"{label} {100 * value:.1f} %" if key in EXTRA_PERCENT else f"{label} {value:.4g}")
    return ", ".join(parts)


def describe(event: Event, epochs: int | None = None) -> tuple[str, str] | None:
    """(level, text) for one event, or None for events not worth a line (per-step metrics)."""
    if isinstance(event, StatusChanged):
        if event.status in ("running", "paused", "stopping", "stopped", "loading", "starting"):
            text = event.message or event.status
            return "muted", text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
        return None
    if isinstance(event, RunStarted):
        return "info", (f"Training on {event.device}: {event.dataset}. {event.parameters:,} parameters, "
                        f"{event.steps_per_epoch} steps per epoch, {event.epochs} epochs.")
    if isinstance(event, EpochMetrics):
        total = f"/{epochs}" if epochs else ""
        best = "  ★ best so far" if event.is_best else ""
        return "info", f"Epoch {event.epoch}{total}: {format_metrics(event.metrics)}{best}"
    if isinstance(event, LogMessage):
        return event.level if event.level in ("warning", "error") else "info", event.message
    if isinstance(event, RunError):
        return "error", event.message
    if isinstance(event, RunFinished):
        report = event.report or {}
        took = report.get("elapsed_seconds")
        took_text = f" after {took:.1f} s" if isinstance(took, int | float) else ""
        words = {"completed": "Finished", "stopped": "Stopped", "failed": "Failed"}
        text = f"{words.get(event.status, event.status.capitalize())}{took_text}."
        best = report.get("best_epoch")
        if event.status != "failed" and isinstance(best, int):
            text += f" Best epoch: {best}."
        return ("error" if event.status == "failed" else "ok"), text
    return None


class EventLog(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(8.0, QFont().pointSizeF() - 1))
        self.setFont(font)
        self.setPlaceholderText("What the run does appears here: loading, each epoch's numbers, warnings "
                                "and errors.")
        self.epochs: int | None = None
        #: plain text of every line so far (tests and copy-out read it)
        self.lines: list[str] = []

    def add_events(self, events: Iterable[Event]) -> None:
        chunk: list[str] = []
        for event in events:
            if isinstance(event, RunStarted):
                self.epochs = event.epochs
            described = describe(event, self.epochs)
            if described is not None:
                chunk.append(self._line(event.time, *described))
        self._append(chunk)

    def add_note(self, text: str, level: str = "muted") -> None:
        self._append([self._line(None, level, text)])

    def _line(self, when: float | None, level: str, text: str) -> str:
        t = theme.current()
        colors = {"error": t.error.name(), "warning": "#c98a00" if not t.dark else "#e0b040",
                  "muted": t.muted_text.name(), "ok": t.canvas.valid.name()}
        stamp = f"{_clock(when)}  " if when is not None else "        "
        self.lines.append(stamp + text)
        color = colors.get(level)
        body = html.escape(text)
        if level in ("error", "warning"):
            body = f"<b>{body}</b>"
        if color:
            body = f"<span style='color:{color}'>{body}</span>"
        return f"<span style='color:{t.muted_text.name()}'>{html.escape(stamp)}</span>{body}".replace(
            "  ", "&nbsp; ")

    def _append(self, chunk: list[str]) -> None:
        if not chunk:
            return
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        self.appendHtml("<br>".join(chunk))
        if at_end:
            self.moveCursor(QTextCursor.MoveOperation.End)
            bar.setValue(bar.maximum())

    def clear_log(self) -> None:
        self.clear()
        self.lines.clear()
        self.epochs = None
