"""Quitting after copying nodes must end the process cleanly (a Qt-owned clipboard payload made in
Python used to crash PySide6 at interpreter exit, after the window had closed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui.canvas import editing
from gui.main_window import MainWindow
window = MainWindow(restore_layout=False)
window.show()
view = window.current_view()
net = window.project.main
node = net.add_node("Dense")
view.canvas.select_nodes([node.id])
assert editing.copy_selection(view)
assert editing.can_paste()
window.session.undo_stack.setClean()
QTimer.singleShot(100, window.close)
app.exec()
"""


def test_quitting_after_a_copy_exits_cleanly(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DEEPCANVAS_RECOVERY_DIR=str(tmp_path / "rec"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
