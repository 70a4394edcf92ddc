"""Issue 16, points 4 and 10: the window at 1024×700 and the first screen, driven with real events."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

import graph
from graph.templates import make_template
from gui.main_window import MainWindow


def _settle(qtbot) -> None:
    for _ in range(4):
        QApplication.processEvents()
    qtbot.wait(20)


def test_at_1024x700_the_canvas_keeps_its_share_and_side_docks_become_tabs(qtbot, window: MainWindow) -> None:
    window.session.replace_project(make_template("cnn-digits"))
    window.resize(1024, 700)
    _settle(qtbot)
    assert window.inspector_dock in window.tabifiedDockWidgets(window.palette_dock)
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window, Qt.Key.Key_T, mods)     # Train ▸ Show Training Panel
    _settle(qtbot)
    assert window.training_dock.isVisible()
    viewport = window.current_view().viewport()
    assert viewport.height() >= 0.4 * window.height(), viewport.size()
    assert viewport.width() >= 0.6 * window.width(), viewport.size()
    # wide again: the docks go back to both sides
    window.resize(1480, 920)
    _settle(qtbot)
    assert window.inspector_dock not in window.tabifiedDockWidgets(window.palette_dock)
    assert window.dockWidgetArea(window.palette_dock) == Qt.DockWidgetArea.LeftDockWidgetArea


def test_narrow_plots_become_one_tabbed_view(qtbot, window: MainWindow) -> None:
    window.resize(1024, 700)
    _settle(qtbot)
    window.show_training()
    _settle(qtbot)
    plots = window.training.plots
    assert plots.arranger.mode == "tabs"
    assert plots.arranger.tab_bar.isVisible()
    shown = [item for item in plots.widget.ci.items]
    assert shown == [plots.plots["loss"]]
    tab_bar = plots.arranger.tab_bar
    qtbot.mouseClick(tab_bar, Qt.MouseButton.LeftButton, pos=tab_bar.tabRect(2).center())
    assert list(plots.widget.ci.items) == [plots.plots["lr"]]
    # given room, the four plots come back side by side
    window.resize(1600, 1000)
    _settle(qtbot)
    assert plots.arranger.mode in ("row", "grid") and not tab_bar.isVisible(), plots.size()
    assert len(plots.widget.ci.items) == 4


def test_start_page_opens_a_template(qtbot, window: MainWindow) -> None:
    page = window.first_screen.show_start_page()
    _settle(qtbot)
    assert page.isVisible() and set(page.cards) >= {"mlp-digits", "cnn-digits", ""}
    card = page.cards["mlp-digits"]
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert window.project.name == "MLP on digits"
    assert not window.first_screen.start.visible
    assert window.current_view().canvas.nodes          # the editor, with the network
    # View ▸ Start Page brings it back; Esc leaves it
    window.actions_by_name["start_page"].trigger()
    _settle(qtbot)
    page = window.first_screen.start.page
    assert page is not None and page.isVisible()
    qtbot.keyClick(page, Qt.Key.Key_Escape)
    assert not window.first_screen.start.visible


def test_start_page_lists_and_opens_recent_projects(qtbot, window: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "seq.dcproj"
    graph.save_project(make_template("lstm-sequence"), path)
    window.settings.add_recent(path)
    window.settings.add_recent(tmp_path / "gone.dcproj")   # deleted since: not offered
    page = window.first_screen.show_start_page()
    _settle(qtbot)
    assert list(page.recent_buttons) == [path.resolve()]
    qtbot.mouseClick(page.recent_buttons[path.resolve()], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert window.session.path == path.resolve()
    assert not window.first_screen.start.visible


def test_an_empty_network_shows_no_problem_count(qtbot, window: MainWindow) -> None:
    _settle(qtbot)
    assert not window.current_network().nodes
    assert window.problems_button.text() == "No problems"
    assert window.problems_dock.windowTitle() == "Problems"
    assert window.problems.messages == []
    # one node: now the missing Input/Output are real problems, and counted
    window.add_layer_from_palette("Dense")
    _settle(qtbot)
    assert "problem" in window.problems_button.text() and window.problems_button.text() != "No problems"


def test_training_panel_hidden_at_start_and_shown_on_f5(qtbot, window: MainWindow) -> None:
    assert not window.training_dock.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    _settle(qtbot)
    assert window.training_dock.isVisible()
    assert not window.training_dock.visibleRegion().isEmpty()
    assert window.training.banner.isVisible()      # and it says why nothing started
