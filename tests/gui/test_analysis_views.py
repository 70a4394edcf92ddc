"""The Analyze menu with real data: the views ask for weights when none are attached, then show the
evaluation, a traced sample and a saliency map of the digits network; the load dialog reports what
matched from another project, attaches the weights as one undo step, and its Freeze boxes write
the training option (undo puts everything back)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from graph import NetworkBuilder, Project, compile_network, save_project
from gui import commands
from gui.main_window import MainWindow

WAIT = 60_000
LEFT = Qt.MouseButton.LeftButton


def digits_cnn(units: int = 10) -> Project:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    h = b.chain(x, ("Conv2d", {"filters": 4}), "ReLU", ("MaxPool2d", {}), "Flatten")
    h = b.add("Dense", h, units=units, name="classifier")
    b.output(h, name="logits")
    return b.project("Digits CNN", {"dataset": {"kind": "digits"},
                                    "training": {"recipe": "classification", "epochs": 2}})


@pytest.fixture
def cnn_window(window: MainWindow, tmp_path: Path) -> MainWindow:
    project = digits_cnn()
    path = save_project(project, tmp_path / "digits.dcproj")
    window.session.replace_project(project, path)
    return window


def done(view) -> bool:
    return not view.busy and (view.result is not None or bool(view.error_text))


def test_views_wait_for_weights_then_show_the_network_at_work(qtbot, cnn_window: MainWindow) -> None:
    from engine.analysis import evaluate, load_project_dataset

    window = cnn_window
    session = window.session
    window.actions_by_name["analyze_evaluate"].trigger()
    view = window.analysis.views["evaluate"]
    assert view.isVisible()
    assert view.notice.isVisibleTo(view) and not view.body.isVisibleTo(view)
    assert "No trained weights are attached to 'main'" in view.notice.label.text()
    qtbot.mouseClick(view.notice.button, LEFT)                    # offers to load some
    assert window.analysis.views["weights"].isVisible()
    window.analysis.views["weights"].close()

    weights = compile_network(session.project, seed=5).state_dict()
    session.push(commands.SetWeightsCommand(session, "main", weights, "seeded weights"))
    qtbot.waitUntil(lambda: done(view), timeout=WAIT)             # attaching refreshes the open view
    assert not view.error_text and view.body.isVisibleTo(view)
    expected = evaluate(session.project, "main", weights, load_project_dataset(session.project))
    result = view.result
    np.testing.assert_array_equal(result.confusion, expected.confusion)
    assert f"Accuracy {100 * expected.accuracy:.1f} %" in view.summary.text()
    assert "Weights: seeded weights" == view.weights_label.text()
    assert int(view.confusion.matrix.sum()) == 360
    assert view.table.rowCount() == 10
    assert view.table.item(0, 0).text() == "0" and view.table.item(9, 4).text() == str(int(expected.support[9]))
    assert view.table.item(3, 3).text() == f"{expected.f1[3]:.3f}"
    assert len(view.tiles) == 12
    assert view.tiles[0].caption.startswith(f"#{expected.worst[0].index}:")

    # trace: one row per node, in the order the network runs them; a heading shows its node
    window.actions_by_name["analyze_trace"].trigger()
    tracer = window.analysis.views["trace"]
    qtbot.waitUntil(lambda: done(tracer), timeout=WAIT)
    assert not tracer.error_text
    net = session.project.main
    assert [h.node_id for h in tracer.headings] == [s.node.id for s in compile_network(net).plan.steps]
    assert len(tracer.rows) == len(net.nodes)
    assert len(tracer.picker.tiles) == 16
    first = tracer.result
    qtbot.mouseClick(tracer.picker.tiles[5], LEFT)                # another sample from the strip
    qtbot.waitUntil(lambda: done(tracer) and tracer.result is not first, timeout=WAIT)
    assert tracer.sample_index == 5 and tracer.picker.index == 5
    dataset = tracer.dataset
    np.testing.assert_array_equal(tracer.result.by_name("image").value, dataset.x_val[5])
    conv = net.find("conv2d_1")
    heading = next(h for h in tracer.headings if h.node_id == conv.id)
    qtbot.mouseClick(heading, LEFT)
    assert window.current_view().canvas.selected_node_ids() == [conv.id]

    # saliency: the image's map, for the predicted class and then for a chosen one
    window.actions_by_name["analyze_saliency"].trigger()
    sal = window.analysis.views["saliency"]
    qtbot.waitUntil(lambda: done(sal), timeout=WAIT)
    assert not sal.error_text
    assert sal.result.map.shape == (8, 8) and sal.result.map.max() > 0
    assert sal.result.target_class == sal.result.predicted
    assert not sal.pictures["overlay"].pixmap().isNull()
    assert sal.class_box.count() == 11
    other = (sal.result.predicted + 1) % 10
    previous = sal.result
    sal.set_class(other)
    qtbot.waitUntil(lambda: done(sal) and sal.result is not previous, timeout=WAIT)
    assert sal.result.target_class == other
    assert f"score of class <b>{other}</b>" in sal.caption.text()

    # a regression data set: the evaluation says why it cannot help, and the window carries on
    session.push(commands.SetSettingCommand(session.project, "dataset", {"kind": "diabetes"}))
    view.refresh()
    qtbot.waitUntil(lambda: not view.busy, timeout=WAIT)
    assert "numbers to predict" in view.error_text and view.error.isVisibleTo(view)


def test_load_weights_from_another_project_then_freeze_and_undo(qtbot, cnn_window: MainWindow,
                                                                  tmp_path: Path) -> None:
    window = cnn_window
    session = window.session
    source = digits_cnn(units=4)                       # same convolution, a 4-class head
    source_weights = compile_network(source, seed=9).state_dict()
    save_project(source, tmp_path / "four.dcproj", weights={"main": source_weights})
    training_before = dict(session.project.settings["training"])

    window.actions_by_name["analyze_load_weights"].trigger()
    dialog = window.analysis.views["weights"]
    assert dialog.isVisible() and "'main'" in dialog.heading.text()
    dialog.set_source(tmp_path / "four.dcproj", "project")
    qtbot.waitUntil(lambda: not dialog.busy and dialog.match is not None, timeout=WAIT)
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())}
    assert rows == {"conv2d_1": "matched", "classifier": "changed size"}
    assert "4×64 → 10×64" in dialog.table.item(dialog.freeze_row("classifier"), 3).text()
    assert "1 of 2 layers match (conv2d_1)" in dialog.sentence.text()
    freeze_conv = dialog.table.item(dialog.freeze_row("conv2d_1"), 4)
    freeze_head = dialog.table.item(dialog.freeze_row("classifier"), 4)
    assert freeze_conv.flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert not freeze_head.flags() & Qt.ItemFlag.ItemIsEnabled          # nothing to freeze there
    assert dialog.attach_button.isEnabled()

    qtbot.mouseClick(dialog.attach_button, LEFT)
    attached, where = session.network_weights("main")
    assert set(attached) == {"conv2d_1.weight", "conv2d_1.bias"} and where == "project four.dcproj"
    assert np.array_equal(attached["conv2d_1.weight"].numpy(), source_weights["conv2d_1.weight"].numpy())
    assert window.isWindowModified()

    dialog.set_frozen("conv2d_1", True)
    assert session.project.settings["training"]["frozen_nodes"] == ["conv2d_1"]
    assert session.project.settings["training"]["epochs"] == 2                 # the other options stay
    from engine.options import options_from_project

    assert options_from_project(session.project).frozen_nodes == ("conv2d_1",)
    assert session.undo_stack.undoText() == "Freeze conv2d_1"

    session.undo_stack.undo()                                                  # the freeze
    assert session.project.settings["training"] == training_before
    assert freeze_conv.checkState() == Qt.CheckState.Unchecked               # the tick follows
    session.undo_stack.undo()                                                  # the weights
    assert session.network_weights("main") == (None, "")

    # a file that holds no weights: said in the dialog, nothing attached
    (tmp_path / "notes.pt").write_text("not weights")
    dialog.set_source(tmp_path / "notes.pt", "file")
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT)
    assert "notes.pt is not a PyTorch weights file" in dialog.sentence.text()
    assert dialog.table.rowCount() == 0 and not dialog.attach_button.isEnabled()
