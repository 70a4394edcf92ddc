"""Navigation, selection, keyboard, quick add, tabs and the live refresh of shapes."""

from __future__ import annotations

import pytest
from gui_helpers import LEFT, NONE, drag, drag_in_view, send_mouse
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

import graph.shapes
from graph.templates import make_template
from gui import commands, theme
from gui.canvas.view import FIT_MIN_ZOOM
from gui.main_window import MainWindow


@pytest.fixture
def cnn(window: MainWindow) -> MainWindow:
    window.session.replace_project(make_template("cnn-digits"))
    QApplication.processEvents()
    return window


def wheel(view, pos: QPoint, delta: int) -> None:
    vp = view.viewport()
    event = QWheelEvent(QPointF(pos), QPointF(vp.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, delta), NONE,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, event)


def test_wheel_zooms_on_the_cursor(cnn: MainWindow) -> None:
    view = cnn.current_view()
    cursor = QPoint(200, 150)
    under = view.mapToScene(cursor)
    zoom = view.zoom
    wheel(view, cursor, 240)
    assert view.zoom > zoom * 1.3
    after = view.mapToScene(cursor)
    assert abs(after.x() - under.x()) < 2 / view.zoom and abs(after.y() - under.y()) < 2 / view.zoom
    assert cnn.zoom_label.text() == f"{view.zoom * 100:.0f} %"
    for _ in range(40):
        wheel(view, cursor, -240)
    assert view.zoom == pytest.approx(0.08)   # clamped


def test_pan_with_middle_drag_and_space_drag(cnn: MainWindow, qtbot) -> None:
    view = cnn.current_view()
    before = view.mapToScene(view.viewport().rect().center())
    drag_in_view(view, QPoint(300, 300), QPoint(200, 250), button=Qt.MouseButton.MiddleButton)
    moved = view.mapToScene(view.viewport().rect().center()) - before
    assert moved.x() == pytest.approx(100 / view.zoom, abs=2) and moved.y() == pytest.approx(50 / view.zoom, abs=2)
    # space + left drag pans too, and does not start a rubber band or move nodes
    positions = {n.id: n.position for n in cnn.project.main.nodes}
    view.setFocus()
    qtbot.keyPress(view, Qt.Key.Key_Space)
    drag_in_view(view, QPoint(300, 300), QPoint(250, 300))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert {n.id: n.position for n in cnn.project.main.nodes} == positions
    assert cnn.session.undo_stack.count() == 0


def test_fit_to_view(cnn: MainWindow, qtbot) -> None:
    view = cnn.current_view()
    view.set_zoom(2.5)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert view.zoom == pytest.approx(FIT_MIN_ZOOM)    # a long chain: readable zoom, start at the input
    image = view.canvas.nodes[cnn.project.main.find("image").id]
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(image.sceneBoundingRect())
    assert view.minimap.isVisible()                      # the rest is reachable from the overview
    # a small selection fits entirely
    ids = [cnn.project.main.find(n).id for n in ("relu_1", "conv2d_2")]
    view.canvas.select_nodes(ids)
    qtbot.keyClick(view, Qt.Key.Key_F)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(visible.contains(view.canvas.nodes[i].sceneBoundingRect()) for i in ids)


