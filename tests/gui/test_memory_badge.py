"""The too-big problem of the shape pass reaches the canvas: the node that asks for too much memory
carries the error badge, its tooltip says what it needs and what there is."""

from __future__ import annotations

import graph
from graph.memory import memory_limit_override
from gui.canvas.scene import CanvasScene
from gui.session import EditorSession


def test_the_node_too_big_for_memory_shows_the_error_badge(qtbot) -> None:
    b = graph.NetworkBuilder("main")
    x = b.input((1_000_000,), name="features")
    b.output(b.chain(x, ("Dense", {"units": 1_000_000}), ("Dense", {"units": 10})))
    project = graph.Project("huge", [b.network])
    with memory_limit_override(64 * 2**30):
        session = EditorSession(project)
        scene = CanvasScene(session, project.main)
        try:
            wide = scene.nodes[project.main.find("dense_1").id]
            narrow = scene.nodes[project.main.find("dense_2").id]
            assert wide.badge.isVisibleTo(wide) and not narrow.badge.isVisibleTo(narrow)
            assert wide.badge.toolTip().startswith("Dense 'dense_1' needs 14.6 TiB to train")
            assert "64.0 GiB" in wide.badge.toolTip()
        finally:
            scene.detach()


def test_a_batch_size_change_rechecks_memory_at_once(qtbot) -> None:
    """Raising the batch size in the training options is enough to make a wide layer too big; undo
    takes the badge away again, with no edit to the network in between."""
    from gui.commands import SetSettingCommand

    b = graph.NetworkBuilder("main")
    x = b.input((4096,), name="features")
    b.output(b.chain(x, ("Dense", {"units": 4096}), ("Dense", {"units": 10})))
    project = graph.Project("wide", [b.network])
    project.settings["training"] = {"batch_size": 8}
    with memory_limit_override(2**30):
        session = EditorSession(project)
        scene = CanvasScene(session, project.main)
        try:
            wide = scene.nodes[project.main.find("dense_1").id]
            assert not wide.badge.isVisibleTo(wide)
            session.push(SetSettingCommand(project, "training", {"batch_size": 200_000}))
            session.flush()
            assert wide.badge.isVisibleTo(wide)
            assert "batch of 200000" in wide.badge.toolTip() or "200,000" in wide.badge.toolTip()
            session.undo_stack.undo()
            session.flush()
            assert not wide.badge.isVisibleTo(wide)
        finally:
            scene.detach()
