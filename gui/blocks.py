"""Composite blocks in the editor: what the palette offers, and the block edits as undo commands.

The palette, the quick-add popup and canvas drops name a block with a key (``block:builtin:encoder``,
``block:project:Encoder``, ``block:saved:/path/Encoder.dcblock``) where a layer has its type id, so
every place that adds a layer adds a block the same way. Each block edit (drop, group, expand,
expose, independent copy, paste) is one :class:`gui.commands.SnapshotCommand`: the definition it may
add and the node edits undo together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QRectF
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from graph import GraphError, Network, Node, Project
from graph.block_library import SavedBlock, import_saved_block, list_saved_blocks, merge_blocks, save_block
from graph.blocks import Exposed, add_block_node, expand_block, group_into_block
from graph.builtin_blocks import BUILTIN_BLOCKS, ensure_builtin
from graph.document import BLOCK_TYPE
from gui import commands
from gui.icons import svg_pixmap

log = logging.getLogger(__name__)

KEY_PREFIX = "block:"
CATEGORY = "Blocks"
#: header colour of Block cards and the palette's Blocks section (one hue for "holds a network")
BLOCK_COLOR = "#5a67b8"

_GLYPH = ('<rect x="7" y="3" width="14" height="11" rx="2"/>'
          '<path d="M4 7.5v9.5a2 2 0 0 0 2 2h11"/><path d="M11 8.5h6"/>')


@dataclass(frozen=True)
class BlockEntry:
    """One block the palette and quick-add offer."""

    key: str
    title: str
    description: str
    #: "built-in", "project" or "library" (the user's block library on disk)
    source: str


def is_block_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX)


def builtin_key(name: str) -> str:
    return f"{KEY_PREFIX}builtin:{name}"


def project_key(name: str) -> str:
    return f"{KEY_PREFIX}project:{name}"


def saved_key(path: Path) -> str:
    return f"{KEY_PREFIX}saved:{path}"


def block_entries(project: Project | None, saved: list[SavedBlock] | None = None) -> list[BlockEntry]:
    """Built-in blocks, the project's own definitions, then the user's saved blocks. A project
    definition made from a built-in is reached through the built-in's entry (dropping it again reuses
    that definition), so it is not listed twice."""
    entries = [BlockEntry(builtin_key(b.key), b.title, b.description, "built-in") for b in BUILTIN_BLOCKS.values()]
    if project is not None:
        for defn in project.blocks:
            if not defn.origin:
                entries.append(BlockEntry(project_key(defn.name), defn.name,
                                          defn.description or f"Block '{defn.name}' of this project.", "project"))
    for block in saved or []:
        entries.append(BlockEntry(saved_key(block.path), block.name,
                                  block.description or f"Saved block from {block.path.name}.", "library"))
    return entries


def saved_blocks(folder: Path) -> list[SavedBlock]:
    return list_saved_blocks(folder)


def search_entries(entries: list[BlockEntry], text: str) -> list[BlockEntry]:
    """Entries matching every word; name matches first (the quick-add ranks layers the same way)."""
    words = text.lower().split()
    ranked = []
    for order, entry in enumerate(entries):
        name = entry.title.lower()
        haystack = " ".join((name, "block blocks", entry.source, entry.description.lower()))
        if not all(w in haystack for w in words):
            continue
        rank = 2 if not words else 0 if name.startswith(words[0]) else 1 if all(w in name for w in words) else 2
        ranked.append((rank, order, entry))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [entry for _, _, entry in ranked]


def _glyph_svg(color: str, stroke: float) -> bytes:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="{color}" '
            f'stroke-width="{stroke:g}" stroke-linecap="round" stroke-linejoin="round">{_GLYPH}</svg>').encode()


@cache
def _glyph_pixmap(color: str, size: int) -> QPixmap:
    return svg_pixmap(_glyph_svg(color, 2), size)


def block_icon(color: QColor | str = BLOCK_COLOR) -> QIcon:
    """Two stacked cards: a node that holds a network."""
    name = QColor(color).name()
    icon = QIcon()
    for size in (16, 20, 24, 32):
        icon.addPixmap(_glyph_pixmap(name, size))
    return icon


@cache
def _glyph_renderer(color: str) -> QSvgRenderer:
    return QSvgRenderer(QByteArray(_glyph_svg(color, 2.2)))


def paint_glyph(painter: QPainter, rect: QRectF, color: QColor) -> None:
    """The block glyph on a card (vector, so it stays crisp at every zoom)."""
    _glyph_renderer(color.name()).render(painter, rect)


# -- edits --------------------------------------------------------------------------------------------
def _definition_for_key(network: Network, key: str) -> str:
    """The library name of the block ``key`` names, adding its definition on first use."""
    library = network.library
    if library is None:
        raise GraphError("this network belongs to no project, so it cannot hold blocks")
    kind, _, rest = key[len(KEY_PREFIX):].partition(":")
    if kind == "builtin":
        if rest not in BUILTIN_BLOCKS:
            raise GraphError(f"there is no built-in block {rest!r}")
        existing = library.by_origin(rest)
        if existing is not None:
            return str(existing.name)
        return str(ensure_builtin(library, rest).name)
    if kind == "project":
        return str(library.get(rest).name)
    if kind == "saved":
        return import_saved_block(library, rest)
    raise GraphError(f"unknown block entry {key!r}")


def add_block_command(network: Network, project: Project, key: str, position: tuple[float, float],
                      connect_from: tuple[str, str] | None = None) -> commands.SnapshotCommand:
    """Drop a block: its definition comes into the project if needed, and the node with it, as one step."""

    def edit() -> Node:
        name = _definition_for_key(network, key)
        node = add_block_node(network, name, position)
        if connect_from is not None:
            source, port = connect_from
            free = network.free_input_port(node.id)
            if free is not None and network.can_connect(source, node.id, port, free)[0]:
                network.connect(source, node.id, port, free)
        return node

    kind, _, title = key[len(KEY_PREFIX):].partition(":")
    if kind == "builtin" and title in BUILTIN_BLOCKS:
        title = BUILTIN_BLOCKS[title].title
    elif kind == "saved":
        title = Path(title).stem
    return commands.SnapshotCommand(project, f"Add block {title}", edit)


def group_command(network: Network, project: Project, node_ids: list[str], name: str) -> commands.SnapshotCommand:
    return commands.SnapshotCommand(project, f"Group {len(node_ids)} nodes into {name}",
                                    lambda: group_into_block(network, node_ids, name))


def expand_command(network: Network, project: Project, node_id: str) -> commands.SnapshotCommand:
    node = network.node(node_id)
    if not node.is_block:
        raise GraphError(f"{node.label()} is not a block")
    return commands.SnapshotCommand(project, f"Expand {node.name}", lambda: expand_block(network, node_id))


def independent_copy_command(network: Network, project: Project, node_id: str) -> commands.SnapshotCommand:
    """Point one Block node at a copy of its definition, so it can change without the other uses."""
    node = network.node(node_id)
    if not node.is_block:
        raise GraphError(f"{node.label()} is not a block")
    library = project.blocks

    def edit() -> str:
        copy = library.duplicate(node.params["block"])
        state = network.state()
        state["nodes"] = [(i, t, n, {**p, "block": copy.name} if i == node_id else p, pos)
                          for i, t, n, p, pos in state["nodes"]]
        network.restore(state)      # same id, name, values and edges; the new definition behind it
        return copy.name

    return commands.SnapshotCommand(project, f"Make {node.name} independent", edit)


def expose_command(project: Project, block: str, node_id: str, param: str, show: bool) -> commands.SnapshotCommand:
    """Show (or stop showing) an inner param on every use of ``block``; undo brings back the values
    the uses had, which unexposing alone would forget."""
    library = project.blocks
    defn = library.get(block)
    node = defn.network.node(node_id)
    if show:
        return commands.SnapshotCommand(project, f"Show {node.name}.{param} on {block}",
                                        lambda: library.expose(block, node_id, param))
    exposed = exposed_as(defn.exposed, node_id, param)
    if exposed is None:
        raise GraphError(f"{param!r} of {node.label()} is not shown on block '{block}'")
    return commands.SnapshotCommand(project, f"Hide {node.name}.{param} from {block}",
                                    lambda: library.unexpose(block, exposed.name))


def exposed_as(exposed: list[Exposed], node_id: str, param: str) -> Exposed | None:
    for e in exposed:
        if e.node_id == node_id and e.param == param:
            return e
    return None


def paste_command(network: Network, project: Project, data: dict[str, Any], anchor: tuple[float, float],
                  text: str) -> commands.PasteCommand | _BlockPaste:
    """Paste a clipboard fragment; Block nodes bring the definitions they need into this project
    (one the project has with the same content is reused, a clash gets a fresh name)."""
    blocks = data.get("blocks")
    if not blocks:
        return commands.PasteCommand(network, data, anchor, text)
    pasted: list[str] = []

    def edit() -> list[str]:
        if not isinstance(blocks, list):
            raise GraphError("the copied block definitions are not a list")
        names = merge_blocks(project.blocks, blocks)
        fragment = {k: v for k, v in data.items() if k != "blocks"}
        nodes = fragment.get("nodes")
        if isinstance(nodes, list):
            fragment["nodes"] = [_renamed_block(n, names) for n in nodes]
        paste = commands.PasteCommand(network, fragment, anchor, text)
        paste.redo()
        pasted.extend(paste.pasted_ids)
        return pasted

    return _BlockPaste(project, text, edit, pasted)


class _BlockPaste(commands.SnapshotCommand):
    """A paste that brought block definitions along; ``pasted_ids`` as :class:`PasteCommand` has."""

    def __init__(self, project: Project, text: str, edit: Any, pasted: list[str]) -> None:
        super().__init__(project, text, edit)
        self.pasted_ids = pasted


def _renamed_block(node: Any, names: dict[str, str]) -> Any:
    if not isinstance(node, dict) or node.get("type") != BLOCK_TYPE or not isinstance(node.get("params"), dict):
        return node
    block = node["params"].get("block")
    if isinstance(block, str) and block in names:
        return {**node, "params": {**node["params"], "block": names[block]}}
    return node


def save_to_library(project: Project, name: str, folder: Path) -> Path:
    return save_block(project.blocks, name, folder)
