"""Composite blocks in the editor, driven through the real widgets: palette and quick-add, grouping,
opening with breadcrumbs, expanding, exposing, independent copies, the block library on disk and the
clipboard."""

from __future__ import annotations

import json
from pathlib import Path

from gui_helpers import send_mouse, snapshot
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu

from graph import Project
from graph.builder import NetworkBuilder
from gui import blocks, commands
from gui.blocks_breadcrumb import BlockPage
from gui.canvas import view as view_module
from gui.canvas.view import CanvasView
from gui.main_window import MainWindow
from gui.session import empty_project


def autoencoder(uses: int = 1) -> Project:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    z = b.block("encoder", x, name="encoder")
    for i in range(1, uses):
        b.output(b.block("Encoder", x, name=f"encoder_{i + 1}"), name=f"code_{i + 1}")
    b.output(b.block("decoder", z, name="decoder"), name="reconstruction")
    return b.project("ae")


def chain() -> Project:
    b = NetworkBuilder()
    x = b.input((20,), name="x")
    h = b.add("Dense", x, units=16, name="fc1")
    h = b.add("ReLU", h, name="act")
    h = b.add("Dense", h, units=8, name="fc2")
    b.output(b.add("Dense", h, units=3, name="head"), name="y")
    return b.project("chain")


def load(window: MainWindow, project: Project) -> CanvasView:
    window.session.replace_project(project)
    QApplication.processEvents()
    view = window.current_view()
    assert view is not None
    return view


def drop(view: CanvasView, window: MainWindow, key: str, scene_pos: QPointF) -> None:
    """Drag a palette row onto the canvas (the mime data the palette itself makes)."""
    palette = window.palette_panel
    item = palette.block_items.get(key) or palette.items[key]
    mime = palette.tree.mimeData([item])
    point = QPointF(view.mapFromScene(scene_pos))
    event = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)


def item_centre(view: CanvasView, node_id: str) -> QPointF:
    return view.canvas.nodes[node_id].sceneBoundingRect().center()


def double_click(view: CanvasView, node_id: str) -> None:
    pos = item_centre(view, node_id) + QPointF(0, 10)
    send_mouse(view, QEvent.Type.MouseButtonDblClick, pos)


def settle() -> None:
    QApplication.processEvents()
    QApplication.processEvents()


def test_palette_offers_blocks_and_a_drop_is_one_undo_step(window: MainWindow) -> None:
    view = load(window, chain())
    palette = window.palette_panel
    titles = [palette.block_items[k].text(0) for k in palette.visible_block_keys()]
    assert {"Encoder", "Decoder", "Residual", "Transformer Block", "DCGAN Generator"} <= set(titles)
    assert "MLP encoder" in palette.block_items["block:builtin:encoder"].toolTip(0)
    palette.search_box.setText("dcgan")
    assert [palette.block_items[k].text(0) for k in palette.visible_block_keys()] == \
        ["DCGAN Generator", "DCGAN Discriminator"]
    palette.search_box.clear()

    session, project = window.session, window.project
    before = snapshot(project)
    drop(view, window, "block:builtin:generator", QPointF(300, 300))
    settle()
    node = project.main.block_nodes()[0]
    assert node.params["block"] == "Generator" and project.blocks.names == ["Generator"]
    assert session.undo_stack.count() == 1
    assert view.canvas.selected_node_ids() == [node.id]
    item = view.canvas.nodes[node.id]
    assert item.is_block and item.spec.display_name == "Generator"
    # the project's palette group lists only the user's own definitions; a second drop reuses it
    drop(view, window, "block:builtin:generator", QPointF(300, 500))
    assert len(project.blocks) == 1 and len(project.main.block_nodes()) == 2
    session.undo_stack.undo()
    session.undo_stack.undo()
    assert snapshot(project) == before and len(project.blocks) == 0
    session.undo_stack.redo()
    assert project.blocks.names == ["Generator"] and len(view.canvas.nodes) == len(project.main)

    # the quick-add popup offers blocks too, ranked by name
    popup = window.open_quick_add(view, QPointF(0, 400), None)
    popup.edit.setText("discrim")
    assert popup.list.item(0).text().startswith("Discriminator")
    popup.choose_current()
    assert project.blocks.names == ["Generator", "Discriminator"]


