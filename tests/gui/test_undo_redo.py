"""Every command undoes to exactly the document it started from and redoes to exactly the one it
made, ids included; the canvas follows both ways."""

from __future__ import annotations

import pytest
from gui_helpers import drag, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPointF

from graph import Network, Project
from graph.templates import make_template
from gui import commands
from gui.canvas import editing
from gui.main_window import MainWindow
from gui.session import EditorSession


@pytest.fixture
def cnn(window: MainWindow) -> MainWindow:
    window.session.replace_project(make_template("cnn-digits"))
    return window


def round_trip(window: MainWindow, make) -> None:
    """Push the command ``make()`` builds, then check undo and redo restore the exact documents
    and that the canvas mirrors each of them."""
    session = window.session
    session.undo_stack.setClean()
    before = snapshot(session.project)
    command = make()
    session.push(command)
    after = snapshot(session.project)
    assert after != before, "the command should change the document"
    assert session.modified
    session.undo_stack.undo()
    assert snapshot(session.project) == before
    assert_canvas_mirrors(window)
    assert not session.modified
    session.undo_stack.redo()
    assert snapshot(session.project) == after
    assert_canvas_mirrors(window)


def assert_canvas_mirrors(window: MainWindow) -> None:
    for net in window.project.networks:
        view = window.tabs.view_for(net)
        assert view is not None
        scene = view.canvas
        assert set(scene.nodes) == {n.id for n in net.nodes}
        assert set(scene.edges) == {e.id for e in net.edges}
        for node in net.nodes:
            item = scene.nodes[node.id]
            assert (item.pos().x(), item.pos().y()) == node.position
            assert item.title == node.name
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [n.name for n in window.project.networks]


def test_add_node(cnn: MainWindow) -> None:
    round_trip(cnn, lambda: commands.AddNodeCommand(cnn.project.main, "Dense", (40, 400), {"units": 7}))


def test_remove_nodes_takes_edges_and_restores_their_ids(cnn: MainWindow) -> None:
    net = cnn.project.main
    ids = [net.find("relu_1").id, net.find("conv2d_2").id]
    round_trip(cnn, lambda: commands.delete_command(net, ids))
    assert cnn.session.undo_stack.count() == 1   # a multi-delete is one step


def test_connect_and_disconnect(cnn: MainWindow) -> None:
    net = cnn.project.main
    extra = net.add_node("Dense", {"units": 3}, "extra", (0, 300))
    cnn.session.undo_stack.setClean()
    round_trip(cnn, lambda: commands.ConnectCommand(net, net.find("image").id, extra.id))
    round_trip(cnn, lambda: commands.delete_command(net, edge_ids=[net.edges[0].id]))


def test_move_by_mouse_is_one_command(cnn: MainWindow) -> None:
    view = cnn.current_view()
    net = cnn.project.main
    a, b = net.find("conv2d_1").id, net.find("relu_1").id
    view.canvas.select_nodes([a, b])
    old = {i: net.node(i).position for i in (a, b)}
    before = snapshot(cnn.project)
    start = view.canvas.nodes[a].sceneBoundingRect().center() + QPointF(0, 8)
    drag(view, start, start + QPointF(67, 103), steps=8)
    assert cnn.session.undo_stack.count() == 1
    for i in (a, b):
        x, y = net.node(i).position
        # whole grid steps from where each started, so the pair keeps its exact relative layout
        assert (x - old[i][0], y - old[i][1]) == (60.0, 100.0)
    cnn.session.undo_stack.undo()
    assert snapshot(cnn.project) == before
    assert_canvas_mirrors(cnn)


def test_param_change_typing_merges(cnn: MainWindow) -> None:
    net = cnn.project.main
    node = net.find("conv2d_1").id
    key = ("field", 1)
    before = snapshot(cnn.project)
    for value in (1, 12, 128):
        cnn.session.push(commands.SetParamCommand(net, node, "filters", value, merge_key=key))
    assert cnn.session.undo_stack.count() == 1
    assert net.node(node).params["filters"] == 128
    cnn.session.push(commands.SetParamCommand(net, node, "filters", 16, merge_key=("field", 2)))
    assert cnn.session.undo_stack.count() == 2   # a new focus starts a new step
    cnn.session.undo_stack.undo()
    cnn.session.undo_stack.undo()
    assert snapshot(cnn.project) == before
    round_trip(cnn, lambda: commands.SetParamCommand(net, node, "kernel_size", "5, 5"))


def test_rename(cnn: MainWindow) -> None:
    net = cnn.project.main
    round_trip(cnn, lambda: commands.RenameNodeCommand(net, net.find("relu_1").id, "first relu"))


