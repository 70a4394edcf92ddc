"""Automatic layered layout: columns by longest path from the inputs, rows ordered to keep
parents and children near each other. A long network wraps into bands read like lines of text,
so a 14-layer CNN fits a window instead of running off to the right. Pure geometry; the GUI
applies it through an undoable command."""

from __future__ import annotations

from graph.document import Network

COLUMN_GAP = 230.0
ROW_GAP = 120.0
#: columns per band before the layout wraps onto a new band below
WRAP_COLUMNS = 5


def _depths(network: Network) -> dict[str, int]:
    depth: dict[str, int] = {}
    for node in network.topological_order():
        parents = [e.source for e in network.in_edges(node.id)]
        depth[node.id] = 1 + max((depth[p] for p in parents), default=-1)
    return depth


def layered_positions(network: Network, origin: tuple[float, float] = (0.0, 0.0),
                      column_gap: float = COLUMN_GAP, row_gap: float = ROW_GAP,
                      wrap: int = WRAP_COLUMNS) -> dict[str, tuple[float, float]]:
    columns: dict[int, list[str]] = {}
    for node_id, d in _depths(network).items():
        columns.setdefault(d, []).append(node_id)
    row: dict[str, float] = {}
    placed: dict[str, tuple[int, float]] = {}  # node -> (column, row within its column)
    for d in sorted(columns):
        ids = columns[d]

        def barycentre(node_id: str) -> float:
            parents = [row[e.source] for e in network.in_edges(node_id) if e.source in row]
            return sum(parents) / len(parents) if parents else float(len(row))

        ids.sort(key=barycentre)
        offset = (len(ids) - 1) / 2
        for i, node_id in enumerate(ids):
            row[node_id] = i - offset
            placed[node_id] = (d, i - offset)
    wrap = max(1, wrap)
    bands = (max(columns, default=0) // wrap) + 1
    # each band is as tall as its tallest column, plus one row of air
    band_top = [0.0] * (bands + 1)
    for band in range(bands):
        heights = [len(columns[d]) for d in columns if d // wrap == band]
        band_top[band + 1] = band_top[band] + (max(heights, default=1) + 1) * row_gap
    positions = {}
    for node_id, (d, r) in placed.items():
        band = d // wrap
        positions[node_id] = (origin[0] + (d % wrap) * column_gap, origin[1] + band_top[band] + r * row_gap)
    return positions


def apply_layout(network: Network) -> None:
    for node_id, pos in layered_positions(network).items():
        network.move_node(node_id, pos)
