"""The layered layout (graph/layout.py): fewer crossings, lanes for skip connections, bands that
never cut a skip connection, positions as the project file stores them, and every template laid
out without a card on another.

Crossings are counted here again from the geometry the layout returns (the cards' places and the
route points of long edges), so the count the layout reports is checked, not trusted."""

from __future__ import annotations

import itertools

import pytest

import graph
from graph.document import Network
from graph.layout import COLUMN_GAP, LOOSE_AFTER, ROW_GAP, WRAP_COLUMNS, Layout, apply_layout, layered_layout
from graph.templates import list_templates, make_template


def _chain_points(net: Network, layout: Layout) -> list[list[tuple[float, float]]]:
    """Each edge as the points it passes, column by column (its ends and the route between)."""
    paths = []
    for edge in net.edges:
        paths.append([layout.positions[edge.source], *layout.routes.get(edge.id, []), layout.positions[edge.target]])
    return paths


def _geometric_crossings(net: Network, layout: Layout) -> int:
    """Pairs of wire pieces between the same two neighbouring columns whose rows swap."""
    pieces = []
    for points in _chain_points(net, layout):
        for (x1, y1), (x2, y2) in itertools.pairwise(points):
            if x2 > x1:                             # one column to the next, within a band
                pieces.append((x1, y1, y2))
    total = 0
    for (xa, a1, a2), (xb, b1, b2) in itertools.combinations(pieces, 2):
        if xa == xb and (a1 - b1) * (a2 - b2) < 0:
            total += 1
    return total


def _relu(net: Network, *sources: str, name: str | None = None) -> str:
    node = net.add_node("ReLU", {}, name)
    for s in sources:
        net.connect(s, node.id, "out", "in")
    return node.id


def _add(net: Network, *sources: str) -> str:
    node = net.add_node("Add", {})
    port = node.spec.inputs[0].name
    for s in sources:
        net.connect(s, node.id, "out", port)
    return node.id


def test_a_graph_that_can_be_drawn_without_crossings_is():
    # six parallel chains whose nodes are created in a different order in every column, so the
    # order of creation crosses almost every pair of wires
    net = Network("chains")
    x = net.add_node("Input", {"shape": (4,)}).id
    orders = [[0, 1, 2, 3, 4, 5], [5, 3, 1, 4, 0, 2], [2, 4, 0, 5, 1, 3], [1, 0, 5, 2, 3, 4]]
    last: dict[int, str] = {}
    for column, order in enumerate(orders):
        for chain in order:
            last[chain] = _relu(net, last[chain] if column else x)
    _add(net, *[last[c] for c in range(6)])
    layout = layered_layout(net)
    assert layout.crossings == 0
    assert _geometric_crossings(net, layout) == 0


def test_unavoidable_crossings_are_reported_as_they_are_drawn():
    # every one of three nodes feeds every one of three others: 3·3 crossings in any order
    net = Network("k33")
    x = net.add_node("Input", {"shape": (4,)}).id
    left = [_relu(net, x) for _ in range(3)]
    right = [_add(net, *left) for _ in range(3)]
    _add(net, *right)
    layout = layered_layout(net)
    assert layout.crossings == 9
    assert _geometric_crossings(net, layout) == 9


def _residual_chain(blocks: int, transition: bool = False) -> tuple[Network, list[str]]:
    """x -> [relu, relu, relu, + skip (, relu)] * blocks -> output; returns the net and the skip
    edges' ids. ``transition`` puts a plain layer after each block (a ReLU after the sum)."""
    net = Network("residual")
    current = net.add_node("Input", {"shape": (8,)}, "x").id
    skips = []
    for _ in range(blocks):
        branch = _relu(net, _relu(net, _relu(net, current)))
        join = _add(net, branch, current)
        skips.append(next(e.id for e in net.in_edges(join) if e.source == current))
        current = _relu(net, join) if transition else join
    out = net.add_node("Output", {}, "out")
    net.connect(current, out.id)
    return net, skips


def test_a_skip_connection_gets_a_lane_above_a_straight_main_path():
    net, (skip,) = _residual_chain(1)
    layout = layered_layout(net)
    assert layout.crossings == 0 and _geometric_crossings(net, layout) == 0
    route = layout.routes[skip]
    assert len(route) == 3                  # one point per column the skip passes
    rows = {layout.positions[n.id][1] for n in net.nodes}
    assert len(rows) == 1                   # the main path runs straight
    (row,) = rows
    # the lane lies above the path (the canvas arches such a wire upwards) and no card sits on it
    for px, py in route:
        assert py < row
        assert all(abs(py - y) >= ROW_GAP for x, y in layout.positions.values() if x == px)


