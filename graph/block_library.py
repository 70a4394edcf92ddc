"""The user's block library on disk: one ``.dcblock`` file per saved block, reusable in any project.

A saved block carries its definition together with every definition it uses, in the same form a
project file writes them (:func:`graph.project_file.blocks_to_list`), so the file is read by the
same checks as a project and never executed. Bringing a block into a project merges definitions by
name: one the project already has with identical content is reused (so a block dropped twice stays
one definition), one whose name is taken by something different comes in under a fresh name, and
the references inside the incoming definitions follow that rename. The clipboard uses the same merge
when Block nodes are pasted into another project.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph.document import BLOCK_TYPE, Project
from graph.errors import GraphError, ProjectFileError
from graph.project_file import (
    FORMAT_NAME as PROJECT_FORMAT,
)
from graph.project_file import (
    FORMAT_VERSION as PROJECT_VERSION,
)
from graph.project_file import (
    atomic_write,
    blocks_to_list,
    network_from_dict,
    project_from_dict,
    read_json_file,
)

log = logging.getLogger(__name__)

FORMAT_NAME = "deepcanvas-block"
FORMAT_VERSION = 1
SUFFIX = ".dcblock"
#: where the library lives when set (tests and portable installs point it elsewhere)
ENV_FOLDER = "DEEPCANVAS_BLOCK_LIBRARY"
#: a block file larger than this is not a block someone saved (and is not read into memory)
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class SavedBlock:
    """One readable file of the library, as the palette lists it."""

    path: Path
    name: str
    description: str
    #: definitions the file brings along besides the block itself
    uses: tuple[str, ...] = ()


def default_folder(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The library folder: ``$DEEPCANVAS_BLOCK_LIBRARY``, else ``blocks`` in the app's per-user data
    folder. The GUI passes Qt's AppDataLocation (as the recovery folder does); without it the usual
    place of each platform is used, so the CLI and the editor agree."""
    override = os.environ.get(ENV_FOLDER)
    if override:
        return Path(override).expanduser()
    if data_dir:
        return Path(data_dir) / "blocks"
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "DeepCanvas" / "DeepCanvas"
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support" / "DeepCanvas" / "DeepCanvas"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "DeepCanvas" / "DeepCanvas"
    return base / "blocks"


def file_name_for(name: str) -> str:
    """A file name any platform accepts, recognisably the block's name."""
    stem = re.sub(r"[^\w\- ]+", "_", name, flags=re.UNICODE).strip(" ._") or "block"
    return stem[:80] + SUFFIX


# -- writing --------------------------------------------------------------------------------------
def block_to_dict(library: Any, name: str) -> dict[str, Any]:
    library.get(name)           # a clear error for an unknown name
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "block": name,
            "blocks": blocks_to_list(library, [name])}


def save_block(library: Any, name: str, folder: str | os.PathLike[str]) -> Path:
    """Write block ``name`` (with the definitions it uses) to ``folder``; saving a block of the same
    name again replaces the earlier file, as saving a document does."""
    path = Path(folder) / file_name_for(name)
    data = json.dumps(block_to_dict(library, name), ensure_ascii=False, indent=1, allow_nan=False)
    try:
        atomic_write(path, data.encode("utf-8"))
    except OSError as exc:
        raise GraphError(f"cannot save block '{name}' to {path}: {exc.strerror or exc}") from None
    log.info("saved block %r to %s", name, path)
    return path


# -- reading --------------------------------------------------------------------------------------
def read_block_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked contents of a block file (raises :class:`ProjectFileError` naming the file and
    the place in it)."""
    path = Path(path)
    data = read_json_file(path, "block file", MAX_FILE_BYTES)
    try:
        check_block_data(data)
    except ProjectFileError as exc:
        error = ProjectFileError(f"{path.name}: {exc}")
        error.where = exc.where
        raise error from None
    return data


def check_block_data(data: Any) -> Project:
    """Validate a block file's dict; returns a scratch project holding its definitions."""
    if not isinstance(data, dict):
        raise ProjectFileError("expected an object", "top level")
    if data.get("format") != FORMAT_NAME:
        raise ProjectFileError(f"this is not a DeepCanvas block (format {str(data.get('format'))[:40]!r})", "format")
    version = data.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ProjectFileError("expected a whole number from 1", "format_version")
    if version > FORMAT_VERSION:
        raise ProjectFileError(f"the block was saved by a newer DeepCanvas (format {version}; this version reads "
                               f"up to {FORMAT_VERSION}): update DeepCanvas to use it", "format_version")
    name = data.get("block")
    if not isinstance(name, str):
        raise ProjectFileError("expected the block's name as text", "block")
    scratch = scratch_library(data.get("blocks"))
    if name not in scratch.blocks:
        raise ProjectFileError(f"the file holds no definition of block {name[:60]!r}", "block")
    return scratch


