"""Text a user (or a hand-edited project file) can put wherever a name, path, key, column or option
value goes, and the helpers that check an exported script treats it as data: the script compiles,
its code has exactly the structure of the same export with harmless text, its docstrings and
comments are those of that harmless twin, and no module-level name is bound twice.

Nothing here executes the hostile text: the checks are static, so the whole corpus can be swept
quickly; the few end-to-end runs live in the tests that import this module.
"""

from __future__ import annotations

import ast
import functools
import io
import tokenize
from collections import Counter

#: the file a successful injection creates in the working folder
PWNED = "PWNED"

HOSTILE: list[str] = [
    # quotes of every kind, triple quotes, and payloads that close a literal or a docstring
    '"', "'", '"""', "'''", '""', "''",
    f'x"""; open("{PWNED}", "w"); """',
    f"x'''; open('{PWNED}', 'w'); '''",
    f"'); open('{PWNED}', 'w'); ('",
    f'"); open("{PWNED}", "w"); ("',
    # backslashes
    "\\", "ends in a backslash \\", "\\'", '\\"""', "\\x41\\u2028\\N{BULLET}",
    # line ends and invisible characters
    f"line\nopen('{PWNED}', 'w')", f"cr\ropen('{PWNED}', 'w')", "\r\n# comment", "nul\x00byte",
    f"sep\u2028open('{PWNED}', 'w')", "para\u2029graph", "form\x0cfeed\x0bvtab", "tab\tbed",
    "\x1b[31mred\x1b[0m", "\u202eright-to-left override", "zero\u200bwidth",
    # format strings
    f"{{open('{PWNED}', 'w')}}", "{0}{x!r}", "%s%(x)s",
    # homoglyphs and other scripts
    "Ｆ", "ОРТIОNS", "ｏｐｅｎ", "名前 😀", "Modèle ✓",
    # keywords, builtins, dunders
    "class", "None", "import", "lambda", "match", "_", "print", "open", "exec", "__import__",
    "__builtins__", "Exception", "self", "__name__",
    # the scripts' own names (the full list of a script's names is swept separately)
    "F", "np", "nn", "torch", "OPTIONS", "LOSS", "TARGETS", "DATASET", "FROZEN", "PARTS", "SOURCE", "TITLE",
    "NODE_NAMES", "Model", "build_model", "load_data",
    # comment starts and long text
    "# comment", "x" * 300,
]
#: text that cannot be written to disk (file names, zip members): the corpus keeps it for names
LONE_SURROGATE = "\ud800 lone surrogate"


def file_safe(text: str, prefix: str = "f") -> str:
    """``text`` as a file name: the only characters a POSIX file name cannot hold (``/``, NUL)
    and lone surrogates (not encodable) are dropped, and it is kept short."""
    kept = "".join(ch for ch in text if ch not in "/\x00" and not 0xD800 <= ord(ch) <= 0xDFFF)
    return (prefix + kept)[:120]


class _Skeleton(ast.NodeTransformer):
    """Blank every identifier and every string: what is left is the code's structure."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id="_", ctx=node.ctx), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        node.attr = "_"
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = "_"
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.name, node.returns = "_", None
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.generic_visit(node)
        node.name = "_"
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Constant("S" if isinstance(node.value, str) else node.value), node)


def skeleton(text: str) -> str:
    return ast.dump(_Skeleton().visit(ast.parse(text)))


def docstrings(tree: ast.AST) -> list[str | None]:
    return [ast.get_docstring(node, clean=False) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)]


def comments(text: str) -> list[str]:
    return [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT]


def module_bindings(tree: ast.Module) -> list[str]:
    """Every name the module level binds, once per binding."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names += [a.asname or a.name.split(".", 1)[0] for a in node.names if a.name != "annotations"]
    return names


def data_block(tree: ast.Module) -> dict[str, object]:
    """The module-level assignments of literals (the data block), evaluated as literals only."""
    data = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                data[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return data


@functools.lru_cache(maxsize=16)
def _shape(text: str) -> tuple[str, list[str | None], list[str]]:
    """(skeleton, docstrings, comments) of a harmless twin, computed once per twin."""
    return skeleton(text), docstrings(ast.parse(text)), comments(text)


def assert_inert(text: str, twin: str, filename: str = "exported.py") -> dict[str, object]:
    """The script compiles, has the structure, docstrings and comments of its harmless ``twin``,
    and binds each module-level name once (a class named ``F`` would shadow ``torch.nn.functional``).
    Returns its data block, for the caller to find the hostile text there as data."""
    compile(text, filename, "exec")
    tree = ast.parse(text)
    twin_skeleton, twin_docstrings, twin_comments = _shape(twin)
    assert skeleton(text) == twin_skeleton, "user text changed the code's structure"
    assert docstrings(tree) == twin_docstrings, "user text reached a docstring"
    assert comments(text) == twin_comments, "user text reached a comment"
    repeated = [name for name, n in Counter(module_bindings(tree)).items() if n > 1]
    assert not repeated, f"module-level names bound twice: {repeated}"
    return data_block(tree)
