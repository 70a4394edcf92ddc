"""Building a network with the mouse: palette drops, port-to-port wiring, refusals with reasons."""

from __future__ import annotations

from gui_helpers import LEFT, NONE, drag, send_mouse
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.canvas.view import LAYER_MIME
from gui.main_window import MainWindow


def drop_from_palette(window: MainWindow, type_id: str, view_pos: QPoint) -> str:
    """Drop a palette item onto the canvas the way a drag ends: with the palette's own mime data."""
    palette = window.palette_panel
    mime = palette.tree.mimeData([palette.items[type_id]])
    view = window.current_view()
    before = set(view.canvas.nodes)
    no_mod = Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(view_pos, Qt.DropAction.CopyAction, mime, LEFT, no_mod)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted(), "the canvas should accept a layer dragged over it"
    QApplication.sendEvent(view.viewport(), QDragMoveEvent(view_pos, Qt.DropAction.CopyAction, mime, LEFT, no_mod))
    drop = QDropEvent(QPointF(view_pos), Qt.DropAction.CopyAction, mime, LEFT, no_mod)
    QApplication.sendEvent(view.viewport(), drop)
    assert drop.isAccepted()
    added = set(view.canvas.nodes) - before
    assert len(added) == 1, "the drop should add exactly one node"
    return added.pop()


def test_drop_palette_item_adds_node_under_cursor(window: MainWindow) -> None:
    view = window.current_view()
    assert window.palette_panel.tree.mimeData([window.palette_panel.items["Dense"]]).hasFormat(LAYER_MIME)
    node_id = drop_from_palette(window, "Dense", QPoint(300, 200))
    net = window.project.main
    node = net.node(node_id)
    assert node.type_id == "Dense"
    item = view.canvas.nodes[node_id]
    # centred on the cursor and on the grid
    assert item.sceneBoundingRect().contains(view.mapToScene(QPoint(300, 200)))
    assert node.position[0] % 20 == 0 and node.position[1] % 20 == 0
    assert view.canvas.selected_node_ids() == [node_id]
    assert window.inspector.editors["units"].field.value() == 64
    window.session.undo_stack.undo()
    assert node_id not in net and node_id not in view.canvas.nodes


def test_palette_search_and_double_click(window: MainWindow) -> None:
    palette = window.palette_panel
    palette.search_box.setText("conv")
    visible = palette.visible_type_ids()
    assert "Conv2d" in visible and "Dense" not in visible
    palette.search_box.setText("")
    palette.tree.itemActivated.emit(palette.items["ReLU"], 0)
    assert [n.type_id for n in window.project.main.nodes] == ["ReLU"]


def _two_nodes(window: MainWindow) -> tuple[str, str]:
    view = window.current_view()
    net = window.project.main
    a = drop_from_palette(window, "Input", QPoint(200, 250))
    b = drop_from_palette(window, "Dense", QPoint(520, 250))
    net.set_param(a, "shape", (12,))   # a plain document edit: the canvas follows it as well
    view.canvas.clearSelection()
    return a, b


def test_connect_two_ports_by_dragging(window: MainWindow) -> None:
    view = window.current_view()
    net = window.project.main
    a, b = _two_nodes(window)
    start = view.canvas.nodes[a].port_pos("out", "out")
    end = view.canvas.nodes[b].port_pos("in", "in")
    drag(view, start, end)
    assert len(net.edges) == 1
    edge = net.edges[0]
    assert (edge.source, edge.target, edge.target_port) == (a, b, "in")
    # the canvas shows the edge, its shape and the new output shape at once
    QApplication.processEvents()
    item = view.canvas.edges[edge.id]
    assert item.label.text == "N×12"
    assert view.canvas.nodes[b].shape_text == "N×64"
    assert view.canvas.nodes[b].param_count == 12 * 64 + 64
    window.session.undo_stack.undo()
    assert not net.edges and not view.canvas.edges
    window.session.undo_stack.redo()
    assert [e.id for e in net.edges] == [edge.id]


def test_valid_targets_light_up_while_dragging(window: MainWindow) -> None:
    view = window.current_view()
    a, b = _two_nodes(window)
    start = view.canvas.nodes[a].port_pos("out", "out")
    send_mouse(view, QEvent.Type.MouseButtonPress, start)
    send_mouse(view, QEvent.Type.MouseMove, start + QPointF(60, 40), NONE, LEFT)
    assert view.canvas.nodes[b].port_states == {("in", "in"): "valid"}
    over = view.canvas.nodes[b].port_pos("in", "in")
    send_mouse(view, QEvent.Type.MouseMove, over, NONE, LEFT)
    assert view.canvas.nodes[b].port_states == {("in", "in"): "hover-valid"}
    send_mouse(view, QEvent.Type.MouseButtonRelease, over, LEFT, NONE)
    assert view.canvas.nodes[b].port_states == {}
    assert len(window.project.main.edges) == 1