def test_group_into_block_and_undo_redo(window: MainWindow, dialog) -> None:
    view = load(window, chain())
    project, stack = window.project, window.session.undo_stack
    net = project.main
    before = snapshot(project)
    head = net.find("head").id
    view.canvas.select_nodes([net.find(n).id for n in ("fc1", "act", "fc2")])
    dialog.text = "Body"
    window.actions_by_name["group_block"].trigger()
    settle()
    grouped = snapshot(project)
    block = net.block_nodes()[0]
    assert block.params["block"] == "Body" and project.blocks.names == ["Body"]
    assert view.canvas.selected_node_ids() == [block.id]
    assert view.canvas.nodes[block.id].shape_text == "N×8"      # shapes flow through the block
    assert view.canvas.nodes[head].shape_text == "N×3"
    assert "block:project:Body" in window.palette_panel.block_items
    stack.undo()
    settle()
    assert snapshot(project) == before and set(view.canvas.nodes) == {n.id for n in net.nodes}
    assert "block:project:Body" not in window.palette_panel.block_items
    stack.redo()
    assert snapshot(project) == grouped
    # an edit inside the new block survives undoing and redoing the grouping under it
    inside = project.blocks.get("Body").network
    window.session.push(commands.AddNodeCommand(inside, "Dropout", (0, 300), name="drop"))
    edited = snapshot(project)
    stack.undo()
    stack.undo()
    assert snapshot(project) == before
    stack.redo()
    stack.redo()
    assert snapshot(project) == edited and project.blocks.get("Body").network is inside
    stack.undo()

    # a refusal says why and changes nothing
    count = stack.count()
    view.canvas.select_nodes([net.find("x").id, block.id])
    window.actions_by_name["group_block"].trigger()
    assert dialog.errors and "Input and Output" in dialog.errors[-1][1]
    assert snapshot(project) == grouped and stack.count() == count


def test_open_block_breadcrumbs_and_edits_inside_update_the_uses(window: MainWindow) -> None:
    view = load(window, autoencoder(uses=2))
    project, tabs = window.project, window.tabs
    outer = project.main
    uses = [n.id for n in outer.block_nodes("Encoder")]
    params_before = view.canvas.nodes[uses[0]].param_count
    double_click(view, uses[0])
    settle()
    page = tabs.currentWidget()
    assert isinstance(page, BlockPage) and page.network is project.blocks.get("Encoder").network
    assert page.crumbs.text() == "main › Encoder"
    inner_view = window.current_view()
    assert inner_view is page.view and inner_view is not view
    assert inner_view.canvas.nodes[page.network.find("hidden_2").id].shape_text == "N×64"

    # edit inside with the ordinary inspector: every use follows on the outer canvas
    hidden = page.network.find("hidden_2").id
    inner_view.canvas.select_nodes([hidden])
    editor = window.inspector.editors["bias"]
    editor.field.setChecked(False)
    settle()
    assert project.blocks.get("Encoder").network.node(hidden).params["bias"] is False
    for node_id in uses:
        assert view.canvas.nodes[node_id].param_count == params_before - 64
    # a new Input inside is a new input port on every use
    window.session.push(commands.AddNodeCommand(page.network, "Input", (0, 300), {"shape": [3]}, name="extra"))
    settle()
    assert view.canvas.nodes[uses[1]].ports("in") == ["x", "extra"]
    window.session.undo_stack.undo()
    window.session.undo_stack.undo()
    settle()
    assert view.canvas.nodes[uses[1]].ports("in") == ["x"]
    assert view.canvas.nodes[uses[0]].param_count == params_before

    # back out by the breadcrumb, close the block, open it again from the context action
    page.crumbs.buttons[0].click()
    assert window.current_view() is view
    tabs.close_block(page)
    settle()
    assert not tabs.block_pages()
    view.canvas.select_nodes([uses[1]])
    window.actions_by_name["open_block"].trigger()
    assert tabs.block_pages() and window.current_network() is project.blocks.get("Encoder").network

    # a new project closes the block tabs
    window.session.replace_project(empty_project())
    settle()
    assert not tabs.block_pages() and tabs.count() == 1


