"""Start-up stays light: no torch before the window is shown; the screenshot mode works headless."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")       # leave the person's settings alone
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["DEEPCANVAS_RECOVERY_DIR"] = str(tmp_path / "recovery")
    return env


def test_importing_and_building_the_window_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import gui.app, gui.main_window\n"
        "from graph.templates import make_template\n"
        "w = gui.app.create_window(restore_layout=False)\n"
        "w.session.replace_project(make_template('cnn-digits'))\n"
        "w.show(); app.processEvents()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_main_reaches_first_paint_without_torch(tmp_path: Path) -> None:
    probe = tmp_path / "paint.json"
    env = _env(tmp_path)
    env["DEEPCANVAS_FIRST_PAINT_FILE"] = str(probe)
    out = subprocess.run([sys.executable, "main.py"], env=env, capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    data = json.loads(probe.read_text())
    assert data["torch_loaded"] is False


def test_screenshot_of_a_project(tmp_path: Path) -> None:
    project = tmp_path / "c.dcproj"
    env = _env(tmp_path)
    subprocess.run([sys.executable, "main.py", "new", "--template", "cnn-digits", str(project)], env=env,
                   check=True, capture_output=True, timeout=60, cwd=ROOT)
    shot = tmp_path / "shot.png"
    out = subprocess.run([sys.executable, "main.py", "--screenshot", str(shot), str(project)], env=env,
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1600, 1000)
    # a broken project: a non-zero exit and the loader's message, not a hang on a dialog
    broken = tmp_path / "broken.dcproj"
    broken.write_text("{not json")
    out = subprocess.run([sys.executable, "main.py", "--screenshot", str(tmp_path / "b.png"), str(broken)],
                         env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 1
    assert "not valid JSON" in out.stderr