def test_invalid_connection_is_refused_with_the_reason(window: MainWindow) -> None:
    view = window.current_view()
    net = window.project.main
    a, b = _two_nodes(window)
    drag(view, view.canvas.nodes[a].port_pos("out", "out"), view.canvas.nodes[b].port_pos("in", "in"))
    # b -> a: Input takes no inputs; dropping on its body must say so and change nothing
    before = window.session.undo_stack.count()
    drag(view, view.canvas.nodes[b].port_pos("out", "out"), view.canvas.nodes[a].sceneBoundingRect().center())
    assert len(net.edges) == 1
    assert window.session.undo_stack.count() == before
    ok, reason = net.can_connect(b, a)
    assert not ok
    assert view.last_refusal == reason
    assert window.statusBar().currentMessage() == reason
    # a second Dense fed by b, then wired back into b: a loop, refused with the core's sentence
    c = drop_from_palette(window, "Dense", QPoint(820, 250))
    drag(view, view.canvas.nodes[b].port_pos("out", "out"), view.canvas.nodes[c].port_pos("in", "in"))
    drag(view, view.canvas.nodes[c].port_pos("out", "out"), view.canvas.nodes[b].port_pos("in", "in"))
    assert "already fed" in view.last_refusal or "loop" in view.last_refusal
    assert len(net.edges) == 2


def test_picked_up_wire_reroutes_or_deletes_an_edge(window: MainWindow) -> None:
    view = window.current_view()
    net = window.project.main
    a, b = _two_nodes(window)
    c = drop_from_palette(window, "Dense", QPoint(520, 450))
    drag(view, view.canvas.nodes[a].port_pos("out", "out"), view.canvas.nodes[b].port_pos("in", "in"))
    # drag the wire's end off b's input onto c's input: one undoable re-route
    drag(view, view.canvas.nodes[b].port_pos("in", "in"), view.canvas.nodes[c].port_pos("in", "in"))
    assert [(e.source, e.target) for e in net.edges] == [(a, c)]
    window.session.undo_stack.undo()
    assert [(e.source, e.target) for e in net.edges] == [(a, b)]
    # dropped on empty canvas, a picked-up wire is removed
    drag(view, view.canvas.nodes[b].port_pos("in", "in"), view.mapToScene(QPoint(5, 5)))
    assert net.edges == []


def test_wire_dropped_on_empty_canvas_offers_quick_add_and_wires_it(window: MainWindow, qtbot) -> None:
    view = window.current_view()
    net = window.project.main
    a, _b = _two_nodes(window)
    target = view.mapToScene(QPoint(400, 500))
    drag(view, view.canvas.nodes[a].port_pos("out", "out"), target)
    popup = window.quick_add
    assert popup is not None and popup.isVisible()
    qtbot.keyClicks(popup.edit, "flatten")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    flat = [n for n in net.nodes if n.type_id == "Flatten"]
    assert len(flat) == 1
    assert any(e.source == a and e.target == flat[0].id for e in net.edges)
    window.session.undo_stack.undo()   # one step removes the node and its edge
    assert not any(n.type_id == "Flatten" for n in net.nodes) and len(net.edges) == 0


def test_a_click_on_a_port_is_not_a_drag_and_escape_cancels(window: MainWindow) -> None:
    view = window.current_view()
    a, b = _two_nodes(window)
    port = view.canvas.nodes[a].port_pos("out", "out")
    send_mouse(view, QEvent.Type.MouseButtonPress, port)
    send_mouse(view, QEvent.Type.MouseButtonRelease, port, LEFT, NONE)
    assert window.quick_add is None and window.project.main.edges == []
    send_mouse(view, QEvent.Type.MouseButtonPress, port)
    send_mouse(view, QEvent.Type.MouseMove, view.canvas.nodes[b].port_pos("in", "in"), NONE, LEFT)
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Escape)
    send_mouse(view, QEvent.Type.MouseButtonRelease, view.canvas.nodes[b].port_pos("in", "in"), LEFT, NONE)
    assert window.project.main.edges == [] and view.canvas.nodes[b].port_states == {}
