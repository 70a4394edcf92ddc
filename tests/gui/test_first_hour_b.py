"""What a new user tripped over in the canvas and the plots (issue 16, points 3, 7 and part of 9),
driven with real presses, moves, releases and key clicks on the widgets."""

from __future__ import annotations

import math

from gui_helpers import drag
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QEnterEvent, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_canvas_wiring import drop_from_palette

from engine.events import EpochMetrics, StepMetrics
from graph.templates import make_template
from gui.canvas.node_item import HEADER, WIDTH
from gui.canvas.view import CanvasView
from gui.main_window import MainWindow
from gui.training.curves import RunCurves
from gui.training.plots import CurvePlots, compact_number


def _chain(window: MainWindow) -> tuple[str, str, str]:
    """Input (12 features) -> Dense, wired by dragging, and a loose ReLU below them."""
    view = window.current_view()
    a = drop_from_palette(window, "Input", QPoint(160, 200))
    b = drop_from_palette(window, "Dense", QPoint(600, 200))
    window.project.main.set_param(a, "shape", (12,))
    r = drop_from_palette(window, "ReLU", QPoint(380, 420))
    drag(view, view.canvas.nodes[a].port_pos("out", "out"), view.canvas.nodes[b].port_pos("in", "in"))
    view.canvas.clearSelection()
    return a, b, r


def _links(window: MainWindow) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in window.project.main.edges}


def _header(view: CanvasView, node_id: str) -> QPointF:
    return view.canvas.nodes[node_id].pos() + QPointF(WIDTH / 2, HEADER / 2)


def _wire_middle(view: CanvasView, source: str, target: str) -> QPointF:
    edge = next(e for e in view.canvas.network.edges if (e.source, e.target) == (source, target))
    return view.canvas.edges[edge.id].label.pos()


# -- point 3: wiring habits ---------------------------------------------------------------------------
def test_a_wire_dropped_on_a_taken_input_replaces_the_old_one(window: MainWindow) -> None:
    view = window.current_view()
    a, b, _r = _chain(window)
    other = drop_from_palette(window, "Input", QPoint(160, 600))
    steps = window.session.undo_stack.count()
    drag(view, view.canvas.nodes[other].port_pos("out", "out"), view.canvas.nodes[b].port_pos("in", "in"))
    assert _links(window) == {(other, b)}, view.last_refusal
    assert window.session.undo_stack.count() == steps + 1
    assert "Replaced" in window.statusBar().currentMessage()
    window.session.undo_stack.undo()
    assert _links(window) == {(a, b)}
    # a wire picked up from another input and dropped on the taken one replaces it too
    c = drop_from_palette(window, "Dense", QPoint(600, 600))
    drag(view, view.canvas.nodes[other].port_pos("out", "out"), view.canvas.nodes[c].port_pos("in", "in"))
    drag(view, view.canvas.nodes[c].port_pos("in", "in"), view.canvas.nodes[b].port_pos("in", "in"))
    assert _links(window) == {(other, b)}
    window.session.undo_stack.undo()
    assert _links(window) == {(a, b), (other, c)}


def test_a_loose_node_dragged_onto_a_wire_is_inserted(window: MainWindow) -> None:
    view = window.current_view()
    a, b, r = _chain(window)
    before = tuple(window.project.main.node(r).position)
    steps = window.session.undo_stack.count()
    drag(view, _header(view, r), _wire_middle(view, a, b), steps=8)
    assert _links(window) == {(a, r), (r, b)}
    assert window.session.undo_stack.count() == steps + 1, "the move and the insertion are one step"
    QApplication.processEvents()
    assert view.canvas.nodes[b].shape_text == "N×64"
    window.session.undo_stack.undo()
    assert _links(window) == {(a, b)}
    assert tuple(window.project.main.node(r).position) == before


def test_a_node_whose_shapes_do_not_fit_is_moved_but_not_inserted(window: MainWindow) -> None:
    view = window.current_view()
    a, b, _r = _chain(window)
    conv = drop_from_palette(window, "Conv2d", QPoint(380, 560))
    view.canvas.clearSelection()
    drag(view, _header(view, conv), _wire_middle(view, a, b), steps=8)
    assert _links(window) == {(a, b)}
    assert "not into the wire" in view.last_refusal and "N×12" in view.last_refusal


def test_a_palette_item_dropped_on_a_wire_goes_into_it(window: MainWindow) -> None:
    view = window.current_view()
    a, b, _r = _chain(window)
    steps = window.session.undo_stack.count()
    new = drop_from_palette(window, "Dropout", view.mapFromScene(_wire_middle(view, a, b)))
    assert _links(window) == {(a, new), (new, b)}
    assert window.session.undo_stack.count() == steps + 1
    window.session.undo_stack.undo()
    assert _links(window) == {(a, b)} and new not in window.project.main