def scratch_library(entries: Any) -> Project:
    """Read definitions in file form into a throwaway project: every check of the project reader
    applies, and errors name the place (``blocks[1].network.nodes[0]``)."""
    if not isinstance(entries, list) or not entries:
        raise ProjectFileError("expected a non-empty list of block definitions", "blocks")
    return project_from_dict({"format": PROJECT_FORMAT, "format_version": PROJECT_VERSION, "name": "blocks",
                              "networks": [{"name": "main", "nodes": [], "edges": []}], "blocks": entries})


def list_saved_blocks(folder: str | os.PathLike[str]) -> list[SavedBlock]:
    """The readable blocks in ``folder``, by name; a broken file is skipped with a warning in the log
    (one bad file must not hide the others, nor stop the editor from starting)."""
    folder = Path(folder)
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file())
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("cannot list the block library %s: %s", folder, exc.strerror or exc)
        return []
    found: list[SavedBlock] = []
    for path in paths:
        try:
            data = read_block_file(path)
        except (GraphError, OSError) as exc:
            log.warning("skipping block file %s: %s", path, exc)
            continue
        name = data["block"]
        entries = {e["name"]: e for e in data["blocks"]}
        description = entries[name].get("description") or ""
        found.append(SavedBlock(path, name, description, tuple(n for n in entries if n != name)))
    found.sort(key=lambda b: (b.name.lower(), b.path.name))
    return found


# -- bringing definitions into a project ----------------------------------------------------------
def _fingerprint(entry: dict[str, Any]) -> str:
    """A definition's content, without what does not change its meaning (where nodes sit)."""
    net = entry["network"]
    nodes = [{k: v for k, v in n.items() if k != "position"} for n in net["nodes"]]
    body = {"network": {"nodes": nodes, "edges": net["edges"]}, "exposed": entry["exposed"]}
    return json.dumps(body, sort_keys=True, default=str)


def _rename_uses(entry: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A copy of a definition entry whose Block nodes use the renamed definitions."""
    out = json.loads(json.dumps(entry))
    for node in out["network"]["nodes"]:
        if node.get("type") == BLOCK_TYPE:
            params = node.setdefault("params", {})
            params["block"] = names.get(params.get("block"), params.get("block"))
    return out


def _identical(library: Any, entry: dict[str, Any]) -> str | None:
    """A definition of the library with the entry's content, under its name or a numbered one an
    earlier import gave it (``Residual 2``)."""
    name = entry["name"]
    stem = re.sub(r"[ _]?\d+$", "", name) or name
    numbered = re.compile(re.escape(stem) + r" \d+")
    candidates = [name] + [n for n in library.names if n != name and numbered.fullmatch(n)]
    wanted = _fingerprint(entry)
    for candidate in candidates:
        if candidate in library and _fingerprint(blocks_to_list(library, [candidate])[-1]) == wanted:
            return str(candidate)
    return None


def merge_blocks(library: Any, entries: Any) -> dict[str, str]:
    """Add the definitions of ``entries`` (file form, each after those it uses) that ``library`` lacks.

    Returns what each incoming name is called in the library now. Nothing is added unless every
    entry reads: the entries are checked in a scratch project first."""
    scratch = scratch_library(entries)
    incoming = blocks_to_list(scratch.blocks, scratch.blocks.names)
    names: dict[str, str] = {}
    for raw in incoming:
        entry = _rename_uses(raw, names)
        name = entry["name"]
        same = _identical(library, entry)
        if same is not None:
            names[name] = same
            continue
        new = library.unique_name(name)
        net = network_from_dict(entry["network"], f"block '{name}'", library)
        origin = entry.get("origin") or ""
        if origin and library.by_origin(origin) is not None:
            origin = ""     # a built-in keeps one definition per project: a changed copy is the user's own
        defn = library.create(new, net, (), entry.get("description") or "", origin)
        for exposed in entry["exposed"]:
            library.expose(defn.name, exposed["node"], exposed["param"], exposed["name"])
        names[name] = defn.name
    return names


def import_saved_block(project_library: Any, path: str | os.PathLike[str]) -> str:
    """Bring a saved block (and what it uses) into a project's library; returns its name there."""
    data = read_block_file(path)
    names = merge_blocks(project_library, data["blocks"])
    return names[data["block"]]
