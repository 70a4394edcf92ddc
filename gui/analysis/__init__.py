"""Analyze menu: understanding a trained network (evaluation, tracing a sample, saliency maps) and
transfer learning (loading weights from another project, a run or a file, freezing layers).

Importing this package costs nothing at start-up: the views, numpy drawing and torch load when a
menu entry is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction

if TYPE_CHECKING:  # pragma: no cover
    from gui.analysis.controller import AnalysisController
    from gui.main_window import MainWindow

#: (action name, menu text, tip); the action names join window.actions_by_name
ACTIONS = (
    ("analyze_evaluate", "&Evaluate…", "Accuracy, confusion matrix, per-class precision / recall / F1 and the "
     "worst-classified validation samples"),
    ("analyze_trace", "&Trace a Sample…", "One validation sample through the network: every node's activation"),
    ("analyze_saliency", "&Saliency Map…", "Which input pixels the class score is most sensitive to"),
    None,
    ("analyze_load_weights", "&Load Weights…", "Reuse weights from another project, a run, or a .safetensors / "
     ".pt file; freeze reused layers"),
)


def install_analyze_menu(window: MainWindow) -> AnalysisController:
    """Add the Analyze menu to the window's menu bar (after the menus already there) and keep its
    controller as ``window.analysis``."""
    from gui.analysis.controller import AnalysisController

    controller = AnalysisController(window)
    window.analysis = controller
    menu = window.menuBar().addMenu("&Analyze")
    slots = {"analyze_evaluate": controller.open_evaluation, "analyze_trace": controller.open_trace,
             "analyze_saliency": controller.open_saliency, "analyze_load_weights": controller.open_load_weights}
    for entry in ACTIONS:
        if entry is None:
            menu.addSeparator()
            continue
        name, text, tip = entry
        action = QAction(text, window)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False, slot=slots[name]: slot())
        menu.addAction(action)
        window.actions_by_name[name] = action
    controller.menu = menu
    return controller


__all__ = ["install_analyze_menu"]
