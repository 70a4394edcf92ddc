"""Application start-up: ``run(project, screenshot)`` is what ``main.py`` calls.

Start-up stays light on purpose: PySide6 and the pure-Python ``graph`` core only. torch is
imported later, by the first action that needs it (export, compile, training), so the window
appears in a fraction of the time torch alone takes to import.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow
from gui.settings import AppSettings
from gui.theme import ThemeManager

log = logging.getLogger(__name__)

#: the start-up benchmark sets this: write when the canvas first painted, then quit
FIRST_PAINT_ENV = "DEEPCANVAS_FIRST_PAINT_FILE"
SCREENSHOT_SIZE = (1600, 1000)


def _application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication([sys.argv[0] if sys.argv else "deepcanvas"])
    app.setOrganizationName("DeepCanvas")
    app.setOrganizationDomain("deepcanvas.app")
    app.setApplicationName("DeepCanvas")
    return app


def create_window(settings: AppSettings | None = None, restore_layout: bool = True) -> MainWindow:
    app = _application()
    settings = settings or AppSettings()
    themes = ThemeManager(app, settings.theme)
    return MainWindow(settings=settings, themes=themes, restore_layout=restore_layout)


def _no_display() -> bool:
    return (sys.platform.startswith("linux") and "QT_QPA_PLATFORM" not in os.environ
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")))


def run(project: str | None = None, screenshot: str | None = None,
        size: tuple[int, int] | None = None) -> int:
    if _no_display():
        if not screenshot:
            # Qt would abort with a core dump; say what to do instead
            log.error("no display found: run DeepCanvas on a desktop, use the headless commands "
                      "(python main.py --help), or set QT_QPA_PLATFORM=offscreen")
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"   # a screenshot needs no display
    app = _application()
    window = create_window(restore_layout=screenshot is None)
    _report_unexpected_errors(window)
    if screenshot:
        window.files.remember_files = False
        window.files.interactive = False
        window.files.autosave_timer.stop()
    if project and not window.files.open_path(project, ask_to_save=False) and screenshot:
        window.files.shutdown()
        return 1
    if not project:
        window.first_screen.show_start_page()     # templates and recent projects first
    if screenshot:
        return save_screenshot(window, Path(screenshot), size or SCREENSHOT_SIZE)
    probe = os.environ.get(FIRST_PAINT_ENV)
    if probe:
        _FirstPaintProbe(window, Path(probe))
    window.show()
    if not probe:
        QTimer.singleShot(0, window.files.offer_recovery)
    return app.exec()


def _report_unexpected_errors(window: MainWindow) -> None:
    """A bug in a slot must not pass silently (PySide only prints it) nor take the editor down:
    log it with its traceback and say so in the status bar."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        log.error("unexpected error", exc_info=(kind, value, tb))
        try:
            window.statusBar().showMessage(f"Internal error: {value} (details in the log)", 10000)
        except RuntimeError:   # the window is already gone
            pass

    sys.excepthook = hook


def save_screenshot(window: MainWindow, path: Path, size: tuple[int, int] = SCREENSHOT_SIZE) -> int:
    """Render the window as a person would see it (laid out, fitted) to a PNG."""
    app = _application()
    window.resize(*size)
    window.show()
    for _ in range(3):
        app.processEvents()
    window.first_screen.layout.apply()      # the docks as they settle at this size
    app.processEvents()
    for view in window.tabs.views():
        view.fit_to_view()
    app.processEvents()
    pixmap = window.grab()
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = pixmap.save(str(path))
    window.files.shutdown()
    window.persist_layout = False
    window.hide()
    if not ok:
        log.error("could not write the screenshot to %s", path)
        return 1
    log.info("wrote screenshot %s (%dx%d)", path, pixmap.width(), pixmap.height())
    return 0


class _FirstPaintProbe(QObject):
    """Notes the moment the canvas first paints (wall clock, so a parent process can subtract its
    own start time) and whether torch was loaded by then, then quits."""

    def __init__(self, window: MainWindow, out: Path) -> None:
        super().__init__(window)
        self.window = window
        self.out = out
        self.done = False
        view = window.tabs.current_view()
        target = view.viewport() if view is not None else window
        if window.first_screen.start.page is not None:    # the start page is what shows first
            target = window.first_screen.start.page
        target.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.done:
            self.done = True
            QTimer.singleShot(0, self._record)
        return False

    def _record(self) -> None:
        data = {"first_paint": time.time(), "torch_loaded": "torch" in sys.modules}
        self.out.write_text(json.dumps(data), encoding="utf-8")
        self.window.persist_layout = False
        self.window.close()
        QApplication.instance().quit()
