"""Live shape inference: the shapes, costs and messages a person sees while drawing."""

from __future__ import annotations

import graph
from graph.templates import list_templates


def _chain(*layers, shape=(1, 8, 8), dtype="float32"):
    b = graph.NetworkBuilder()
    x = b.input(shape, dtype)
    b.output(b.chain(x, *layers))
    return b.network


def test_every_edge_and_node_gets_a_shape():
    net = _chain(("Conv2d", {"filters": 4}), ("MaxPool2d", {}), "Flatten", ("Dense", {"units": 10}))
    result = graph.analyze(net)
    assert result.ok
    assert [str(result.nodes[n.id].output) for n in net.topological_order()] == [
        "N×1×8×8", "N×4×8×8", "N×4×4×4", "N×64", "N×10", "N×10"]
    assert all(result.edges[e.id] is not None for e in net.edges)
    assert result.total_params == (4 * 9 + 4) + (64 * 10 + 10)


def test_dense_fed_an_image_suggests_flatten_and_names_the_node():
    net = _chain(("Dense", {"units": 10}))
    problems = graph.analyze(net).problems
    assert len(problems) == 1
    msg = problems[0].message
    assert "Dense 'dense_1'" in msg and "N×1×8×8" in msg and "Flatten" in msg
    assert problems[0].node_id == net.find("dense_1").id


def test_only_the_cause_is_reported_not_everything_downstream():
    net = _chain(("Dense", {"units": 10}), "ReLU", ("Dense", {"units": 3}))
    result = graph.analyze(net)
    assert [p.node_id for p in result.problems] == [net.find("dense_1").id]
    assert result.nodes[net.find("dense_2").id].output is None


def test_kernel_larger_than_image_says_what_to_change():
    net = _chain(("Conv2d", {"kernel_size": 9, "padding": 0}))
    (problem,) = graph.analyze(net).problems
    assert "smaller kernel" in problem.message and "8×8" in problem.message


def test_token_ids_need_an_embedding_and_embeddings_need_token_ids():
    (p,) = graph.analyze(_chain(("LSTM", {}), shape=(10,), dtype="int64")).problems
    assert "Embedding" in p.message
    (p,) = graph.analyze(_chain(("Embedding", {}), shape=(10,))).problems
    assert "int64" in p.message


def test_missing_input_output_and_unwired_ports_are_reported():
    net = graph.Network()
    net.add_node("Dense")
    messages = [p.message for p in graph.analyze(net).problems]
    assert any("no Input node" in m for m in messages)
    assert any("no Output node" in m for m in messages)
    assert any("nothing wired into it" in m for m in messages)


def test_merge_shapes_must_agree_and_concat_adds_up():
    b = graph.NetworkBuilder()
    x = b.input((8,))
    a = b.add("Dense", x, units=4)
    c = b.add("Dense", x, units=6)
    add = b.add("Add", a, c)
    cat = b.add("Concat", a, c)
    b.output(cat)
    b.output(add)
    result = graph.analyze(b.network)
    assert str(result.nodes[cat].output) == "N×10"
    (problem,) = result.problems
    assert problem.node_id == add and "N×4, N×6" in problem.message


def test_heads_must_divide_the_model_width():
    net = _chain(("Embedding", {"embedding_dim": 30}), ("TransformerEncoder", {"num_heads": 4}),
                 shape=(12,), dtype="int64")
    (p,) = graph.analyze(net).problems
    assert "4 heads" in p.message and "30" in p.message


def test_analysis_is_cached_until_the_graph_changes_but_not_for_moves():
    net = _chain(("Dense", {"units": 5}), shape=(3,))
    first = graph.analyze(net)
    net.move_node("n2", (50, 50))
    assert graph.analyze(net) is first
    net.set_param("n2", "units", 7)
    second = graph.analyze(net)
    assert second is not first and str(second.nodes["n2"].output) == "N×7"


def test_templates_are_valid():
    for template in list_templates():
        project = template.make()
        for net in project.networks:
            assert graph.analyze(net).ok, (template.name, graph.analyze(net).problems)


def test_summary_totals_and_table():
    project = list_templates()[0].make()
    summary = graph.summarize(project)
    assert summary.total_params == sum(r.params for r in summary.rows)
    table = summary.format_table()
    assert "Total params" in table and "Output shape" in table
    data = summary.to_json()
    assert set(data["nodes"][0]) == {"id", "name", "type", "output_shape", "params", "mult_adds", "memory_bytes"}
    assert data["memory"]["needed_bytes"] == sum(n["memory_bytes"] for n in data["nodes"]) > 0
