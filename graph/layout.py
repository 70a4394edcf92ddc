"""Automatic layered layout: columns by longest path from the inputs, rows ordered to keep
parents and children near each other. Pure geometry; the GUI applies it through an undoable command."""

from __future__ import annotations

from graph.document import Network

COLUMN_GAP = 230.0
ROW_GAP = 120.0


def layered_positions(network: Network, origin: tuple[float, float] = (0.0, 0.0)) -> dict[str, tuple[float, float]]:
    depth: dict[str, int] = {}
    for node in network.topological_order():
        parents = [e.source for e in network.in_edges(node.id)]
        depth[node.id] = 1 + max((depth[p] for p in parents), default=-1)
    columns: dict[int, list[str]] = {}
    for node_id, d in depth.items():
        columns.setdefault(d, []).append(node_id)
    row: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for d in sorted(columns):
        ids = columns[d]

        def barycentre(node_id: str) -> float:
            parents = [row[e.source] for e in network.in_edges(node_id) if e.source in row]
            return sum(parents) / len(parents) if parents else float(len(row))

        ids.sort(key=barycentre)
        offset = (len(ids) - 1) / 2
        for i, node_id in enumerate(ids):
            row[node_id] = i - offset
            positions[node_id] = (origin[0] + d * COLUMN_GAP, origin[1] + (i - offset) * ROW_GAP)
    return positions


def apply_layout(network: Network) -> None:
    for node_id, pos in layered_positions(network).items():
        network.move_node(node_id, pos)
