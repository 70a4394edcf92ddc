"""The data code of exported training scripts, taken from the engine's own modules.

An exported script must load data exactly as the app does. Rather than keep a second copy of that
code in string templates (the copy drifts, and a template is where user text once became code),
the exporter writes the source of the real, tested modules into the script: this module reads a
module's source, drops its docstring and its imports of other portable modules (their code is in
the script too), hoists its other imports, and returns the rest unchanged.

A module can be inlined only if it is *portable*: its top-level imports name the standard library,
numpy, pandas, Pillow, torch, kornia, scikit-learn or other portable modules, and every portable
import is a plain ``from module import name`` (no aliases), so the names it uses are the names the
inlined code defines. Two modules must not define one name differently. Both rules are checked
here, at export time, so a change that breaks them fails the export tests rather than a user's
script.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from collections.abc import Iterable

from engine.errors import TrainingError

#: the modules whose source exported scripts may contain
PORTABLE_MODULES = (
    "graph.quoting",
    "engine.data.errors",
    "engine.data.labels",
    "engine.data.split",
    "engine.data.table_files",
    "engine.data.image_files",
    "engine.data.augment_ops",
    "engine.data.image_batches",
)
#: third-party packages a script may import (besides the standard library)
THIRD_PARTY = frozenset({"numpy", "pandas", "PIL", "torch", "kornia", "sklearn"})


def _fail(message: str) -> TrainingError:
    return TrainingError(f"Exporting the training script: {message}", "internal")


def _import_target(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    return [alias.name for alias in node.names]


def _is_portable_import(node: ast.Import | ast.ImportFrom, module: str) -> bool:
    """True for an import of another portable module (dropped); raises for an import a script cannot have."""
    targets = _import_target(node)
    if isinstance(node, ast.ImportFrom) and node.level:
        raise _fail(f"{module} uses a relative import")
    if any(t in PORTABLE_MODULES for t in targets):
        if not isinstance(node, ast.ImportFrom) or any(a.asname for a in node.names):
            raise _fail(f"{module} must import portable modules as 'from module import name', without aliases")
        return True
    for target in targets:
        root = target.split(".", 1)[0]
        if root not in THIRD_PARTY and root not in sys.stdlib_module_names and root != "__future__":
            raise _fail(f"{module} imports {target}, which an exported script cannot import")
    return False


def _dependencies(name: str) -> list[str]:
    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    found = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in PORTABLE_MODULES:
            found.append(node.module)
    return found


def _ordered(names: Iterable[str]) -> list[str]:
    """The modules and the portable modules they import, each after its dependencies."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name not in PORTABLE_MODULES:
            raise _fail(f"{name} is not a portable module")
        if name in order:
            return
        if name in path:
            raise _fail(f"portable modules import each other in a circle: {' -> '.join((*path, name))}")
        for dep in _dependencies(name):
            visit(dep, (*path, name))
        order.append(name)

    for name in names:
        visit(name, ())
    return order


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _is_type_checking_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def inline_modules(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(import lines, code sections) holding the given portable modules and those they import.

    Each section is one module's code as written there (comments included), less its docstring
    and imports; the import lines are the modules' own, each once."""
    imports: list[str] = []
    sections: list[str] = []
    defined: dict[str, str] = {}
    for name in _ordered(names):
        source = inspect.getsource(importlib.import_module(name))
        lines = source.splitlines()
        tree = ast.parse(source)
        body: list[str] = []
        previous_end = 0
        for index, node in enumerate(tree.body):
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            end = node.end_lineno or node.lineno
            text = "\n".join(lines[start - 1:end])
            # comment lines right above a statement belong to it
            comments = [line for line in lines[previous_end:start - 1] if line.strip()]
            previous_end = end
            if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue                                  # the module's docstring
            if isinstance(node, ast.Import | ast.ImportFrom):
                if _import_target(node) == ["__future__"] or _is_portable_import(node, name):
                    continue
                if text not in imports:
                    imports.append(text)
                continue
            if _is_type_checking_block(node):             # annotations are strings: nothing to import
                continue
            bound = _bound_names(node)
            clashes = [b for b in bound if b in defined and defined[b] != text]
            if clashes:
                raise _fail(f"{name} defines {', '.join(clashes)}, which another portable module defines differently")
            if bound and all(defined.get(b) == text for b in bound):
                continue                                  # the same statement in two modules (a logger)
            for b in bound:
                defined[b] = text
            body.append("\n".join([*comments, text]) if comments else text)
        sections.append(f"# -- from DeepCanvas: {name} " + "-" * max(3, 80 - len(name)) + "\n"
                        + "\n\n\n".join(_joined(body)))
    return imports, sections


def _joined(statements: list[str]) -> list[str]:
    """Statements grouped as a module lays them out: consecutive one-line assignments stay together."""
    groups: list[str] = []
    for text in statements:
        simple = not text.lstrip().startswith(("def ", "class ", "@", "async def ", "if ", "for ", "try:", "with "))
        if groups and simple and groups[-1].endswith("\x00"):
            groups[-1] = groups[-1][:-1] + "\n" + text + "\x00"
        else:
            groups.append(text + ("\x00" if simple else ""))
    return [g.rstrip("\x00") for g in groups]
