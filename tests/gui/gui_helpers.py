"""Mouse input as the real user gives it: events with the button held during the move (QTest's
mouseMove cannot hold a button), delivered to the canvas viewport."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from graph import Project
from graph.project_file import project_to_dict
from gui.canvas.view import CanvasView

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


def send_mouse(view: CanvasView, kind: QEvent.Type, scene_pos: QPointF, button: Qt.MouseButton = LEFT,
               buttons: Qt.MouseButton | None = None,
               modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    vp = view.viewport()
    local = QPointF(view.mapFromScene(scene_pos))
    global_pos = QPointF(vp.mapToGlobal(local.toPoint()))
    if buttons is None:
        buttons = button if kind != QEvent.Type.MouseButtonRelease else NONE
    event = QMouseEvent(kind, local, global_pos, button, buttons, modifiers)
    QApplication.sendEvent(vp, event)


def drag(view: CanvasView, start: QPointF, end: QPointF, steps: int = 5, button: Qt.MouseButton = LEFT,
         modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    send_mouse(view, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        send_mouse(view, QEvent.Type.MouseMove, p, NONE, button, modifiers)
    send_mouse(view, QEvent.Type.MouseButtonRelease, end, button, NONE, modifiers)


def drag_in_view(view: CanvasView, start: QPoint, end: QPoint, steps: int = 5, button: Qt.MouseButton = LEFT) -> None:
    """A drag given in viewport pixels (for panning, where scene coordinates move under the mouse)."""
    vp = view.viewport()

    def send(kind: QEvent.Type, p: QPointF, b: Qt.MouseButton, held: Qt.MouseButton) -> None:
        QApplication.sendEvent(vp, QMouseEvent(kind, p, QPointF(vp.mapToGlobal(p.toPoint())), b, held,
                                               Qt.KeyboardModifier.NoModifier))

    a, z = QPointF(start), QPointF(end)
    send(QEvent.Type.MouseButtonPress, a, button, button)
    for i in range(1, steps + 1):
        send(QEvent.Type.MouseMove, a + (z - a) * (i / steps), NONE, button)
    send(QEvent.Type.MouseButtonRelease, z, button, NONE)


def view_point(view: CanvasView, scene_pos: QPointF) -> QPoint:
    return view.mapFromScene(scene_pos)


def snapshot(project: Project) -> dict:
    """The whole document as data: two snapshots are equal iff the documents are."""
    return project_to_dict(project)