def test_tab_with_a_node_selected_adds_after_it_in_a_free_spot(window: MainWindow, qtbot) -> None:
    view = window.current_view()
    net = window.project.main
    a = drop_from_palette(window, "Input", QPoint(160, 250))
    # a card sits exactly where "one column to the right" would be
    blocker = drop_from_palette(window, "Dense", QPoint(160 + round(WIDTH) + 80, 250))
    view.canvas.select_nodes([a])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    popup = window.quick_add
    assert popup is not None and popup.isVisible()
    assert "after" in popup.title.text()
    qtbot.keyClicks(popup.edit, "relu")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    new = next(n.id for n in net.nodes if n.type_id == "ReLU")
    assert (a, new) in _links(window)
    rect = view.canvas.nodes[new].sceneBoundingRect()
    for other in (a, blocker):
        assert not rect.intersects(view.canvas.nodes[other].sceneBoundingRect()), other
    assert rect.left() > view.canvas.nodes[a].sceneBoundingRect().right()
    visible = QRectF(view.mapToScene(view.viewport().rect()).boundingRect())
    assert visible.contains(rect)


# -- point 7: the minimap, legends and axes -------------------------------------------------------------
def _on_screen(view: CanvasView, node_id: str) -> QRect:
    """A card with its ports and badge, in the view's own coordinates (where the minimap lives)."""
    item = view.canvas.nodes[node_id]
    rect = item.sceneBoundingRect().united(item.badge.sceneBoundingRect())
    return view.mapFromScene(rect).boundingRect().translated(view.viewport().geometry().topLeft())


def test_the_minimap_never_covers_a_node(window: MainWindow) -> None:
    window.session.replace_project(make_template("cnn-digits"))
    QApplication.processEvents()
    view = window.current_view()
    view.reset_zoom()
    first = window.project.main.inputs()[0].id
    view.centerOn(view.canvas.nodes[first].sceneBoundingRect().center())
    QApplication.processEvents()
    vp = view.viewport().rect()
    # a new, unwired node (it has a red badge) dropped where the overview used to sit
    new = drop_from_palette(window, "Dense", QPoint(vp.width() - 90, vp.height() - 60))
    view.minimap.rebuild()
    QApplication.processEvents()
    assert view.canvas.nodes[new].badge.isVisible()
    minimap = view.minimap
    assert minimap.isVisible(), "part of the network is off screen: the overview is wanted"
    for node_id in view.canvas.nodes:
        assert not minimap.geometry().intersects(_on_screen(view, node_id)), node_id
    # every corner taken: the map folds into a button that hides nothing, and opens on hover
    for x, y in ((90, 60), (vp.width() - 90, 60), (90, vp.height() - 60)):
        drop_from_palette(window, "ReLU", QPoint(x, y))
    view.minimap.rebuild()
    QApplication.processEvents()
    assert minimap.folded and minimap.isVisible()
    assert minimap.width() < 40
    QTest.mouseMove(minimap, QPoint(5, 5))
    QApplication.sendEvent(minimap, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(minimap.mapToGlobal(QPoint(5, 5)))))
    assert minimap.width() > 40, "hovering the folded overview opens it"


def _plots_with_a_run(qtbot, width: int, height: int) -> CurvePlots:
    """The training plots, shown at a size, fed a run's events (a cosine learning-rate schedule)."""
    plots = CurvePlots()
    qtbot.addWidget(plots)
    plots.resize(width, height)
    plots.show()
    qtbot.waitExposed(plots)
    curves = RunCurves(recipe="classify", planned_epochs=10)
    for s in range(1, 301):
        curves.apply(StepMetrics(0.0, s, s // 100 + 1, (s % 100) / 100, 2.0 / (1 + s / 50),
                                 1e-3 * (0.5 + 0.5 * math.cos(s / 100)), 100.0, 1.0, {"dense_1": 0.5, "dense_2": 0.2}))
        if s % 100 == 0:
            curves.apply(EpochMetrics(0.0, s // 100, s, {"train_loss": 1.0 / s, "val_loss": 1.2 / s,
                                                         "train_accuracy": 0.9, "val_accuracy": 0.85}))
    plots.set_curves(curves)
    QApplication.processEvents()
    return plots


def test_legends_sit_outside_the_data(qtbot) -> None:
    for width, height in ((700, 420), (1400, 260)):
        plots = _plots_with_a_run(qtbot, width, height)
        for group, legend in plots.legends.items():
            assert legend.isVisible() and legend.items, group
            data = plots.plots[group].vb.sceneBoundingRect()
            assert not legend.sceneBoundingRect().intersects(data), (group, width)


def test_the_learning_rate_axis_is_labelled(qtbot) -> None:
    plots = _plots_with_a_run(qtbot, 700, 420)
    axis = plots.plots["lr"].getAxis("left")
    image = QImage(100, 400, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        drawn = [text for *_rect, text in axis.generateDrawSpecs(painter)[2]]
    finally:
        painter.end()
    assert len([t for t in drawn if t != "0"]) >= 2, drawn
    assert compact_number(0.0005, 0) == "5e-4" and compact_number(2.5e5, 1) == "2.5e5"
