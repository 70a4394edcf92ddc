"""Layering rules that keep the core usable without a window: `graph/` and `engine/` never import
Qt, `graph/` depends on neither `engine/` nor `gui/`, and importing `graph` (and analysing a
network) does not load torch, so the window can show shapes before torch has loaded."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QT_ROOTS = {"PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "shiboken2", "qtpy"}
CORE_PACKAGES = ("graph", "engine")


def run_python(code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a fresh interpreter; it leaves its findings as JSON in the file ``OUT``."""
    out = tmp_path / "result.json"
    code = f"OUT = {str(out)!r}\n" + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text(encoding="utf-8"))


# -- static: every import statement in the source ---------------------------------------------------
def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, at any depth (inside functions, try blocks,
    TYPE_CHECKING blocks) plus importlib.import_module("...") / __import__("...") with a literal."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def source_files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found under {package}/"
    return files


def violations(package: str, forbidden_roots: set[str]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line}: imports {module}"
            for path in source_files(package)
            for line, module in imported_modules(path)
            if module.split(".")[0] in forbidden_roots]


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_core_sources_never_import_qt(package):
    assert violations(package, QT_ROOTS) == []


def test_graph_depends_on_neither_engine_nor_gui_and_engine_not_on_gui():
    assert violations("graph", {"engine", "gui", "main"}) == []
    assert violations("engine", {"gui", "main"}) == []


def test_the_static_scan_sees_imports_wherever_they_hide(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(textwrap.dedent("""
        import os
        try:
            from PySide6.QtCore import QObject
        except ImportError:
            pass
        def later():
            import pyqtgraph as pg
            return importlib.import_module("PyQt6.QtWidgets")
    """))
    modules = [m for _, m in imported_modules(sample)]
    assert modules == ["os", "PySide6.QtCore", "pyqtgraph", "PyQt6.QtWidgets"]


# -- dynamic: import every module and look at what got loaded ---------------------------------------
def test_importing_every_core_module_loads_no_qt(tmp_path):
    data = run_python(f"""
        import importlib, importlib.abc, json, pkgutil, sys, traceback

        QT = {sorted(QT_ROOTS)!r}
        attempts = []

        class Watch(importlib.abc.MetaPathFinder):
            # records attempts too, so `try: import PySide6 / except ImportError` cannot hide one
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in QT:
                    attempts.append(name)
                return None

        sys.meta_path.insert(0, Watch())
        imported, errors = [], {{}}
        for package in {list(CORE_PACKAGES)!r}:
            pkg = importlib.import_module(package)
            imported.append(package)
            for info in pkgutil.walk_packages(pkg.__path__, package + "."):
                try:
                    importlib.import_module(info.name)
                    imported.append(info.name)
                except Exception:
                    errors[info.name] = traceback.format_exc(limit=3)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in QT)
        with open(OUT, "w") as fh:
            json.dump({{"imported": imported, "errors": errors, "attempts": attempts, "loaded": loaded}}, fh)
    """, tmp_path)
    assert data["errors"] == {}, "\n".join(data["errors"].values())
    expected = {str(p.relative_to(ROOT).with_suffix("")).replace("/", ".").removesuffix(".__init__")
                for package in CORE_PACKAGES for p in source_files(package)}
    assert set(data["imported"]) >= expected, "pkgutil must reach every module"
    assert data["attempts"] == [] and data["loaded"] == []


def test_importing_graph_and_analysing_templates_does_not_load_torch(tmp_path):
    data = run_python(f"""
        import json, sys
        import graph
        from graph.project_file import load_project, save_project
        from graph.templates import list_templates

        for template in list_templates():
            project = template.make()
            for net in project.networks:
                assert graph.analyze(net).ok, template.name
                graph.summarize(net).format_table()
            path = save_project(project, {str(tmp_path)!r} + "/" + template.name + ".dcproj")
            load_project(path)
        before = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
        graph.compile_network(project)  # control: compiling does load it, so the check can see it
        after = "torch" in sys.modules
        with open(OUT, "w") as fh:
            json.dump({{"before": before, "after": after}}, fh)
    """, tmp_path)
    assert data["before"] == [], data["before"][:5]
    assert data["after"] is True
