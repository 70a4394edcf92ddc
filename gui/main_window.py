"""The main window: canvas tabs in the middle, docks around them, menus, toolbar and status bar.

Later panels plug in with :meth:`MainWindow.add_dock`; they reach the document through
``window.project`` (and ``window.session`` for undoable edits) and follow ``projectReplaced``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QToolButton,
    QWidget,
)

from graph import Analysis, Network, Project
from graph.events import NodeAdded, NodeRemoved
from gui import adaptive_layout, blocks_actions, exchange, first_screen, icons, theme
from gui.analysis import install_analyze_menu
from gui.canvas import editing
from gui.canvas.node_item import format_count
from gui.canvas.view import CanvasView
from gui.files import FileController
from gui.inspector import Inspector
from gui.palette import PalettePanel
from gui.problems_panel import ProblemsPanel, counted_problems
from gui.quick_add import QuickAddPopup
from gui.recovery import RecoveryStore
from gui.session import EditorSession
from gui.settings import AppSettings
from gui.summary_panel import SummaryPanel
from gui.tabs import NetworkTabs
from gui.training import TrainingPanel

log = logging.getLogger(__name__)

APP_NAME = "DeepCanvas"
DEFAULT_SIZE = (1480, 920)
#: why F5 on an untitled project asks where to save it first
TRAINING_NEEDS_A_FILE = "Save the project first: each training run is kept in a 'runs' folder beside its file"

SHORTCUTS_HELP = """<table cellspacing=4>
<tr><td><b>Tab</b> / double-click</td><td>search for a layer and add it at the cursor</td></tr>
<tr><td>drag port → port</td><td>connect (green targets accept, red ones say why not)</td></tr>
<tr><td>drag from a connected input</td><td>re-route that edge; drop on nothing to remove it</td></tr>
<tr><td><b>Del</b> / Backspace</td><td>delete the selection (with its edges)</td></tr>
<tr><td><b>Ctrl+C / X / V / D</b></td><td>copy, cut, paste, duplicate (edges inside come along)</td></tr>
<tr><td><b>Ctrl+A</b></td><td>select all</td></tr>
<tr><td>wheel</td><td>zoom on the cursor</td></tr>
<tr><td>middle drag / Space+drag</td><td>pan</td></tr>
<tr><td><b>F</b></td><td>fit the network (or the selection) to the view</td></tr>
<tr><td><b>Ctrl+L</b></td><td>automatic layout</td></tr>
<tr><td><b>Ctrl+G / Ctrl+Shift+G</b></td><td>group the selection into a block / expand a block</td></tr>
<tr><td><b>Double-click a block</b></td><td>open it to edit its inside (the breadcrumb leads back out)</td></tr>
<tr><td><b>Ctrl+Z / Ctrl+Shift+Z</b></td><td>undo / redo</td></tr>
<tr><td><b>F5</b> / Ctrl+Enter</td><td>start training</td></tr>
<tr><td><b>F6</b></td><td>pause / resume training</td></tr>
<tr><td><b>Shift+F5</b></td><td>stop training</td></tr>
</table>"""


class MainWindow(QMainWindow):
    #: New/Open/recovery replaced the project; panels holding on to it must switch
    projectReplaced = Signal(object)

    def __init__(self, session: EditorSession | None = None, settings: AppSettings | None = None,
                 recovery: RecoveryStore | None = None, themes: theme.ThemeManager | None = None,
                 restore_layout: bool = True) -> None:
        super().__init__()
        self.session = session if session is not None else EditorSession(parent=self)
        self.settings = settings if settings is not None else AppSettings()
        self.themes = themes
        #: False for screenshots and tests: do not touch the person's saved layout
        self.persist_layout = restore_layout
        self.actions_by_name: dict[str, QAction] = {}
        self._docks: list[QDockWidget] = []
        self._state_restored = False
        self.quick_add: QuickAddPopup | None = None
        self._training_sized = False
        self._hint_check_queued = False
        #: why the chosen data set does not fit the network (the Data tab says it; so does the status bar)
        self._data_problem = ""
        self._shape_problems = 0
        self.setObjectName("MainWindow")
        self.setDockNestingEnabled(True)
        self.setDocumentMode(True)

        self.tabs = NetworkTabs(self.session)
        self.setCentralWidget(self.tabs)
        self.palette_panel = PalettePanel(self.session)
        self.inspector = Inspector(self.session)
        self.summary = SummaryPanel(self.session)
        self.problems = ProblemsPanel(self.session)
        self.files = FileController(self, self.session, self.settings, recovery)
        self.training = TrainingPanel(self.session, ensure_saved=self._saved_path_for_training,
                                      current_network=self.current_project_network)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.block_actions = blocks_actions.install(self)
        self.exchange = exchange.install(self)

        self.palette_dock = self.add_dock(self.palette_panel, "Layers", Qt.DockWidgetArea.LeftDockWidgetArea,
                                          "palette")
        self.inspector_dock = self.add_dock(self.inspector, "Inspector", Qt.DockWidgetArea.RightDockWidgetArea,
                                            "inspector")
        self.summary_dock = self.add_dock(self.summary, "Summary", Qt.DockWidgetArea.BottomDockWidgetArea,
                                          "summary")
        self.problems_dock = self.add_dock(self.problems, "Problems", Qt.DockWidgetArea.BottomDockWidgetArea,
                                           "problems")
        self.tabifyDockWidget(self.summary_dock, self.problems_dock)
        self.training_dock = self.add_dock(self.training, "Training", Qt.DockWidgetArea.BottomDockWidgetArea,
                                           "training", tabify_with=self.problems_dock)
        self.summary_dock.raise_()
        self.resize(*DEFAULT_SIZE)
        self.resizeDocks([self.palette_dock, self.inspector_dock], [230, 310], Qt.Orientation.Horizontal)
        self.resizeDocks([self.summary_dock], [220], Qt.Orientation.Vertical)

        self.session.projectReplaced.connect(self._project_replaced)
        self.session.undo_stack.cleanChanged.connect(lambda _c: self._update_title())
        self.session.pathChanged.connect(lambda _p: self._update_title())
        self.session.analysisChanged.connect(self._on_analysis)
        self.session.graphEvent.connect(self._nodes_added_or_removed)
        self.tabs.viewCreated.connect(self._connect_view)
        self.tabs.currentViewChanged.connect(self._current_view_changed)
        self.palette_panel.layerActivated.connect(self.add_layer_from_palette)
        self.summary.nodeChosen.connect(self.select_node)
        self.problems.nodeChosen.connect(self.select_node)
        self.problems.countChanged.connect(self._problem_count)
        self.training.nodeChosen.connect(self.select_node)
        self.training.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.training.raiseRequested.connect(self.show_training)
        self.training.stateChanged.connect(self._training_state)
        self.training.dataProblem.connect(self._data_problem_changed)
        self.files.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.files.recentChanged.connect(self._rebuild_recent_menu)
        QGuiApplication.clipboard().dataChanged.connect(self._update_actions)
        if themes is not None:
            themes.themeChanged.connect(self._theme_changed)
        for view in self.tabs.views():
            self._connect_view(view)
        self._current_view_changed(self.tabs.current_view())
        self._rebuild_recent_menu()
        self._update_title()
        if restore_layout:
            self._restore_layout()
        #: start page, training panel hidden until wanted, docks fitted to the screen
        self.first_screen = first_screen.install(self)

    # -- the public surface for other panels ------------------------------------------------------
    @property
    def project(self) -> Project:
        return self.session.project

    def add_dock(self, widget: QWidget, title: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                 object_name: str | None = None, tabify_with: QDockWidget | None = None) -> QDockWidget:
        """Put ``widget`` in a dock with a Panels-menu entry; its place is remembered between runs."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        if tabify_with is not None:
            self.tabifyDockWidget(tabify_with, dock)
        self._docks.append(dock)
        self.panels_menu.addAction(dock.toggleViewAction())
        if self._state_restored:
            self.restoreDockWidget(dock)
        return dock

    def current_view(self) -> CanvasView | None:
        return self.tabs.current_view()

    def current_network(self) -> Network | None:
        view = self.tabs.current_view()
        return view.canvas.network if view is not None else None

    def current_project_network(self) -> Network | None:
        """The network training, export and analysis act on: the current tab's, or, while the inside
        of a block is open, the project network the user came from (a block is not trained alone)."""
        net = self.current_network()
        if net is None or net in self.project.networks:
            return net
        trail = self.tabs.trail_to(net)
        return trail[0] if trail and trail[0] in self.project.networks else self.project.main

    # -- actions --------------------------------------------------------------------------------
    def _action(self, name: str, text: str, slot: Callable[[], object],
                shortcut: QKeySequence | QKeySequence.StandardKey | str | list[str] | None = None,
                icon: str | None = None, tip: str = "", canvas_only: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        if icon:
            action.setData(icon)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                              if shortcut else tip)
        action.triggered.connect(lambda _checked=False: slot())
        if canvas_only:
            # single keys (F, Delete) must not fire while typing in the inspector or a search box
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.tabs.addAction(action)
        self.actions_by_name[name] = action
        return action

    def _build_actions(self) -> None:
        A = self._action
        Std = QKeySequence.StandardKey
        A("new", "&New…", self.files.new_project, Std.New, "new", "Start a new project from a template or empty")
        A("open", "&Open…", self.files.open_dialog, Std.Open, "open", "Open a project file")
        A("save", "&Save", self.files.save, Std.Save, "save", "Save the project")
        A("save_as", "Save &As…", self.files.save_as, Std.SaveAs, None, "Save the project under a new name")
        A("export", "&Export Python Script…", self._export, "Ctrl+E", "export",
          "Export the training script, or the current network's model alone, as standalone PyTorch")
        # Windows and bare X11 sessions define no Quit key: Ctrl+Q, as most desktop apps use
        A("quit", "&Quit", self.close, Std.Quit if QKeySequence.keyBindings(Std.Quit) else "Ctrl+Q")

        stack = self.session.undo_stack
        undo = stack.createUndoAction(self, "&Undo")
        undo.setShortcuts(QKeySequence.keyBindings(Std.Undo))
        undo.setData("undo")
        redo = stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        redo.setData("redo")
        self.actions_by_name["undo"], self.actions_by_name["redo"] = undo, redo

        A("cut", "Cu&t", lambda: self._on_view(editing.cut_selection), Std.Cut, None, "", True)
        A("copy", "&Copy", lambda: self._on_view(editing.copy_selection), Std.Copy, None, "", True)
        A("paste", "&Paste", lambda: self._on_view(editing.paste), Std.Paste, None, "", True)
        A("duplicate", "D&uplicate", lambda: self._on_view(editing.duplicate_selection), "Ctrl+D", None,
          "Duplicate the selection with the edges inside it", True)
        A("delete", "&Delete", lambda: self._on_view(editing.delete_selection), ["Delete", "Backspace"], "delete",
          "Delete the selection", True)
        A("select_all", "Select &All", lambda: self._on_view(editing.select_all), Std.SelectAll, None, "", True)
        A("quick_add", "Add &Layer…\tTab", self._quick_add_at_cursor, None, "plus", "Search for a layer to add")

        A("fit", "&Fit to View", lambda: self._on_view(lambda v: v.fit_to_view(bool(v.canvas.selected_node_ids()))),
          "F", "fit", "Fit the network (or the selection) in the view", True)
        A("zoom_in", "Zoom &In", lambda: self._on_view(CanvasView.zoom_in), Std.ZoomIn, "zoom_in")
        A("zoom_out", "Zoom &Out", lambda: self._on_view(CanvasView.zoom_out), Std.ZoomOut, "zoom_out")
        A("zoom_reset", "&Actual Size", lambda: self._on_view(CanvasView.reset_zoom), "Ctrl+0")
        snap = A("snap", "&Snap to Grid", self._toggle_snap, None, "grid", "Snap moved nodes to the grid")
        snap.setCheckable(True)
        snap.setChecked(self.settings.snap_to_grid)
        A("layout", "Auto &Layout", lambda: self._on_view(editing.auto_layout), "Ctrl+L", "layout",
          "Arrange the whole network in layers, inputs on the left")

        A("add_network", "&Add Network", self.tabs.add_network, None, "plus", "Add a network to the project")
        A("rename_network", "&Rename Network…",
          lambda: self._with_network(self.tabs.rename_network), None)
        A("remove_network", "Re&move Network", lambda: self._with_network(self.tabs.remove_network), None)

        A("train_start", "&Start Training", self.training.start, ["F5", "Ctrl+Return"], None,
          "Train the current network on the project's data set")
        A("train_pause", "&Pause Training", self.training.toggle_pause, "F6", None,
          "Pause the run at the next step, or resume it")
        A("train_stop", "S&top Training", self.training.stop, "Shift+F5", None,
          "Stop the run at the next step; the weights so far are kept")
        A("train_panel", "Show Training &Panel", self.show_training, "Ctrl+Shift+T", None,
          "Data set, options, live curves and earlier runs")

        A("shortcuts", "&Keyboard and Mouse", self._show_shortcuts, None)
        A("about", "&About DeepCanvas", self._show_about, None)

    def _build_menus(self) -> None:
        a = self.actions_by_name
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for name in ("new", "open"):
            file_menu.addAction(a[name])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        for name in ("save", "save_as"):
            file_menu.addAction(a[name])
        file_menu.addSeparator()
        file_menu.addAction(a["export"])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])

        edit = bar.addMenu("&Edit")
        for name in ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete", None, "select_all",
                     None, "quick_add"):
            edit.addSeparator() if name is None else edit.addAction(a[name])

        view = bar.addMenu("&View")
        for name in ("fit", "zoom_in", "zoom_out", "zoom_reset", None, "snap", "layout"):
            view.addSeparator() if name is None else view.addAction(a[name])
        view.addSeparator()
        self.panels_menu = view.addMenu("&Panels")
        self.theme_menu = view.addMenu("&Theme")
        group = QActionGroup(self)
        current = self.themes.mode if self.themes is not None else "system"
        for mode in theme.MODES:
            act = self.theme_menu.addAction(mode.capitalize() if mode != "system" else "Follow System")
            act.setCheckable(True)
            act.setChecked(mode == current)
            act.triggered.connect(lambda _c=False, m=mode: self._set_theme(m))
            group.addAction(act)

        net = bar.addMenu("&Network")
        for name in ("add_network", "rename_network", "remove_network", None, "layout"):
            net.addSeparator() if name is None else net.addAction(a[name])

        train = bar.addMenu("&Train")
        for name in ("train_start", "train_pause", "train_stop", None, "train_panel"):
            train.addSeparator() if name is None else train.addAction(a[name])
        self._training_state("idle")
        install_analyze_menu(self)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a["shortcuts"])
        help_menu.addAction(a["about"])

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main toolbar")
        bar.setObjectName("toolbar_main")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        a = self.actions_by_name
        for name in ("new", "open", "save", None, "undo", "redo", None, "quick_add", "delete", None,
                     "fit", "zoom_in", "zoom_out", "snap", "layout", None, "export", None, "train_start",
                     "train_pause", "train_stop"):
            bar.addSeparator() if name is None else bar.addAction(a[name])
        self.toolbar = bar
        self._apply_icons()

    def _apply_icons(self) -> None:
        color = theme.current().palette.buttonText().color()
        for action in self.actions_by_name.values():
            name = action.data()
            if isinstance(name, str) and name in icons.names():
                action.setIcon(icons.icon(name, color))
        self.setWindowIcon(icons.icon("layers", theme.current().accent))
        t = theme.current()
        for name, glyph, tint in (("train_start", "start", t.canvas.valid), ("train_pause", "pause", color),
                                  ("train_stop", "stop", t.error), ("train_panel", "train", color)):
            self.actions_by_name[name].setIcon(icons.icon(glyph, tint))

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.problems_button = QToolButton()
        self.problems_button.setAutoRaise(True)
        self.problems_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.problems_button.clicked.connect(self._show_problems)
        self.params_label = QLabel()
        self.zoom_label = QLabel()
        status.addPermanentWidget(self.problems_button)
        status.addPermanentWidget(self.params_label)
        status.addPermanentWidget(self.zoom_label)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for i, path in enumerate(files, 1):
            act = self.recent_menu.addAction(f"&{i}  {path.name}", lambda p=path: self.files.open_path(p))
            act.setStatusTip(str(path))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Menu", lambda: (self.settings.clear_recent(), self._rebuild_recent_menu()))
        self.recent_menu.setEnabled(bool(files))

    # -- reacting -------------------------------------------------------------------------------
    def _connect_view(self, view: CanvasView) -> None:
        view.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        view.zoomChanged.connect(self._zoom_changed)
        view.quickAddRequested.connect(lambda pos, src, v=view: self.open_quick_add(v, pos, src))
        view.canvas.selectionChanged.connect(lambda v=view: self._selection_changed(v))
        view.nodeDoubleClicked.connect(self._edit_node_name)
        view.canvas.snap_to_grid = self.actions_by_name["snap"].isChecked()

    def _nodes_added_or_removed(self, event: object) -> None:
        if isinstance(event, NodeAdded | NodeRemoved) and not self._hint_check_queued:
            self._hint_check_queued = True
            QTimer.singleShot(0, self._refresh_empty_hints)

    def _refresh_empty_hints(self) -> None:
        """An empty canvas shows a hint across the whole view; a node added repaints only its own
        spot, so when a canvas gains its first node (or loses its last) the whole view repaints."""
        self._hint_check_queued = False
        if not shiboken6.isValid(self):
            return
        for view in self.tabs.views():
            has_nodes = bool(view.canvas.nodes)
            if view.property("dc_has_nodes") != has_nodes:
                view.setProperty("dc_has_nodes", has_nodes)
                view.viewport().update()

    def _current_view_changed(self, view: CanvasView | None) -> None:
        net = view.canvas.network if view is not None else None
        self.summary.set_network(net)
        self.problems.set_network(net)
        if view is not None:
            self._selection_changed(view)
            self._zoom_changed(view.zoom)
            self._on_analysis(view.canvas.network, self.session.analysis(view.canvas.network))
        else:
            self.inspector.show_selection(None, [])
        self._update_actions()

    def _selection_changed(self, view: CanvasView) -> None:
        # a scene being destroyed (tab closed, window going away) still announces that it cleared
        if not (shiboken6.isValid(self.tabs) and shiboken6.isValid(view) and shiboken6.isValid(view.canvas)):
            return
        if view is not self.tabs.current_view():
            return
        ids = view.canvas.selected_node_ids()
        self.inspector.show_selection(view.canvas.network, ids)
        self.summary.select_node(ids[0] if len(ids) == 1 else None)
        self._update_actions()

    def _update_actions(self) -> None:
        view = self.tabs.current_view()
        has_nodes = bool(view and view.canvas.selected_node_ids())
        has_any = has_nodes or bool(view and view.canvas.selected_edge_ids())
        a = self.actions_by_name
        for name in ("cut", "copy", "duplicate"):
            a[name].setEnabled(has_nodes)
        a["delete"].setEnabled(has_any)
        a["paste"].setEnabled(view is not None and editing.can_paste())
        a["remove_network"].setEnabled(len(self.project.networks) > 1)

    def _on_analysis(self, network: Network, analysis: Analysis) -> None:
        if network is not self.current_network():
            return
        self.params_label.setText(f"{analysis.total_params:,} params · "
                                  f"{format_count(analysis.total_mult_adds)} mult-adds")
        self._problem_count(len(counted_problems(network, analysis)))

    def _problem_count(self, count: int) -> None:
        """The status bar's count: the network's problems, plus the data set not fitting it."""
        t = theme.current()
        self._shape_problems = count
        if count:
            self.problems_dock.setWindowTitle(f"Problems ({count})")
        else:
            self.problems_dock.setWindowTitle("Problems")
        total = count + (1 if self._data_problem else 0)
        if total:
            self.problems_button.setIcon(icons.icon("error", t.error))
            text = f"{total} problem{'s' if total != 1 else ''}"
            self.problems_button.setText(text if not self._data_problem or count else "Data does not fit")
        else:
            self.problems_button.setIcon(icons.icon("ok", t.canvas.valid))
            self.problems_button.setText("No problems")
        self.problems_button.setToolTip(f"Data: {self._data_problem}" if self._data_problem
                                        else "Every shape fits" if not count else "Show the problems")

    def _data_problem_changed(self, problem: str) -> None:
        self._data_problem = problem
        self._problem_count(self._shape_problems)

    def _show_problems(self) -> None:
        """The network's problems in their dock; when only the data does not fit, the Data tab."""
        if self._data_problem and not self._shape_problems:
            self.show_training()
            self.training.show_data_tab()
            return
        self.problems_dock.show()
        self.problems_dock.raise_()

    def _zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f} %")

    def show_training(self) -> None:
        dock = self.training_dock
        self.training.ensure_built()
        if dock.isVisible() and not dock.visibleRegion().isEmpty():
            return      # already in view (a new run): leave the layout alone
        dock.show()
        dock.raise_()
        wanted = adaptive_layout.bottom_height(self.height())   # room for the plots, not more
        if not self._training_sized and not dock.isFloating() and dock.height() != wanted:
            # the plots need room: size the bottom area the first time (a share of the window)
            self.resizeDocks([dock], [wanted], Qt.Orientation.Vertical)
        self._training_sized = True

    def _saved_path_for_training(self) -> Path | None:
        """Runs live in a folder beside the project file: an untitled project is saved first."""
        if self.session.path is None and not self.files.save_as(TRAINING_NEEDS_A_FILE):
            return None
        return self.session.path

    def _training_state(self, status: str) -> None:
        a = self.actions_by_name
        active = status in ("starting", "loading", "running", "paused", "stopping")
        a["train_start"].setEnabled(not active)
        a["train_pause"].setEnabled(status in ("running", "paused"))
        a["train_pause"].setText("&Resume Training" if status == "paused" else "&Pause Training")
        a["train_stop"].setEnabled(active and status != "stopping")

    def _project_replaced(self, project: Project) -> None:
        self._update_title()
        self._update_actions()
        self.projectReplaced.emit(project)

    def _update_title(self) -> None:
        # the undo stack outlives the window by a moment at exit (its clear() announces that it is
        # clean again while the window is already gone): nothing to title then
        if not shiboken6.isValid(self):
            return
        self.setWindowTitle(f"{self.files.display_name()}[*] — {APP_NAME}")
        self.setWindowModified(self.session.modified)

    def _theme_changed(self, _theme: theme.Theme) -> None:
        self._apply_icons()
        for view in self.tabs.views():
            for item in view.canvas.items():
                item.update()
            view.resetCachedContent()
            view.viewport().update()
        self._problem_count(len(self.problems.messages))
        self.training.apply_theme()

    def _set_theme(self, mode: str) -> None:
        if self.themes is not None:
            self.themes.set_mode(mode)
        self.settings.theme = mode

    def _toggle_snap(self) -> None:
        on = self.actions_by_name["snap"].isChecked()
        self.settings.snap_to_grid = on
        for view in self.tabs.views():
            view.canvas.snap_to_grid = on

    # -- commands on the current canvas -----------------------------------------------------------
    def _on_view(self, fn: Callable[[CanvasView], object]) -> None:
        view = self.tabs.current_view()
        if view is not None:
            fn(view)

    def _with_network(self, fn: Callable[[Network], object]) -> None:
        net = self.current_network()
        if net is not None:
            fn(net)

    def select_node(self, node_id: str) -> None:
        view = self.tabs.current_view()
        if view is not None and node_id in view.canvas.nodes:
            view.canvas.select_nodes([node_id])
            view.centre_on_node(node_id)

    def _edit_node_name(self, node_id: str) -> None:
        self.select_node(node_id)
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.inspector.focus_name()

    def add_layer_from_palette(self, type_id: str) -> str | None:
        """Double-click or Enter in the palette: add at the view centre, or, when one node is
        selected, right after it and wired to it (the fastest way to build a chain)."""
        view = self.tabs.current_view()
        if view is None:
            return None
        selected = view.canvas.selected_node_ids()
        if len(selected) == 1:
            node = view.canvas.network.node(selected[0])
            item = view.canvas.nodes[node.id]
            if node.spec.outputs:
                pos = QPointF(item.pos().x() + 230 + item.rect.width() / 2, item.pos().y() + 12)
                return view.add_node(type_id, pos, connect_from=(node.id, node.spec.outputs[0]))
        return view.add_node(type_id, view.view_centre())

    def _quick_add_at_cursor(self) -> None:
        view = self.tabs.current_view()
        if view is not None:
            view.open_quick_add_at_cursor()

    def open_quick_add(self, view: CanvasView, scene_pos: QPointF, connect_from: tuple[str, str] | None) -> QuickAddPopup:
        title = "Add layer"
        if connect_from is not None:
            title = f"Add layer after {view.canvas.network.node(connect_from[0]).name}"
        popup = QuickAddPopup(self, title, self.session)
        popup.chosen.connect(lambda type_id: view.add_node(type_id, scene_pos, connect_from))
        popup.popup_at(view.mapToGlobal(view.mapFromScene(scene_pos)))
        self.quick_add = popup
        return popup

    def _export(self) -> None:
        net = self.current_project_network()
        self.files.export_python(net.name if net is not None else None)

    def _show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard and mouse", SHORTCUTS_HELP)

    def _show_about(self) -> None:
        QMessageBox.about(self, "About DeepCanvas",
                          "<b>DeepCanvas</b><br>Draw neural networks, see every tensor shape as you draw, "
                          "train them in PyTorch and export clean code.")

    # -- layout persistence and closing ----------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        self._state_restored = True

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_save():
            event.ignore()
            return
        if self.persist_layout:
            self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.training.shutdown()
        self.files.shutdown()
        event.accept()

