"""Automatic layered layout (Sugiyama style), used on import, by Auto layout and for templates.

1. Layers: a node's column is its longest path from the inputs, so data flows left to right.
2. Long edges (a skip connection over several columns) get one dummy point per column they pass,
   and the dummies take part in the ordering like nodes: they reserve a lane, so no card is put
   where the wire runs and a residual connection reads as a wire around the branch, not through it.
3. Crossings: the order within each column is improved by alternating down and up sweeps that
   sort by the median (then barycentre) of the neighbours' places, followed by swaps of
   neighbours that remove crossings; the best order seen is kept.
4. Rows: each column is placed as close as possible to its neighbours' rows (an isotonic
   regression keeps the order and the gap), so a chain runs straight and a branch sits beside it.
5. Bands: a long network wraps onto a new band below, like lines of text, but only where a single
   node's value crosses the column boundary and goes no further than the next column, so a skip
   connection never crosses a band and cannot be mistaken for the wire from the end of one band to
   the start of the next. Only a network with no such place for LOOSE_AFTER bands' width (a flat
   ResNet, a skip over every block) wraps where a skip connection starts.

grandalf (PyPI) does the same but has seen no release since 2023; this is small enough to own.
Pure geometry: the GUI applies it through an undoable command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from graph.document import Network

COLUMN_GAP = 230.0
ROW_GAP = 120.0
#: columns per band before the layout may wrap onto a new band below
WRAP_COLUMNS = 5
#: a band runs on to this many times WRAP_COLUMNS looking for a wrap that cuts no skip connection
LOOSE_AFTER = 4
#: columns the last band needs at least (else the band before runs on)
MIN_LAST_BAND = 3
#: ordering sweeps (down + up); small graphs settle in a few
SWEEPS = 8

Vertex = str | tuple[str, int, int]     # a node id, or a dummy (edge index, k-th column it passes)


@dataclass
class Layout:
    """Where each node goes, and for each long edge (by id) the points it passes between columns."""

    positions: dict[str, tuple[float, float]]
    routes: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    crossings: int = 0


def _depths(network: Network) -> dict[str, int]:
    depth: dict[str, int] = {}
    for node in network.topological_order():
        parents = [e.source for e in network.in_edges(node.id)]
        depth[node.id] = 1 + max((depth[p] for p in parents), default=-1)
    return depth


class _Layers:
    """The layered graph: columns of vertices (nodes and dummies) and the links between
    neighbouring columns."""

    def __init__(self, network: Network) -> None:
        self.depth = _depths(network)
        order = [n.id for n in network.topological_order()]
        n_cols = max(self.depth.values(), default=-1) + 1
        self.columns: list[list[Vertex]] = [[] for _ in range(n_cols)]
        self.up: dict[Vertex, list[Vertex]] = {}
        self.down: dict[Vertex, list[Vertex]] = {}
        #: edge id -> its dummies, left to right
        self.chains: dict[str, list[Vertex]] = {}
        for node_id in order:
            self._add(node_id, self.depth[node_id])
        pairs: set[tuple[str, str]] = set()
        for index, edge in enumerate(network.edges):
            a, b = edge.source, edge.target
            if (a, b) in pairs:
                continue
            pairs.add((a, b))
            prev: Vertex = a
            chain: list[Vertex] = []
            for d in range(self.depth[a] + 1, self.depth[b]):
                dummy: Vertex = (edge.id, index, d)
                self._add(dummy, d)
                self._link(prev, dummy)
                chain.append(dummy)
                prev = dummy
            self._link(prev, b)
            if chain:
                self.chains[edge.id] = chain

    def _add(self, v: Vertex, d: int) -> None:
        self.columns[d].append(v)
        self.up.setdefault(v, [])
        self.down.setdefault(v, [])

    def _link(self, a: Vertex, b: Vertex) -> None:
        self.down[a].append(b)
        self.up[b].append(a)


def count_crossings(columns: list[list[Vertex]], down: dict[Vertex, list[Vertex]]) -> int:
    """Crossings between neighbouring columns of a layered graph (each pair of links whose ends
    are in opposite orders)."""
    total = 0
    for left, right in zip(columns, columns[1:], strict=False):
        place = {v: i for i, v in enumerate(right)}
        links = sorted((i, place[w]) for i, v in enumerate(left) for w in down[v] if w in place)
        for k, (a, b) in enumerate(links):
            for c, d in links[k + 1:]:
                if c > a and d < b:
                    total += 1
    return total


def _key(v: Vertex, neighbours: list[Vertex], place: dict[Vertex, int], current: int) -> tuple[float, float]:
    spots = [place[w] for w in neighbours if w in place]
    if not spots:
        return (float(current), float(current))
    return (float(median(spots)), sum(spots) / len(spots))


def _sweep(columns: list[list[Vertex]], layers: _Layers, downward: bool) -> None:
    indices = range(1, len(columns)) if downward else range(len(columns) - 2, -1, -1)
    for i in indices:
        ref = columns[i - 1] if downward else columns[i + 1]
        place = {v: k for k, v in enumerate(ref)}
        links = layers.up if downward else layers.down
        column = columns[i]
        keys = {v: (*_key(v, links[v], place, k), 0 if isinstance(v, tuple) else 1) for k, v in enumerate(column)}
        # stable: ties keep their order, except that a long edge's lane goes above the node it ties
        # with: the canvas arches a wire between two cards on one row upwards, into that lane
        column.sort(key=lambda v: keys[v])


def _transpose(columns: list[list[Vertex]], layers: _Layers) -> None:
    """Swap neighbours within a column while that removes crossings with the columns beside it."""
    improved = True
    rounds = 0
    while improved and rounds < 4:
        improved = False
        rounds += 1
        for i, column in enumerate(columns):
            near = [c for c in (i - 1, i + 1) if 0 <= c < len(columns)]
            for k in range(len(column) - 1):
                before = sum(_local(columns, layers, i, c) for c in near)
                column[k], column[k + 1] = column[k + 1], column[k]
                after = sum(_local(columns, layers, i, c) for c in near)
                if after < before:
                    improved = True
                else:
                    column[k], column[k + 1] = column[k + 1], column[k]


def _local(columns: list[list[Vertex]], layers: _Layers, i: int, j: int) -> int:
    left, right = (i, j) if i < j else (j, i)
    return count_crossings([columns[left], columns[right]], layers.down)


def _order(layers: _Layers) -> tuple[list[list[Vertex]], int]:
    natural = [list(c) for c in layers.columns]
    # lanes first (above the cards) where that costs no crossing: the canvas arches a wire
    # between two cards on one row upwards, so a skip connection's lane belongs above its branch
    lanes_first = [sorted(c, key=lambda v: not isinstance(v, tuple)) for c in natural]
    columns = lanes_first
    if count_crossings(lanes_first, layers.down) > count_crossings(natural, layers.down):
        columns = natural
    best = [list(c) for c in columns]
    best_count = count_crossings(best, layers.down)
    small = sum(len(c) for c in columns) <= 400    # swaps cost a crossing count each: only for small graphs
    for sweep in range(SWEEPS):
        if best_count == 0:
            break
        _sweep(columns, layers, downward=sweep % 2 == 0)
        if small:
            _transpose(columns, layers)
        count = count_crossings(columns, layers.down)
        if count < best_count:
            best, best_count = [list(c) for c in columns], count
    return best, best_count


def _pack(desired: list[float], gap: float, free: list[bool] | None = None) -> list[float]:
    """Rows as near ``desired`` as possible (least squares) keeping the order and ``gap`` apart:
    pool-adjacent-violators on ``desired[i] - i * gap``, which must not decrease.

    ``free`` marks entries (a long edge's lane) that only have to keep the order and the gap: the
    others are placed as if the free ones wanted nowhere in particular, then each free one goes as
    near its wish as the placed ones leave room for. So a card is never pulled off its row by a
    lane beside it."""
    z = [d - i * gap for i, d in enumerate(desired)]
    free = free if free is not None and not all(free) else [False] * len(desired)
    fixed = [i for i, f in enumerate(free) if not f]
    blocks: list[list[float]] = []      # [sum, count]
    for i in fixed:
        blocks.append([z[i], 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, n = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
    pooled: list[float] = []
    for s, n in blocks:
        pooled.extend([s / n] * int(n))
    out = list(z)
    for i, value in zip(fixed, pooled, strict=True):
        out[i] = value
    upper = float("inf")
    uppers = [0.0] * len(z)
    for i in range(len(z) - 1, -1, -1):     # the nearest placed entry below bounds a free one
        if not free[i]:
            upper = out[i]
        uppers[i] = upper
    lower = float("-inf")
    for i in range(len(z)):
        if free[i]:
            out[i] = min(max(z[i], lower), uppers[i])
        lower = out[i]
    return [v + i * gap for i, v in enumerate(out)]


def _rows(columns: list[list[Vertex]], layers: _Layers, gap: float) -> dict[Vertex, float]:
    row: dict[Vertex, float] = {}
    for column in columns:
        for k, v in enumerate(column):
            row[v] = (k - (len(column) - 1) / 2) * gap
    for sweep in range(6):
        downward = sweep % 2 == 0
        order = columns if downward else list(reversed(columns))
        for column in order:
            desired = []
            for v in column:
                ref = layers.up[v] if downward else layers.down[v]
                both = ref or (layers.down[v] if downward else layers.up[v])
                if isinstance(v, str):
                    # a card lines up with the cards beside it, not with the lanes of skip
                    # connections leaving or joining it, so a residual block's main path runs
                    # straight and its skip wire runs in a lane beside it
                    both = [w for w in both if isinstance(w, str)] or both
                desired.append(float(median(row[w] for w in both)) if both else row[v])
            lanes = [isinstance(v, tuple) for v in column]
            for v, y in zip(column, _pack(desired, gap, lanes), strict=True):
                row[v] = y
    return row


def _cuts(layers: _Layers) -> tuple[set[int], set[int]]:
    """Column boundaries (after column d) where the network may wrap onto a new band: (clean ones,
    where a single node's value crosses and goes on only to the next column, so no skip connection
    is cut; loose ones, where that value also starts a skip connection)."""
    clean, loose = set(), set()
    for d, column in enumerate(layers.columns[:-1]):
        crossing = [v for v in column if layers.down[v]]
        if len(crossing) != 1 or isinstance(crossing[0], tuple):
            continue
        loose.add(d)
        if not any(isinstance(w, tuple) for w in layers.down[crossing[0]]):
            clean.add(d)
    return clean, loose


def layered_layout(network: Network, origin: tuple[float, float] = (0.0, 0.0), column_gap: float = COLUMN_GAP,
                   row_gap: float = ROW_GAP, wrap: int = WRAP_COLUMNS) -> Layout:
    """Positions for every node (and the route points of long edges); see the module's notes."""
    if not len(network):
        return Layout({})
    layers = _Layers(network)
    columns, crossings = _order(layers)
    row = _rows(columns, layers, row_gap)
    wrap = max(1, wrap)
    clean, loose = _cuts(layers)
    band_of: list[int] = []
    band, start = 0, 0
    # a network only a little longer than one band stays on one; the last band is never a stub
    wraps = len(columns) > wrap * 1.8
    for d in range(len(columns)):
        # a clean cut once the band is full; where a network has none for long (a flat ResNet,
        # a skip connection over every block), a cut where a skip connection starts
        cut = (d - 1) in clean or (d - start >= LOOSE_AFTER * wrap and (d - 1) in loose)
        if wraps and d - start >= wrap and cut and len(columns) - d >= MIN_LAST_BAND:
            band, start = band + 1, d
        band_of.append(band)
    band_start = {b: band_of.index(b) for b in set(band_of)}
    # each band sits below the one before with a row of air between them
    tops: dict[int, float] = {}
    y = 0.0
    for b in sorted(band_start):
        ys = [row[v] for d, c in enumerate(columns) if band_of[d] == b for v in c]
        tops[b] = y - min(ys)
        y += max(ys) - min(ys) + 2 * row_gap

    def place(v: Vertex, d: int) -> tuple[float, float]:
        b = band_of[d]
        # rounded as the project file stores positions, so a laid-out network saves and reloads equal
        return (round(origin[0] + (d - band_start[b]) * column_gap, 2), round(origin[1] + tops[b] + row[v], 2))

    positions: dict[str, tuple[float, float]] = {}
    for d, column in enumerate(columns):
        for v in column:
            if isinstance(v, str):
                positions[v] = place(v, d)
    routes = {edge_id: [place(v, v[2]) for v in chain] for edge_id, chain in layers.chains.items()
              if isinstance(chain[0], tuple)}
    return Layout(positions, routes, crossings)


def layered_positions(network: Network, origin: tuple[float, float] = (0.0, 0.0),
                      column_gap: float = COLUMN_GAP, row_gap: float = ROW_GAP,
                      wrap: int = WRAP_COLUMNS) -> dict[str, tuple[float, float]]:
    return layered_layout(network, origin, column_gap, row_gap, wrap).positions


def apply_layout(network: Network) -> None:
    for node_id, pos in layered_positions(network).items():
        network.move_node(node_id, pos)
