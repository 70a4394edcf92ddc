"""The inspector's generated editors: types and ranges from the registry, undoable edits that show
on the canvas at once, refusals explained in place."""

from __future__ import annotations

from gui_helpers import snapshot
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from graph.templates import make_template
from gui.main_window import MainWindow
from gui.param_editors import FloatSpinBox


def _select(window: MainWindow, name: str) -> str:
    window.session.replace_project(make_template("cnn-digits")) if len(window.project.main) == 0 else None
    node = window.project.main.find(name)
    window.current_view().canvas.select_nodes([node.id])
    return node.id


def test_editors_follow_the_param_specs(window: MainWindow) -> None:
    _select(window, "conv2d_1")
    ed = window.inspector.editors
    assert isinstance(ed["filters"].field, QSpinBox)
    assert (ed["filters"].field.minimum(), ed["filters"].field.maximum()) == (1, 65536)
    assert ed["filters"].field.toolTip().startswith("Number of output channels")
    assert isinstance(ed["kernel_size"].field, QLineEdit) and ed["kernel_size"].field.text() == "3, 3"
    assert isinstance(ed["bias"].field, QCheckBox) and ed["bias"].field.isChecked()
    _select(window, "dropout_1")
    assert isinstance(window.inspector.editors["p"].field, FloatSpinBox)
    window.session.replace_project(make_template("lstm-sequence"))
    _select(window, "lstm_1")
    combo = window.inspector.editors["output"].field
    assert isinstance(combo, QComboBox) and combo.currentText() == "last"


def test_typing_changes_the_canvas_and_is_one_undo_step(window: MainWindow, qtbot) -> None:
    node_id = _select(window, "conv2d_1")
    view = window.current_view()
    box = window.inspector.editors["filters"].field
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "16")
    net = window.project.main
    assert net.node(node_id).params["filters"] == 16
    assert view.canvas.nodes[node_id].shape_text == "N×16×8×8"
    assert view.canvas.nodes[node_id].param_count == 16 * 9 + 16
    out_edge = net.out_edges(node_id)[0]
    assert view.canvas.edges[out_edge.id].label.text == "N×16×8×8"
    assert window.session.undo_stack.count() == 1     # "1" then "16" merged
    window.session.undo_stack.undo()
    assert net.node(node_id).params["filters"] == 32
    assert box.value() == 32                          # the field follows the document back
    assert view.canvas.nodes[node_id].shape_text == "N×32×8×8"


def test_invalid_value_is_refused_with_a_message(window: MainWindow, qtbot) -> None:
    node_id = _select(window, "conv2d_1")
    before = snapshot(window.project)
    editor = window.inspector.editors["kernel_size"]
    editor.field.setText("3, 3, 3")
    editor.field.editingFinished.emit()
    assert "exactly 2" in editor.error
    assert editor.error_label.isVisibleTo(window.inspector)
    assert snapshot(window.project) == before
    editor.field.setText("5 x 5")
    editor.field.editingFinished.emit()
    assert editor.error == ""
    assert window.project.main.node(node_id).params["kernel_size"] == (5, 5)
    assert editor.field.text() == "5, 5"


def test_shape_error_badge_and_problem_list(window: MainWindow) -> None:
    node_id = _select(window, "conv2d_1")
    view = window.current_view()
    editor = window.inspector.editors["kernel_size"]
    editor.field.setText("11, 11")
    editor.field.editingFinished.emit()
    item = view.canvas.nodes[node_id]
    assert item.error and item.badge.isVisible()
    assert item.badge.toolTip() == item.error
    assert window.problems.messages == [item.error]
    assert "kernel" in item.error
    assert window.problems_button.text() == "1 problem"
    assert window.inspector._error_box.text() == item.error
    # downstream nodes wait for the fix (no shape, no message of their own)
    nxt = window.project.main.out_edges(node_id)[0].target
    assert view.canvas.nodes[nxt].shape_text == "" and view.canvas.nodes[nxt].error is None
    window.session.undo_stack.undo()
    assert not item.badge.isVisible() and window.problems.messages == []


def test_rename_in_place(window: MainWindow, qtbot) -> None:
    node_id = _select(window, "relu_1")
    edit = window.inspector.name_edit
    edit.setText("activation")
    edit.editingFinished.emit()
    assert window.project.main.node(node_id).name == "activation"
    assert window.current_view().canvas.nodes[node_id].title == "activation"
    edit.setText("   ")
    edit.editingFinished.emit()
    assert window.inspector.name_error.text() and window.project.main.node(node_id).name == "activation"
    window.session.undo_stack.undo()
    assert window.inspector.name_edit.text() == "relu_1"


def test_checkbox_and_combo_edits(window: MainWindow, qtbot) -> None:
    window.session.replace_project(make_template("lstm-sequence"))
    node_id = _select(window, "lstm_1")
    view = window.current_view()
    check = window.inspector.editors["bidirectional"].field
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    assert window.project.main.node(node_id).params["bidirectional"] is True
    assert view.canvas.nodes[node_id].shape_text == "N×96"
    combo = window.inspector.editors["output"].field
    combo.activated.emit(combo.findText("sequence"))
    assert view.canvas.nodes[node_id].shape_text == "N×20×96"
    assert window.session.undo_stack.count() == 2


def test_network_overview_when_nothing_is_selected(window: MainWindow) -> None:
    window.session.replace_project(make_template("mlp-digits"))
    window.current_view().canvas.clearSelection()
    info = window.inspector._info
    assert info["nodes"].text() == str(len(window.project.main))
    assert info["params"].text() == f"{sum(n.cost.params for n in window.session.analysis(window.project.main).nodes.values()):,}"


def test_rename_network_from_the_overview(window: MainWindow) -> None:
    window.current_view().canvas.clearSelection()
    edit = window.inspector.name_edit
    assert edit.text() == "main"
    edit.setText("encoder")
    edit.editingFinished.emit()
    assert window.project.main.name == "encoder" and window.tabs.tabText(0) == "encoder"
    window.session.undo_stack.undo()
    assert window.inspector.name_edit.text() == "main" and window.tabs.tabText(0) == "main"


def test_wheel_over_an_unfocused_field_does_not_edit(window: MainWindow) -> None:
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    _select(window, "conv2d_1")
    box = window.inspector.editors["filters"].field
    window.current_view().setFocus()
    event = QWheelEvent(QPointF(5, 5), QPointF(box.mapToGlobal(QPoint(5, 5))), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(box, event)
    assert box.value() == 32 and window.session.undo_stack.count() == 0
