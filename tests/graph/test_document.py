"""The document's rules and change events: what the editor relies on while a person draws."""

from __future__ import annotations

import pytest

import graph
from graph.events import EdgeAdded, EdgeRemoved, NodeAdded, NodeMoved, NodeRemoved, NodeRenamed, ParamChanged


@pytest.fixture
def net() -> graph.Network:
    n = graph.Network("main")
    n.add_node("Input", {"shape": (20,)}, name="x")
    n.add_node("Dense", {"units": 8}, name="fc1")
    n.add_node("ReLU", name="act")
    n.add_node("Output", name="y")
    n.connect("n1", "n2")
    n.connect("n2", "n3")
    n.connect("n3", "n4")
    return n


def test_ids_are_stable_and_names_default_to_readable_unique_ones():
    n = graph.Network()
    a, b, c = n.add_node("Dense"), n.add_node("Dense"), n.add_node("Conv2d")
    assert [a.id, b.id, c.id] == ["n1", "n2", "n3"]
    assert [a.name, b.name, c.name] == ["dense_1", "dense_2", "conv2d_1"]
    n.remove_node(b.id)
    assert n.add_node("Dense").id == "n4"  # a removed id is never reused for a new node


def test_cycles_are_refused_with_a_reason(net):
    ok, why = net.can_connect("n3", "n2")
    assert not ok and "loop" in why
    with pytest.raises(graph.CycleError):
        net.connect("n3", "n2")
    with pytest.raises(graph.CycleError):
        net.connect("n2", "n2")


def test_one_edge_per_input_port_but_merges_take_many(net):
    other = net.add_node("Dense", name="fc2")
    net.connect("n1", other.id)
    with pytest.raises(graph.PortError, match="already fed by Dense 'fc1'"):
        net.connect(other.id, "n3")
    add = net.add_node("Add")
    net.connect("n2", add.id)
    net.connect(other.id, add.id)
    assert len(net.in_edges(add.id)) == 2
    with pytest.raises(graph.DuplicateEdgeError):
        net.connect(other.id, add.id)


def test_ports_must_exist(net):
    with pytest.raises(graph.PortError, match="no input port 'nope'"):
        net.connect("n1", "n3", target_port="nope")
    with pytest.raises(graph.PortError, match="end point"):
        net.connect("n4", "n2")
    ok, why = net.can_connect("n2", "n1")
    assert not ok and "takes no inputs" in why
    with pytest.raises(graph.NodeNotFoundError):
        net.connect("n1", "n99")


def test_named_ports_for_cross_attention():
    n = graph.Network()
    q = n.add_node("Input", {"shape": (4, 8)})
    kv = n.add_node("Input", {"shape": (6, 8)})
    att = n.add_node("MultiheadAttention", {"num_heads": 2})
    n.connect(q.id, att.id)  # first free port: query
    n.connect(kv.id, att.id, target_port="key")
    assert {e.target_port for e in n.in_edges(att.id)} == {"query", "key"}
    assert n.free_input_port(att.id) == "value"


def test_events_announce_every_change(net):
    seen = []
    project = graph.Project("p", [net])
    project.subscribe(seen.append)
    node = net.add_node("Dropout")
    net.set_param(node.id, "p", 0.25)
    net.rename_node(node.id, "drop")
    net.move_node(node.id, (10, 20))
    edge = net.connect("n3", node.id)
    net.disconnect(edge.id)
    net.remove_node(node.id)
    kinds = [type(e) for e in seen]
    assert kinds == [NodeAdded, ParamChanged, NodeRenamed, NodeMoved, EdgeAdded, EdgeRemoved, NodeRemoved]
    assert seen[1].old == 0.5 and seen[1].new == 0.25


def test_removing_a_node_returns_what_an_undo_needs(net):
    before = (net.nodes, net.edges)
    node, edges = net.remove_node("n2")
    assert {e.id for e in edges} == {"e1", "e2"}
    assert "n2" not in net and len(net.edges) == 1
    net.add_node(node.type_id, node.params, node.name, node.position, node_id=node.id)
    for e in edges:
        net.connect(e.source, e.target, e.source_port, e.target_port, edge_id=e.id)
    assert (net.nodes, net.edges) == before