def test_rubber_band_ctrl_click_select_all_and_delete(cnn: MainWindow, qtbot) -> None:
    view = cnn.current_view()
    net = cnn.project.main
    scene = view.canvas
    view.fit_to_view()
    first, second = scene.nodes[net.find("image").id], scene.nodes[net.find("conv2d_1").id]
    r = first.sceneBoundingRect().united(second.sceneBoundingRect())
    drag(view, r.topLeft() - QPointF(15, 15), r.bottomRight() + QPointF(15, 15))
    assert set(scene.selected_node_ids()) == {first.node_id, second.node_id}
    # ctrl-click toggles one node out of the selection
    centre = second.sceneBoundingRect().center()
    send_mouse(view, QEvent.Type.MouseButtonPress, centre, LEFT, LEFT, Qt.KeyboardModifier.ControlModifier)
    send_mouse(view, QEvent.Type.MouseButtonRelease, centre, LEFT, NONE, Qt.KeyboardModifier.ControlModifier)
    assert scene.selected_node_ids() == [first.node_id]
    assert cnn.session.undo_stack.count() == 0         # clicking is not moving
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(scene.selected_node_ids()) == len(net)
    scene.select_nodes([second.node_id])
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert second.node_id not in net and len(net.edges) == 11
    assert cnn.session.undo_stack.count() == 1
    # an edge alone can be selected and deleted
    edge = net.edges[0]
    scene.clearSelection()
    scene.edges[edge.id].setSelected(True)
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    assert not net.has_edge(edge.id)
    cnn.session.undo_stack.undo()
    cnn.session.undo_stack.undo()
    assert len(net) == 14 and len(net.edges) == 13


def test_tab_and_double_click_open_quick_add(cnn: MainWindow, qtbot) -> None:
    view = cnn.current_view()
    net = cnn.project.main
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    popup = cnn.quick_add
    assert popup is not None and popup.isVisible()
    qtbot.keyClicks(popup.edit, "gelu")
    assert popup.list.currentItem().text().startswith("GELU")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert not popup.isVisible()
    assert [n.type_id for n in net.nodes].count("GELU") == 1
    # double-click on empty canvas: the popup opens where the click was
    empty = view.mapToScene(QPoint(30, view.viewport().height() - 30))
    send_mouse(view, QEvent.Type.MouseButtonDblClick, empty)
    popup = cnn.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.edit, "layer norm")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Down)
    qtbot.keyClick(popup.edit, Qt.Key.Key_Up)
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    added = [n for n in net.nodes if n.type_id == "LayerNorm"]
    assert len(added) == 1
    assert view.canvas.nodes[added[0].id].sceneBoundingRect().contains(empty)


def test_palette_double_click_wires_after_the_selected_node(cnn: MainWindow) -> None:
    net = cnn.project.main
    net_before = len(net)
    view = cnn.current_view()
    logits = net.find("logits")
    dense = net.find("dense_1")
    cnn.session.push(commands.delete_command(net, [logits.id]))
    view.canvas.select_nodes([dense.id])
    new_id = cnn.add_layer_from_palette("Softmax")
    assert len(net) == net_before
    assert any(e.source == dense.id and e.target == new_id for e in net.edges)
    assert view.canvas.nodes[new_id].shape_text == "N×10"


def test_one_analysis_per_edit(cnn: MainWindow, monkeypatch) -> None:
    calls = []
    original = graph.shapes._infer_node
    monkeypatch.setattr(graph.shapes, "_infer_node", lambda *a: calls.append(1) or original(*a))
    net = cnn.project.main
    ids = [net.find(n).id for n in ("relu_1", "conv2d_2", "batch_norm2d_2")]
    cnn.session.push(commands.delete_command(net, ids))   # one macro, many events
    QApplication.processEvents()
    assert len(calls) == len(net)
    calls.clear()
    cnn.session.undo_stack.undo()
    QApplication.processEvents()
    assert len(calls) == len(net)
    calls.clear()
    node = net.find("conv2d_1").id
    cnn.session.push(commands.MoveNodesCommand(net, {node: (net.node(node).position, (0.0, 999.0))}))
    QApplication.processEvents()
    assert calls == []                                     # moving changes no shape


def test_only_changed_items_repaint(cnn: MainWindow) -> None:
    view = cnn.current_view()
    net = cnn.project.main
    analysis = cnn.session.analysis(net)
    assert view.canvas.apply_analysis(analysis) == 0       # nothing new: nothing repainted
    node = net.find("dense_1").id
    net.set_param(node, "units", 12)
    changed = view.canvas.apply_analysis(cnn.session.analysis(net))
    assert changed == 3    # dense_1 itself, its outgoing edge and the output node