def test_paste_duplicate_and_cut(cnn: MainWindow) -> None:
    view = cnn.current_view()
    net = cnn.project.main
    ids = [net.find(n).id for n in ("conv2d_1", "batch_norm2d_1", "relu_1")]
    data = editing.fragment(net, ids)
    assert len(data["edges"]) == 2   # only the edges inside the selection
    round_trip(cnn, lambda: commands.PasteCommand(net, data, (0.0, 600.0)))
    new_ids = cnn.session.undo_stack.command(0).pasted_ids
    assert len(new_ids) == 3 and not set(new_ids) & set(ids)
    inside = [e for e in net.edges if e.source in new_ids and e.target in new_ids]
    assert len(inside) == 2
    # duplicate and cut through the editor, as the menu does
    view.canvas.select_nodes(ids)
    before = snapshot(cnn.project)
    dup = editing.duplicate_selection(view)
    assert len(dup) == 3 and sorted(view.canvas.selected_node_ids()) == sorted(dup)
    assert len([e for e in net.edges if e.source in dup and e.target in dup]) == 2
    cnn.session.undo_stack.undo()
    assert snapshot(cnn.project) == before
    view.canvas.select_nodes(ids)
    assert editing.cut_selection(view)
    assert not set(ids) & {n.id for n in net.nodes}
    pasted = editing.paste(view)
    assert len(pasted) == 3
    cnn.session.undo_stack.undo()
    cnn.session.undo_stack.undo()
    assert snapshot(cnn.project) == before


def test_layout(cnn: MainWindow) -> None:
    net = cnn.project.main
    for i, node in enumerate(net.nodes):
        net.move_node(node.id, (i * 7.0, -i * 13.0))
    cnn.session.undo_stack.setClean()
    round_trip(cnn, lambda: commands.layout_command(net))
    assert cnn.session.undo_stack.count() == 1


def test_networks(cnn: MainWindow) -> None:
    project = cnn.project
    round_trip(cnn, lambda: commands.AddNetworkCommand(project, "decoder"))
    assert cnn.tabs.count() == 2 and cnn.tabs.tabText(1) == "decoder"
    second = project.network("decoder")
    round_trip(cnn, lambda: commands.RenameNetworkCommand(project, second, "head"))
    round_trip(cnn, lambda: commands.RemoveNetworkCommand(project, second))


def test_commands_on_a_readded_network_still_work(cnn: MainWindow) -> None:
    """Redo re-adds the very same network object, so later commands on it replay."""
    stack = cnn.session.undo_stack
    add_net = commands.AddNetworkCommand(cnn.project, "extra")
    cnn.session.push(add_net)
    cnn.session.push(commands.AddNodeCommand(add_net.network, "ReLU", (0, 0)))
    final = snapshot(cnn.project)
    stack.undo()
    stack.undo()
    stack.redo()
    stack.redo()
    assert snapshot(cnn.project) == final
    assert_canvas_mirrors(cnn)


# -- any sequence of edits undoes to where it began ----------------------------------------------
LAYERS = ["Dense", "ReLU", "Flatten", "Dropout", "Add", "Conv2d", "Output"]


@st.composite
def edit_scripts(draw):
    return draw(st.lists(st.tuples(st.sampled_from(["add", "connect", "delete", "param", "rename", "move",
                                                    "paste"]),
                                   st.integers(0, 10_000), st.integers(0, 10_000)), min_size=1, max_size=14))


def _apply(session: EditorSession, net: Network, op: str, a: int, b: int) -> None:
    nodes = net.nodes
    if op == "add" or not nodes:
        session.push(commands.AddNodeCommand(net, LAYERS[a % len(LAYERS)], (a % 500, b % 500)))
        return
    x, y = nodes[a % len(nodes)], nodes[b % len(nodes)]
    if op == "connect":
        if x.spec.outputs and net.can_connect(x.id, y.id)[0]:
            session.push(commands.ConnectCommand(net, x.id, y.id))
    elif op == "delete":
        session.push(commands.delete_command(net, [x.id]))
    elif op == "param" and x.type_id == "Dense":
        session.push(commands.SetParamCommand(net, x.id, "units", 1 + b % 50))
    elif op == "rename":
        session.push(commands.RenameNodeCommand(net, x.id, f"n{b}"))
    elif op == "move":
        session.push(commands.MoveNodesCommand(net, {x.id: (x.position, (float(b % 300), float(a % 300)))}))
    elif op == "paste":
        session.push(commands.PasteCommand(net, editing.fragment(net, [x.id, y.id]), (b % 400, a % 400)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=edit_scripts())
def test_any_edit_sequence_undoes_and_redoes_exactly(window: MainWindow, script) -> None:
    session = window.session
    project = Project(name="p", networks=[Network("main")])
    session.replace_project(project)
    net = project.main
    start = snapshot(project)
    for op, a, b in script:
        before = session.undo_stack.count()
        _apply(session, net, op, a, b)
        assert session.undo_stack.count() <= before + 1
    end = snapshot(project)
    while session.undo_stack.canUndo():
        session.undo_stack.undo()
    assert snapshot(project) == start
    assert_canvas_mirrors(window)
    while session.undo_stack.canRedo():
        session.undo_stack.redo()
    assert snapshot(project) == end
    assert_canvas_mirrors(window)