def test_bad_params_are_refused_and_leave_the_node_unchanged(net):
    with pytest.raises(graph.ParamError, match="at least 1"):
        net.set_param("n2", "units", 0)
    with pytest.raises(graph.ParamError, match="whole number"):
        net.set_param("n2", "units", "many")
    with pytest.raises(graph.ParamError, match="no parameter"):
        net.set_param("n2", "colour", 3)
    assert net.node("n2").params["units"] == 8
    assert net.set_param("n2", "units", "16") == 16  # typed text is accepted when it is a number


def test_tuple_params_accept_text_and_single_numbers():
    n = graph.Network()
    c = n.add_node("Conv2d", {"kernel_size": 5})
    assert c.params["kernel_size"] == (5, 5)
    assert n.set_param(c.id, "kernel_size", "3, 1") == (3, 1)
    with pytest.raises(graph.ParamError, match="exactly 2"):
        n.set_param(c.id, "kernel_size", (1, 2, 3))


def test_names_are_cleaned_and_cannot_be_empty(net):
    assert net.rename_node("n2", "  hidden   layer ") == "hidden layer"
    with pytest.raises(graph.GraphError):
        net.rename_node("n2", "   ")


def test_topological_order_is_deterministic():
    b = graph.NetworkBuilder()
    x = b.input((4,))
    left = b.add("Dense", x, units=3)
    right = b.add("Dense", x, units=3)
    b.output(b.add("Add", left, right))
    order = [n.id for n in b.network.topological_order()]
    assert order == ["n1", "n2", "n3", "n4", "n5"]


def test_project_networks_are_named_uniquely():
    p = graph.Project("p")
    p.add_network("main")
    with pytest.raises(graph.GraphError, match="already exists"):
        p.add_network("main")
    p.add_network(p.unique_network_name("main"))
    assert [n.name for n in p.networks] == ["main", "main_2"]
    p.rename_network("main_2", "decoder")
    assert p.network("decoder") is p.networks[1]


def test_layout_puts_every_node_somewhere_distinct_and_wraps_long_chains():
    from graph.layout import WRAP_COLUMNS, layered_positions
    from graph.templates import make_template

    net = make_template("cnn-digits").main
    pos = layered_positions(net)
    assert len(set(pos.values())) == len(net)
    xs = {x for x, _ in pos.values()}
    assert len(xs) == WRAP_COLUMNS  # 14 layers in a row wrap into bands of WRAP_COLUMNS columns
    order = [n.id for n in net.topological_order()]
    assert pos[order[0]][1] < pos[order[-1]][1]  # later bands lie below


def test_rename_refreshes_messages_that_quote_the_name():
    b = graph.NetworkBuilder()
    dense = b.add("Dense", b.input((1, 4, 4)))
    b.output(dense)
    net = b.network
    assert "dense_1" in graph.analyze(net).problems[0].message
    net.rename_node(dense, "classifier")
    assert "classifier" in graph.analyze(net).problems[0].message


def test_hostile_values_are_refused_with_graph_errors():
    n = graph.Network()
    with pytest.raises(graph.GraphError):
        n.add_node("Dense", position=(float("inf"), 0))
    with pytest.raises(graph.GraphError):
        n.add_node("Dense", node_id=["not", "hashable"])
    with pytest.raises(graph.GraphError):
        n.add_node("Dense", node_id="n" + "9" * 5000)
    with pytest.raises(graph.GraphError):
        n.add_node("Dense", name="bad\ud800name")
    d = n.add_node("Dropout")
    with pytest.raises(graph.ParamError):
        n.set_param(d.id, "p", 10**400)
    with pytest.raises(graph.GraphError):
        n.move_node(d.id, (0, float("nan")))
    big = n.add_node("Input", {"shape": (100_000, 100_000)})
    assert "values per sample" in graph.analyze(n).nodes[big.id].error


def test_settings_changes_are_announced_and_removable():
    p = graph.Project("p")
    seen = []
    p.subscribe(seen.append)
    p.set_setting("training", {"epochs": 3})
    p.remove_setting("training")
    p.remove_setting("training")  # nothing left to remove: no event
    assert "training" not in p.settings
    assert [e.key for e in seen] == ["training", "training"]