def test_networks_show_as_tabs(cnn: MainWindow, dialog) -> None:
    cnn.actions_by_name["add_network"].trigger()
    assert cnn.tabs.count() == 2
    assert cnn.tabs.currentIndex() == 1
    second = cnn.project.networks[1]
    assert cnn.current_network() is second
    assert cnn.summary.network is second and cnn.problems.network is second
    dialog.text = "decoder"
    cnn.actions_by_name["rename_network"].trigger()
    assert cnn.tabs.tabText(1) == "decoder" and second.name == "decoder"
    cnn.actions_by_name["remove_network"].trigger()
    assert cnn.tabs.count() == 1
    cnn.session.undo_stack.undo()
    assert cnn.tabs.count() == 2 and cnn.tabs.tabText(1) == "decoder"


def test_summary_table_and_problem_click_select_nodes(cnn: MainWindow) -> None:
    view = cnn.current_view()
    model = cnn.summary.model
    assert model.rowCount() == len(cnn.project.main)
    names = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert names[0] == "image" and names[-1] == "logits"
    assert [model.index(1, c).data() for c in range(4)] == ["conv2d_1", "Conv2d", "N×32×8×8", "320"]
    assert "56,586 parameters" in cnn.summary.totals.text()
    cnn.summary.table.clicked.emit(model.index(3, 0))
    assert view.canvas.selected_node_ids() == [cnn.project.main.find("relu_1").id]


def test_theme_switch_repaints(cnn: MainWindow, monkeypatch) -> None:
    manager = theme.ThemeManager(QApplication.instance(), "light")
    cnn.themes = manager
    manager.themeChanged.connect(cnn._theme_changed)
    manager.set_mode("dark")
    assert theme.current().dark
    assert QApplication.instance().palette().window().color().lightness() < 80
    manager.set_mode("light")
    assert not theme.current().dark


def test_double_click_on_a_node_edits_its_name(cnn: MainWindow) -> None:
    view = cnn.current_view()
    node = cnn.project.main.find("relu_1")
    send_mouse(view, QEvent.Type.MouseButtonDblClick, view.canvas.nodes[node.id].sceneBoundingRect().center())
    assert view.canvas.selected_node_ids() == [node.id]
    assert cnn.inspector.name_edit.hasFocus() and cnn.inspector.name_edit.selectedText() == "relu_1"


def test_dock_layout_persists(qtbot, dialog, settings, recovery_dir) -> None:
    from gui.recovery import RecoveryStore

    first = MainWindow(settings=settings, recovery=RecoveryStore(recovery_dir), restore_layout=True)
    qtbot.addWidget(first)
    first.show()
    first.problems_dock.hide()
    first.resize(1111, 777)
    assert first.close()
    second = MainWindow(settings=settings, recovery=RecoveryStore(recovery_dir), restore_layout=True)
    qtbot.addWidget(second)
    second.show()
    assert not second.problems_dock.isVisible() and second.summary_dock.isVisible()
    # the offscreen screen is 800×600, so restoreGeometry clamps the size; it was saved, though
    assert settings.window_state()[0] is not None


def test_a_later_panel_plugs_in_with_add_dock(window: MainWindow) -> None:
    from PySide6.QtWidgets import QLabel

    dock = window.add_dock(QLabel("training"), "Training", Qt.DockWidgetArea.BottomDockWidgetArea,
                           "training", tabify_with=window.summary_dock)
    assert dock.toggleViewAction() in window.panels_menu.actions()
    QApplication.processEvents()
    assert window.summary_dock in window.tabifiedDockWidgets(dock)
    seen = []
    window.projectReplaced.connect(seen.append)
    assert window.files.new_project("mlp-digits")
    assert seen == [window.project] and window.project.name == "MLP on digits"