def test_no_card_sits_on_the_lane_of_a_long_edge():
    net, skips = _residual_chain(2)
    # a second, longer skip over both blocks
    first = net.topological_order()[0].id
    last_add = [n.id for n in net.topological_order() if n.type_id == "Add"][-1]
    net.connect(first, last_add, "out", net.node(last_add).spec.inputs[0].name)
    layout = layered_layout(net, wrap=100)
    assert layout.crossings == _geometric_crossings(net, layout) == 0
    assert set(skips) <= set(layout.routes)
    for edge_id, route in layout.routes.items():
        for px, py in route:
            assert all(abs(py - y) >= ROW_GAP for x, y in layout.positions.values() if x == px), edge_id


def test_positions_are_rounded_as_the_project_file_stores_them(tmp_path):
    net, _ = _residual_chain(2)
    layout = layered_layout(net, origin=(0.123456, 1 / 3), column_gap=COLUMN_GAP / 3, row_gap=ROW_GAP / 7)
    points = [*layout.positions.values(), *(p for r in layout.routes.values() for p in r)]
    assert all(v == round(v, 2) for p in points for v in p)
    project = graph.Project("p", networks=[net])
    apply_layout(net)
    graph.save_project(project, tmp_path / "p.dcproj")
    loaded = graph.load_project(tmp_path / "p.dcproj").main
    assert {n.id: n.position for n in loaded.nodes} == {n.id: n.position for n in net.nodes}


def _assert_no_overlap(net: Network, positions: dict[str, tuple[float, float]]) -> None:
    for (a, (xa, ya)), (b, (xb, yb)) in itertools.combinations(positions.items(), 2):
        assert abs(xa - xb) >= COLUMN_GAP - 0.01 or abs(ya - yb) >= ROW_GAP - 0.01, \
            f"{net.name}: {net.node(a).name} and {net.node(b).name} overlap"


@pytest.mark.parametrize("template", [t.name for t in list_templates()])
def test_every_template_is_laid_out_without_cards_on_each_other(template):
    project = make_template(template)
    networks = [*project.networks, *(project.blocks.get(name).network for name in project.blocks.names)]
    for net in networks:
        layout = layered_layout(net)
        assert set(layout.positions) == {n.id for n in net.nodes}
        _assert_no_overlap(net, layout.positions)
        assert layout.crossings == _geometric_crossings(net, layout)
    for net in project.networks:    # the template as made is laid out so too
        _assert_no_overlap(net, {n.id: n.position for n in net.nodes})


def test_a_long_chain_wraps_into_bands_only_where_no_skip_connection_crosses():
    net, skips = _residual_chain(8, transition=True)      # 8 blocks of 5 columns: 42 columns
    layout = layered_layout(net)
    pos = layout.positions
    bands = sorted({round(y) for x, y in pos.values() if x == 0.0})
    assert len(bands) >= 3
    assert max(x for x, _ in pos.values()) <= COLUMN_GAP * 2 * WRAP_COLUMNS
    edges = {e.id: e for e in net.edges}
    for skip in skips:
        (sx, sy), (tx, ty) = pos[edges[skip].source], pos[edges[skip].target]
        assert tx - sx == 4 * COLUMN_GAP and sy == ty, "a skip connection crosses a band"
        assert all(sx < px < tx for px, _ in layout.routes[skip])
    # the wires that do go from one band to the next leave a block's sum for the ReLU after it
    # (the only value crossing there), so they cannot be mistaken for a skip
    wraps = [e for e in net.edges if pos[e.target][0] <= pos[e.source][0]]
    assert len(wraps) == len(bands) - 1
    assert all(net.node(e.source).type_id == "Add" and len(net.out_edges(e.source)) == 1 for e in wraps)
    assert layout.crossings == _geometric_crossings(net, layout) == 0


def test_a_network_with_a_skip_over_every_block_wraps_rarely():
    # no place where a single value goes only to the next column: the bands run long, and only
    # then wrap where a skip connection starts
    net, skips = _residual_chain(12)      # 50 columns
    layout = layered_layout(net)
    pos = layout.positions
    edges = {e.id: e for e in net.edges}
    cut = [s for s in skips if pos[edges[s].target][0] <= pos[edges[s].source][0]]
    bands = {round(y) for x, y in pos.values() if x == 0.0}
    assert 1 < len(bands) <= 3
    assert len(cut) == len(bands) - 1
    # a band ends at a skip's source only once it has run LOOSE_AFTER times its usual length
    assert all(pos[edges[s].source][0] >= COLUMN_GAP * (LOOSE_AFTER * WRAP_COLUMNS - 1) for s in cut)