def test_nested_blocks_show_the_whole_way_in(window: MainWindow, dialog) -> None:
    b = NetworkBuilder()
    x = b.input((16, 8, 8), name="x")
    b.output(b.block("residual", x, name="res"))
    project = b.project("nested")
    view = load(window, project)
    library = project.blocks
    # a Stage block holding the Residual block
    command = blocks.group_command(project.main, project, [project.main.find("res").id], "Stage")
    window.session.push(command)
    view.canvas.select_nodes([command.result.id])
    window.actions_by_name["open_block"].trigger()
    stage_view = window.current_view()
    inner_res = library.get("Stage").network.block_nodes("Residual")[0].id
    double_click(stage_view, inner_res)
    settle()
    page = window.tabs.currentWidget()
    assert isinstance(page, BlockPage) and page.crumbs.text() == "main › Stage › Residual"
    page.crumbs.buttons[1].click()
    assert window.current_network() is library.get("Stage").network
    window.tabs.close_block(window.tabs.page_for(library.get("Stage").network))
    page.crumbs.buttons[1].click()             # reopens the closed block on the way out
    assert window.current_network() is library.get("Stage").network
    assert window.tabs.currentWidget().crumbs.text() == "main › Stage"
    # renaming a block (double-click its tab) renames every use, the tab and the crumbs; undoable
    dialog.text = "Deep stage"
    window.tabs.rename_block(window.tabs.currentWidget())
    stage_tab = window.tabs.indexOf(window.tabs.currentWidget())
    assert window.tabs.tabText(stage_tab) == "Deep stage" and page.crumbs.text() == "main › Deep stage › Residual"
    assert project.main.node(command.result.id).spec.display_name == "Deep stage"
    assert view.canvas.nodes[command.result.id].spec.display_name == "Deep stage"
    window.session.undo_stack.undo()
    assert window.tabs.tabText(stage_tab) == "Stage" and page.crumbs.text() == "main › Stage › Residual"


def test_expand_block_with_undo(window: MainWindow) -> None:
    view = load(window, autoencoder())
    project, stack = window.project, window.session.undo_stack
    before = snapshot(project)
    old_ids = {n.id for n in project.main.nodes}
    node = project.main.find("encoder")
    view.canvas.select_nodes([node.id])
    window.actions_by_name["expand_block"].trigger()
    settle()
    names = {n.name for n in project.main.nodes}
    assert {"flatten", "hidden_1", "latent"} <= names and "encoder" not in names
    new_ids = {n.id for n in project.main.nodes} - old_ids
    assert len(new_ids) == 6 and set(view.canvas.selected_node_ids()) == new_ids
    assert "Encoder" in project.blocks        # the definition stays for other uses
    assert window.session.analysis(project.main).ok
    stack.undo()
    assert snapshot(project) == before
    assert view.canvas.nodes[node.id].is_block


def test_expose_toggle_inside_a_block(window: MainWindow) -> None:
    view = load(window, autoencoder())
    project, stack = window.project, window.session.undo_stack
    encoder = project.main.find("encoder")
    project.main.set_param(encoder.id, "hidden_1", 99)        # this use's own value
    stack.clear()
    window.tabs.open_block(project.main, encoder.id)
    inside = project.blocks.get("Encoder").network
    inner = window.current_view()
    inner.canvas.select_nodes([inside.find("hidden_1").id])
    boxes = window.inspector.expose_boxes
    assert boxes["units"].isChecked() and not boxes["bias"].isChecked()
    boxes["bias"].setChecked(True)
    assert encoder.params["hidden_1_bias"] is True
    assert "Hidden 1 bias" in [p.title for p in encoder.spec.params]
    boxes["units"].setChecked(False)
    assert "hidden_1" not in encoder.params
    stack.undo()
    assert encoder.params["hidden_1"] == 99 and boxes["units"].isChecked()   # the use's value comes back
    stack.undo()
    assert "hidden_1_bias" not in encoder.params and not boxes["bias"].isChecked()
    # the outer inspector shows exposed params as fields, the definition read-only
    window.tabs.show_network(project.main)
    view.canvas.select_nodes([encoder.id])
    editors = window.inspector.editors
    assert editors["block"].field.isReadOnly() and editors["block"].field.text() == "Encoder"
    assert set(editors) == {"block", "hidden_1", "hidden_2", "latent"}


