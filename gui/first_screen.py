"""What a new window looks like: the start page (:mod:`gui.start_page`) when no project was
given, no training panel until training starts or it is asked for, and docks that fit the screen
(:mod:`gui.adaptive_layout`).

``install(window)`` wires it all into a :class:`gui.main_window.MainWindow` after its layout was
restored, so a panel left open last time does not greet a person who has nothing to train yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction

from gui.adaptive_layout import AdaptiveLayout
from gui.start_page import StartPage, StartPageHost

if TYPE_CHECKING:
    from gui.main_window import MainWindow


@dataclass
class FirstScreen:
    window: MainWindow
    layout: AdaptiveLayout
    start: StartPageHost
    start_action: QAction

    def show_start_page(self) -> StartPage:
        page = self.start.show()
        page.templateChosen.connect(self._template)
        page.recentChosen.connect(self._recent)
        page.openRequested.connect(self._open)
        page.closeRequested.connect(self.leave)
        return page

    def leave(self) -> None:
        """Hide the start page and give the keyboard to the canvas (Tab adds a layer at once)."""
        was_shown = self.start.visible
        self.start.hide()
        view = self.window.current_view()
        if was_shown and view is not None:
            view.setFocus()

    def _template(self, name: str) -> None:
        files = self.window.files
        if files.new_project(name):   # "" (EMPTY_TEMPLATE): an empty network, no question asked
            self.leave()
            view = self.window.current_view()
            if view is not None:
                view.fit_to_view()

    def _recent(self, path: Path) -> None:
        if self.window.files.open_path(path):
            self.leave()

    def _open(self) -> None:
        if self.window.files.open_dialog():
            self.leave()


def fit_to_screen(window: MainWindow) -> None:
    """A window bigger than the screen (the default size on a 1024×700 laptop) hangs off its
    edges, and its docks are laid out for room the person does not have: take the screen's size."""
    screen = window.screen()
    if screen is None:
        return
    room = screen.availableGeometry()
    width, height = min(window.width(), room.width()), min(window.height(), room.height())
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
        window.move(room.topLeft())


def install(window: MainWindow) -> FirstScreen:
    """Hide the training panel, fit the docks to the window, and offer View ▸ Start Page."""
    window.training_dock.hide()
    fit_to_screen(window)
    # F5 with nothing to train on still shows the panel, where the reason ("choose a data set") is
    window.actions_by_name["train_start"].triggered.connect(lambda _c=False: window.show_training())
    layout = AdaptiveLayout(window, window.palette_dock, window.inspector_dock)
    host = StartPageHost(window)
    action = QAction("&Start Page", window)
    action.setStatusTip("Templates and recent projects")
    window.actions_by_name["start_page"] = action
    view_menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "&View"), None)
    if view_menu is not None:
        first = view_menu.actions()[0] if view_menu.actions() else None
        view_menu.insertAction(first, action)
        view_menu.insertSeparator(first)
    screen = FirstScreen(window, layout, host, action)
    layout.changed.connect(host.place)
    action.triggered.connect(lambda _c=False: screen.show_start_page())
    # any project coming in (New, Open, a recovered copy) leaves the start page
    window.session.projectReplaced.connect(lambda _p: screen.leave())
    return screen
