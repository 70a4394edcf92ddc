"""Turn user-chosen names into safe Python identifiers for modules, variables and classes.

Display names are free text (quotes, newlines, unicode, keywords); code never contains them except
through ``repr``/``ascii``. Identifiers are ASCII snake_case, never a keyword, builtin or an
attribute of ``nn.Module`` (``add_module('forward', ...)`` would fail), and numbered when two
nodes would otherwise share one.
"""

from __future__ import annotations

import ast
import builtins
import functools
import keyword
import re
import unicodedata
from collections.abc import Iterable

# public attributes of torch.nn.Module (torch 2.13) plus names the generated code itself uses
_MODULE_ATTRS = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict
modules mtia named_buffers named_children named_modules named_parameters parameters register_backward_hook
register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory state_dict to to_empty train type xpu zero_grad training
""".split())
_SCRIPT_NAMES = frozenset({"self", "torch", "nn", "math", "model", "inputs", "outputs", "args", "main",
                           "build_model", "sample_inputs", "annotations", "device", "data", "loss"})
# attributes of graph.compiler.CompiledNetwork: a submodule of that name would clash with them
# (add_module refuses most; the ``plan`` property would silently shadow the layer in forward)
_COMPILED_ATTRS = frozenset({"plan", "forward_all", "network_name", "input_names", "output_names",
                             "node_names"})
RESERVED = (frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
            | _MODULE_ATTRS | _SCRIPT_NAMES | _COMPILED_ATTRS)


def _ascii_letters(text: str, other: str) -> str:
    """Accented letters lose their accents (``Modèle`` -> ``Modele``, full-width ``１`` -> ``1``);
    any other non-ASCII character becomes ``other``."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch if ch.isascii() else other for ch in kept)


def snake_identifier(text: str, fallback: str = "layer") -> str:
    ascii_text = _ascii_letters(text, "_")
    ascii_text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", ascii_text)
    ident = re.sub(r"[^0-9a-zA-Z]+", "_", ascii_text).strip("_").lower()
    if not ident:
        ident = fallback
    if ident[0].isdigit():
        ident = f"{fallback}_{ident}"
    if ident in RESERVED:
        ident = f"{ident}_{fallback}"
    return ident


def class_identifier(text: str, fallback: str = "Model", avoid: Iterable[str] = ()) -> str:
    """A CamelCase ASCII class name made from ``text`` that is no keyword, builtin or reserved
    name and none of ``avoid`` (the names the generated script itself defines, imports or reads:
    see :func:`script_names`); clashes get ``fallback`` appended, then a number."""
    words = re.findall(r"[0-9a-zA-Z]+", _ascii_letters(text, " "))
    ident = "".join(w[:1].upper() + w[1:] for w in words) or fallback
    if ident[0].isdigit():
        ident = f"{fallback}{ident}"
    taken = RESERVED | frozenset(avoid)
    if ident not in taken:
        return ident
    base = ident if ident.endswith(fallback) else f"{ident}{fallback}"
    candidate, k = base, 2
    while candidate in taken:
        candidate, k = f"{base}{k}", k + 1
    return candidate


@functools.lru_cache(maxsize=512)
def script_names(source: str) -> frozenset[str]:
    """Every identifier a piece of generated Python binds or reads (module and local names,
    function and class names, arguments, import aliases), taken from the code itself so a name
    chosen for a generated class can never shadow one the script relies on (``F``, ``OPTIONS``, a
    helper function) however the fixed parts of the script change. Attribute names and the
    contents of string literals are not identifiers here. Cached: callers pass the fixed parts of
    a script one by one, so each is parsed once per process."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".", 1)[0])
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return frozenset(names)


def unique_identifiers(names: Iterable[tuple[str, str]], taken: Iterable[str] = (),
                       fallback: str = "layer") -> dict[str, str]:
    """Map each key to a distinct identifier made from its text; ``taken`` names are avoided."""
    used = set(taken)
    out: dict[str, str] = {}
    for key, text in names:
        base = snake_identifier(text, fallback)
        ident, k = base, 2
        while ident in used:
            ident = f"{base}_{k}"
            k += 1
        used.add(ident)
        out[key] = ident
    return out


def code_names(network) -> dict[str, str]:
    """Node id -> identifier, assigned in topological order so a script reads top to bottom."""
    return unique_identifiers((n.id, n.name) for n in network.topological_order())
