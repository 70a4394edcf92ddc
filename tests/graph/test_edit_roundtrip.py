"""Whatever the editor can make, the project file must read back.

Random edit sequences (add, connect, rename, move, set params, group into a block, expand a block,
drop a Block node, paste a copied fragment), run on the project's networks and on the blocks'
insides, through the same model API the editor's commands use. After each sequence the project is
saved and opened again and must come back the same. Edits the model refuses (a GraphError) are
simply part of the sequence: the refusal must leave a project that still saves and loads.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import GraphError, Project
from graph.blocks import add_block_node, expand_block, group_into_block
from graph.document import MAX_NAME_LENGTH, Network
from graph.layers import all_layers
from graph.project_file import load_project, network_from_dict, network_to_dict, project_to_dict, save_project

LAYER_TYPES = sorted(spec.type_id for spec in all_layers())
#: names near the limit matter most: the model makes longer ones out of them (numbers, suffixes)
NAMES = st.one_of(
    st.text(min_size=0, max_size=MAX_NAME_LENGTH + 5),
    st.integers(MAX_NAME_LENGTH - 3, MAX_NAME_LENGTH).map(lambda n: "B" * (n - 2) + " 7"),
    st.integers(MAX_NAME_LENGTH - 3, MAX_NAME_LENGTH).map(lambda n: "x" * n),
    st.sampled_from(["dense_1", "input", "out", "Block", "a b", "  spaced  out  ", "ünï ✓", "n1"]),
)
POSITIONS = st.tuples(*[st.one_of(st.floats(-1e12, 1e12), st.integers(-10**12, 10**12))] * 2)


def _value(kind: str) -> st.SearchStrategy[Any]:
    ints = st.one_of(st.integers(-4, 300), st.integers(-(2**64), 2**64))
    return {
        "int": ints,
        "float": st.one_of(st.floats(-10, 10), st.floats(allow_nan=False)),
        "bool": st.booleans(),
        "str": st.text(max_size=210),
        "choice": st.text(max_size=12),
        "ints": st.one_of(st.lists(ints, max_size=9), st.text(max_size=12)),
    }[kind]


def _networks(project: Project) -> list[Network]:
    return list(project.networks) + [d.network for d in project.blocks]


def _paste(net: Network, chosen: list[str], anchor: tuple[float, float]) -> None:
    """The model side of the editor's paste: the fragment is read through the file reader (as the
    clipboard is), then added under fresh ids with free names (``PasteCommand.redo``)."""
    part = Network(net.name)
    part.library = net.library
    for node in net.nodes:
        if node.id in chosen:
            part.add_node(node.type_id, dict(node.params), node.name, node.position, node_id=node.id)
    for edge in net.edges:
        if edge.source in chosen and edge.target in chosen:
            part.connect(edge.source, edge.target, edge.source_port, edge.target_port, edge_id=edge.id)
    fragment = network_from_dict(json.loads(json.dumps(network_to_dict(part))), "clipboard", net.library)
    ids: dict[str, str] = {}
    for node in fragment.nodes:
        pos = (node.position[0] + anchor[0], node.position[1] + anchor[1])
        ids[node.id] = net.add_node(node.type_id, dict(node.params), net.unique_name(node.name), pos).id
    for e in fragment.edges:
        net.connect(ids[e.source], ids[e.target], e.source_port, e.target_port)


def _edit(data: st.DataObject, project: Project) -> None:
    net = data.draw(st.sampled_from(_networks(project)))
    nodes = net.nodes
    op = data.draw(st.sampled_from(["add", "add", "add", "connect", "connect", "rename", "move", "param",
                                    "group", "expand", "block", "paste"] if nodes else ["add", "block"]))
    pick = st.sampled_from([n.id for n in nodes]) if nodes else st.nothing()
    if op == "add":
        name = data.draw(st.one_of(st.none(), NAMES))
        net.add_node(data.draw(st.sampled_from(LAYER_TYPES)), None, name, data.draw(POSITIONS))
    elif op == "connect":
        source, target = data.draw(pick), data.draw(pick)
        outputs = net.node(source).spec.outputs or ("out",)
        net.connect(source, target, data.draw(st.sampled_from(list(outputs))))
    elif op == "rename":
        net.rename_node(data.draw(pick), data.draw(NAMES))
    elif op == "move":
        net.move_node(data.draw(pick), data.draw(POSITIONS))
    elif op == "param":
        node = net.node(data.draw(pick))
        params = [p for p in node.spec.params if p.name != "block"]
        if params:
            param = data.draw(st.sampled_from(params))
            net.set_param(node.id, param.name, data.draw(_value(param.kind)))
    elif op == "group":
        chosen = data.draw(st.lists(pick, min_size=1, max_size=3, unique=True))
        group_into_block(net, chosen, data.draw(NAMES))
    elif op == "expand":
        blocks = [n.id for n in net.block_nodes()]
        if blocks:
            expand_block(net, data.draw(st.sampled_from(blocks)))
    elif op == "block":
        if len(project.blocks):
            add_block_node(net, data.draw(st.sampled_from(project.blocks.names)), data.draw(POSITIONS),
                           data.draw(st.one_of(st.none(), NAMES)))
    else:
        chosen = data.draw(st.lists(pick, min_size=1, max_size=4, unique=True))
        _paste(net, chosen, data.draw(POSITIONS))


def _saved_form(project: Project) -> Any:
    return json.loads(json.dumps(project_to_dict(project)))


def _start() -> Project:
    project = Project(name="edits")
    main = project.add_network("main")
    x = main.add_node("Input", {"shape": (8,)}, "x", (0, 0))
    h = main.add_node("Dense", {"units": 4}, "h", (200, 0))
    y = main.add_node("Output", {}, "y", (400, 0))
    main.connect(x.id, h.id)
    main.connect(h.id, y.id)
    return project


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), steps=st.integers(1, 14))
def test_any_edit_sequence_saves_and_loads_back_the_same(data: st.DataObject, steps: int) -> None:
    project = _start()
    for _ in range(steps):
        try:
            _edit(data, project)
        except GraphError:
            pass            # refused, with a reason: the project stays as it was and must still save
    with tempfile.TemporaryDirectory() as folder:
        path = save_project(project, Path(folder) / "p.dcproj")
        loaded = load_project(path)
    assert _saved_form(loaded) == _saved_form(project)


def test_grouping_under_a_name_of_the_longest_length_saves_and_loads(tmp_path: Path) -> None:
    """The report: a 100-character block name made a 102-character node name, which saved but
    did not load."""
    project = _start()
    main = project.main
    name = "B" * MAX_NAME_LENGTH
    block = group_into_block(main, [main.find("h").id], name)
    assert len(block.name) <= MAX_NAME_LENGTH
    twin = add_block_node(main, block.params["block"])           # a second use: the name gets a number
    assert len(twin.name) <= MAX_NAME_LENGTH and twin.name != block.name
    copy = project.blocks.duplicate(block.params["block"])      # "<name> copy" is shortened, not refused
    assert len(copy.name) <= MAX_NAME_LENGTH and copy.name != block.params["block"]
    expanded = expand_block(main, block.id)
    _paste(main, [n.id for n in expanded], (10, 10))
    loaded = load_project(save_project(project, tmp_path / "p.dcproj"))
    assert _saved_form(loaded) == _saved_form(project)


def test_long_names_made_by_numbering_stay_within_the_limit() -> None:
    project = _start()
    main = project.main
    long = "y" * MAX_NAME_LENGTH
    main.rename_node(main.find("h").id, long)
    assert len(main.unique_name(long)) == MAX_NAME_LENGTH and main.unique_name(long) != long
    project.rename_network("main", long)
    assert len(project.unique_network_name(long)) <= MAX_NAME_LENGTH
    assert project.unique_network_name(long) != long


def test_renaming_an_input_inside_a_block_moves_the_edges_into_that_port(tmp_path: Path) -> None:
    """Found by the property test: the outer edge kept feeding port 'x' after the inner Input was
    renamed, so the file named a port the block no longer had and would not open."""
    project = _start()
    main = project.main
    block = group_into_block(main, [main.find("h").id], "inner")
    inside = project.blocks.get("inner").network
    inside.rename_node(inside.find("x").id, "features")
    assert [e.target_port for e in main.in_edges(block.id)] == ["features"]
    inside.remove_node(inside.find("features").id)           # the port is gone: so is its edge
    assert main.in_edges(block.id) == []
    loaded = load_project(save_project(project, tmp_path / "p.dcproj"))
    assert _saved_form(loaded) == _saved_form(project)