def test_make_independent_copy_changes_one_use(window: MainWindow) -> None:
    view = load(window, autoencoder(uses=2))
    project, stack = window.project, window.session.undo_stack
    first, second = project.main.block_nodes("Encoder")
    view.canvas.select_nodes([second.id])
    settle()
    before = snapshot(project)
    window.inspector.block_buttons["independent_block"].click()
    settle()
    node = project.main.node(second.id)
    assert node.params["block"] == "Encoder copy" and project.main.node(first.id).params["block"] == "Encoder"
    assert view.canvas.selected_node_ids() == [second.id]
    assert window.inspector.editors["block"].field.text() == "Encoder copy"
    copy = project.blocks.get("Encoder copy").network
    copy.set_param(copy.find("hidden_2").id, "bias", False)
    settle()
    assert view.canvas.nodes[second.id].param_count == view.canvas.nodes[first.id].param_count - 64
    copy.set_param(copy.find("hidden_2").id, "bias", True)
    stack.undo()
    assert snapshot(project) == before
    # the inspector's Open Block button opens the definition
    view.canvas.select_nodes([first.id])
    window.inspector.block_buttons["open_block"].click()
    assert window.current_network() is project.blocks.get("Encoder").network


def test_saved_block_is_offered_and_dropped_into_a_new_project(window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "library"
    window.session.set_block_folder(folder)
    view = load(window, autoencoder())
    project = window.project
    view.canvas.select_nodes([project.main.find("encoder").id])
    inside = project.blocks.get("Encoder").network
    inside.set_param(inside.find("hidden_2").id, "bias", False)     # the user's own variant
    window.actions_by_name["save_block"].trigger()
    saved = folder / "Encoder.dcblock"
    assert saved.is_file() and json.loads(saved.read_text())["block"] == "Encoder"
    key = f"block:saved:{saved}"
    assert key in window.palette_panel.block_items

    view = load(window, empty_project())
    drop(view, window, key, QPointF(0, 0))
    fresh = window.project
    node = fresh.main.block_nodes()[0]
    assert node.params["block"] == "Encoder"
    assert fresh.blocks.get("Encoder").network.find("hidden_2").params["bias"] is False
    window.session.undo_stack.undo()
    assert len(fresh.blocks) == 0 and not fresh.main.nodes


def test_copy_paste_blocks_into_a_fresh_project(window: MainWindow) -> None:
    view = load(window, autoencoder())
    project = window.project
    view.canvas.select_nodes([project.main.find("encoder").id, project.main.find("decoder").id])
    window.actions_by_name["copy"].trigger()
    clip = json.loads(QGuiApplication.clipboard().text())
    assert [b["name"] for b in clip["blocks"]] == ["Decoder", "Encoder"]

    view = load(window, empty_project())
    fresh = window.project
    window.actions_by_name["paste"].trigger()
    assert sorted(n.params["block"] for n in fresh.main.block_nodes()) == ["Decoder", "Encoder"]
    assert fresh.blocks.names == ["Decoder", "Encoder"] and len(fresh.main.edges) == 1
    # a second paste reuses the identical definitions
    window.actions_by_name["paste"].trigger()
    assert len(fresh.blocks) == 2 and len(fresh.main.block_nodes()) == 4
    window.session.undo_stack.undo()
    window.session.undo_stack.undo()
    assert len(fresh.blocks) == 0 and not fresh.main.nodes
    QGuiApplication.clipboard().clear()


def test_context_menu_offers_the_block_actions_that_apply(window: MainWindow, monkeypatch) -> None:
    shown: list[list[str]] = []

    class Recorder(QMenu):
        def exec(self, *_args: object) -> None:      # record instead of blocking on a real menu
            shown.append([a.text().replace("&", "") for a in self.actions() if not a.isSeparator()])

    monkeypatch.setattr(view_module, "QMenu", Recorder)
    view = load(window, autoencoder())
    view.fit_to_view()
    for name in ("encoder", "image"):
        pos = view.mapFromScene(item_centre(view, window.project.main.find(name).id))
        view.contextMenuEvent(QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, view.viewport().mapToGlobal(pos)))
    on_block, on_input = shown
    assert on_block[:5] == ["Open Block", "Group into Block…", "Expand Block", "Make Independent Copy",
                            "Save Block to Library…"]
    assert "Expand Block" not in on_input and "Group into Block…" in on_input


def test_training_and_export_act_on_the_project_network_while_a_block_is_open(window, qtbot):
    """Inside an opened block the canvas shows the definition, but a block is not trained or
    exported alone: the window hands the network the user came from to those."""
    from graph.builder import NetworkBuilder

    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    b.output(b.block("encoder", x, name="encoder"), name="code")
    window.session.replace_project(b.project("blocks"))
    main = window.session.project.main
    window.tabs.open_block(main, main.find("encoder").id)
    assert window.current_network() is window.session.project.blocks.get("Encoder").network
    assert window.current_project_network() is main
