"""Start-up time: from launching ``python main.py`` to the first paint of the canvas.

    python bench/startup.py [--runs N] [--project FILE]   # ``name: value`` lines, the headline last

Each run is a fresh process. The parent notes the wall clock just before it spawns the child; the
editor notes it when the canvas first paints (``DEEPCANVAS_FIRST_PAINT_FILE``), also reports
whether torch had been imported by then, and quits. Target (issue 3): under 1.5 s here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(project: str | None, scratch: Path) -> tuple[float, bool]:
    probe = scratch / "paint.json"
    probe.unlink(missing_ok=True)
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["DEEPCANVAS_FIRST_PAINT_FILE"] = str(probe)
    env["XDG_CONFIG_HOME"] = str(scratch / "config")     # no saved layout, no recent files
    env["DEEPCANVAS_RECOVERY_DIR"] = str(scratch / "recovery")
    args = [sys.executable, str(ROOT / "main.py")] + ([project] if project else [])
    start = time.time()
    subprocess.run(args, env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    data = json.loads(probe.read_text())
    return data["first_paint"] - start, bool(data["torch_loaded"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--project", help="open this project (default: a new empty one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        project = args.project
        if project is None:
            project = str(scratch / "cnn.dcproj")
            subprocess.run([sys.executable, str(ROOT / "main.py"), "new", "--template", "cnn-digits", project],
                           cwd=ROOT, check=True, capture_output=True)
        one_run(project, scratch)   # warm the file cache; not counted
        empty = [one_run(None, scratch) for _ in range(args.runs)]
        loaded = [one_run(project, scratch) for _ in range(args.runs)]
    print(f"runs: {args.runs}")
    print(f"first_paint_empty_min_s: {min(t for t, _ in empty):.3f}")
    print(f"first_paint_project_min_s: {min(t for t, _ in loaded):.3f}")
    print(f"first_paint_project_max_s: {max(t for t, _ in loaded):.3f}")
    print(f"torch_imported_before_paint: {any(flag for _, flag in empty + loaded)}")
    print(f"first_paint_empty_median_s: {statistics.median(t for t, _ in empty):.3f}")
    print(f"first_paint_median_s: {statistics.median(t for t, _ in loaded):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
