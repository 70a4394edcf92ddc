"""Edit-menu operations on a canvas: delete, copy, cut, paste, duplicate, select all, layout.

The clipboard holds the ``network_to_dict`` form of the selection (its nodes and the edges between
them), so a fragment pastes into any network, in this window or another, and is validated by the
same reader as a project file before anything changes. Block nodes bring the definitions they use
(``"blocks"``, in project-file form), so they paste into another project too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import QPointF
from PySide6.QtGui import QGuiApplication

from graph import GraphError, Network
from graph.project_file import blocks_to_list, network_to_dict
from gui import blocks, commands
from gui.canvas.view import CanvasView

log = logging.getLogger(__name__)

PASTE_OFFSET = 40.0


def fragment(network: Network, node_ids: list[str]) -> dict[str, Any]:
    """The selected nodes and the edges among them, ids and all, as plain JSON data."""
    part = Network(network.name)
    part.library = network.library
    chosen = set(node_ids)
    for node in network.nodes:
        if node.id in chosen:
            part.add_node(node.type_id, dict(node.params), node.name, node.position, node_id=node.id)
    for edge in network.edges:
        if edge.source in chosen and edge.target in chosen:
            part.connect(edge.source, edge.target, edge.source_port, edge.target_port, edge_id=edge.id)
    data = network_to_dict(part)
    used = sorted({n.params["block"] for n in part.block_nodes()})
    if used:
        data["blocks"] = blocks_to_list(network.library, used)
    return data


def copy_to_clipboard(data: dict[str, Any]) -> None:
    # plain text, not a QMimeData of our own: PySide6 crashes at exit when the clipboard still owns
    # a Python-made QMimeData; the JSON text pastes here and reads fine in a text editor
    QGuiApplication.clipboard().setText(json.dumps(data, ensure_ascii=False))


def clipboard_fragment() -> dict[str, Any] | None:
    raw = QGuiApplication.clipboard().text()
    if not raw.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return None
    # anything that looks like a fragment; the project-file reader still checks it before pasting
    return data if isinstance(data, dict) and "nodes" in data else None


def can_paste() -> bool:
    return clipboard_fragment() is not None


def delete_selection(view: CanvasView) -> bool:
    scene = view.canvas
    command = commands.delete_command(scene.network, scene.selected_node_ids(), scene.selected_edge_ids())
    if command is None:
        return False
    view.session.push(command)
    return True


def copy_selection(view: CanvasView) -> bool:
    ids = view.canvas.selected_node_ids()
    if not ids:
        return False
    copy_to_clipboard(fragment(view.canvas.network, ids))
    view.message.emit(f"Copied {len(ids)} node{'s' if len(ids) != 1 else ''}")
    return True


def cut_selection(view: CanvasView) -> bool:
    scene = view.canvas
    ids = scene.selected_node_ids()
    if not ids:
        return False
    copy_to_clipboard(fragment(scene.network, ids))
    command = commands.delete_command(scene.network, ids, scene.selected_edge_ids(),
                                      text=f"Cut {len(ids)} node{'s' if len(ids) != 1 else ''}")
    if command is not None:
        view.session.push(command)
    return True


def paste(view: CanvasView, data: dict[str, Any] | None = None, anchor: QPointF | None = None,
          text: str = "Paste") -> list[str]:
    """Paste a fragment with its top-left corner at ``anchor`` (default: just below and to the
    right of where it was copied from, or at the view centre if that is off screen)."""
    data = data if data is not None else clipboard_fragment()
    if not data:
        view.message.emit("The clipboard holds no DeepCanvas nodes")
        return []
    if anchor is None:
        anchor = _default_anchor(view, data)
    try:
        command = blocks.paste_command(view.canvas.network, view.session.project, data, (anchor.x(), anchor.y()),
                                       text)
    except GraphError as exc:
        view.refuse(f"Cannot paste: {exc}")
        return []
    view.session.push(command)
    view.canvas.select_nodes(command.pasted_ids)
    return command.pasted_ids


def _default_anchor(view: CanvasView, data: dict[str, Any]) -> QPointF:
    points = [n.get("position", [0, 0]) for n in data.get("nodes", []) if isinstance(n, dict)]
    try:
        left = min(float(p[0]) for p in points)
        top = min(float(p[1]) for p in points)
    except (TypeError, ValueError, IndexError):
        return view.view_centre()
    anchor = QPointF(left + PASTE_OFFSET, top + PASTE_OFFSET)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    # paste the same fragment repeatedly and each copy lands further along, not on top of the last
    taken = {(i.pos().x(), i.pos().y()) for i in view.canvas.nodes.values()}
    while (anchor.x(), anchor.y()) in taken:
        anchor += QPointF(PASTE_OFFSET, PASTE_OFFSET)
    if not visible.contains(anchor):
        anchor = view.view_centre()
    return view.canvas.snap_position(anchor)


def duplicate_selection(view: CanvasView) -> list[str]:
    ids = view.canvas.selected_node_ids()
    if not ids:
        return []
    data = fragment(view.canvas.network, ids)
    return paste(view, data, text=f"Duplicate {len(ids)} node{'s' if len(ids) != 1 else ''}")


def select_all(view: CanvasView) -> None:
    view.canvas.select_nodes(list(view.canvas.nodes))


def auto_layout(view: CanvasView) -> bool:
    command = commands.layout_command(view.canvas.network)
    if command is None:
        return False
    view.session.push(command)
    view.fit_to_view()
    return True
