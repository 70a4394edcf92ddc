"""Blocks with several outputs: an encoder that gives a mean and a log-variance is one block whose
output ports are named after its Output nodes, and it shapes, compiles, exports, saves, groups and
expands like a one-output block."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import graph
from graph import NetworkBuilder
from graph.blocks import expand_block, group_into_block
from graph.shapes import analyze


def _gaussian_encoder(project) -> str:
    inner = NetworkBuilder("Gaussian Encoder")
    x = inner.input((16,), name="x")
    h = inner.add("ReLU", inner.add("Dense", x, units=8, name="hidden"))
    inner.output(inner.add("Dense", h, units=2, name="to_mean"), name="mean")
    inner.output(inner.add("Dense", h, units=3, name="to_logvar"), name="logvar")
    return project.blocks.create("Gaussian Encoder", inner.layout()).name


def _vae_like():
    b = NetworkBuilder("main")
    x = b.input((16,), name="x")
    block = _gaussian_encoder(b.network.library.project)
    enc = b.block(block, x, name="enc")
    b.output(b.add("Dense", (enc, "mean"), units=4, name="head"), name="y")
    b.output((enc, "logvar"), name="lv")
    return b.project("two outputs"), enc


def test_ports_are_named_after_the_output_nodes_and_each_carries_its_shape():
    project, enc = _vae_like()
    net = project.main
    assert net.node(enc).spec.outputs == ("mean", "logvar")
    analysis = analyze(net)
    assert analysis.problems == []
    assert {p: t.shape for p, t in analysis.nodes[enc].ports.items()} == {"mean": (None, 2), "logvar": (None, 3)}
    by_port = {e.source_port: analysis.edges[e.id].shape for e in net.out_edges(enc)}
    assert by_port == {"mean": (None, 2), "logvar": (None, 3)}


def test_compiles_exports_and_reloads_with_the_same_outputs(tmp_path):
    project, _ = _vae_like()
    model = graph.compile_network(project, seed=0).eval()
    x = torch.randn(5, 16)
    y, lv = model(x)
    assert y.shape == (5, 4) and lv.shape == (5, 3)
    script = tmp_path / "model.py"
    script.write_text(graph.export_python(project))
    namespace: dict = {}
    exec(compile(script.read_text(), str(script), "exec"), namespace)   # our own generated script
    exported = namespace["build_model"](0).eval()
    for a, b in zip(exported(x), (y, lv), strict=True):
        assert torch.equal(a, b)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "y: (2, 4)" in run.stdout and "lv: (2, 3)" in run.stdout
    graph.save_project(project, tmp_path / "p.dcproj")
    again = graph.compile_network(graph.load_project(tmp_path / "p.dcproj"), seed=0).eval()
    assert all(torch.equal(a, b) for a, b in zip(again(x), (y, lv), strict=True))


def test_adding_renaming_and_removing_an_output_keeps_the_wires_that_still_mean_something():
    project, enc = _vae_like()
    net = project.main
    inside = project.blocks.get(net.node(enc).params["block"]).network
    logvar = next(n for n in inside.outputs() if n.name == "logvar")
    inside.rename_node(logvar.id, "log_variance")
    assert net.node(enc).spec.outputs == ("mean", "log_variance")
    assert sorted(e.source_port for e in net.out_edges(enc)) == ["log_variance", "mean"]
    assert analyze(net).problems == []
    inside.remove_node(logvar.id)                          # back to one output: the mean's wire stays
    assert net.node(enc).spec.outputs == ("out",)
    assert [e.source_port for e in net.out_edges(enc)] == ["out"]
    assert [net.node(e.target).name for e in net.out_edges(enc)] == ["head"]


def test_grouping_a_selection_with_two_values_leaving_makes_a_two_output_block():
    b = NetworkBuilder()
    x = b.input((20,), name="x")
    h1 = b.add("Dense", x, units=8, name="a")
    h2 = b.add("Dense", h1, units=6, name="b")
    h3 = b.add("Dense", h2, units=8, name="c")
    b.output(b.add("Concat", h1, h3, name="cat"))
    project = b.project()
    net = project.main
    reference = graph.compile_network(project, seed=0).eval()
    state = reference.state_dict()
    inputs = [torch.randn(3, 20)]
    expected = reference(*inputs)
    block = group_into_block(net, [h1, h2, h3], name="Trunk")
    assert block.spec.outputs == ("a_out", "c_out")
    assert analyze(net).problems == []
    grouped = graph.compile_network(project, seed=0).eval()
    # the same layers in the same order, now under the block's name
    grouped.load_state_dict(dict(zip(grouped.state_dict(), state.values(), strict=True)))
    assert torch.allclose(grouped(*inputs), expected)
    expand_block(net, block.id)
    assert analyze(net).problems == []
    expanded = graph.compile_network(project, seed=0).eval()
    expanded.load_state_dict(dict(zip(expanded.state_dict(), state.values(), strict=True)))
    assert torch.allclose(expanded(*inputs), expected)


def test_too_many_values_leaving_is_refused():
    b = NetworkBuilder()
    x = b.input((4,), name="x")
    heads = [b.add("Dense", x, units=2, name=f"h{i}") for i in range(9)]
    b.output(b.add("Concat", *heads, name="cat"))
    net = b.project().main
    with pytest.raises(graph.GraphError, match="more than a block's 8 outputs"):
        group_into_block(net, heads)


def test_the_summary_lists_each_output_of_the_block():
    project, _ = _vae_like()
    row = next(r for r in graph.summarize(project.main).rows if r.name == "enc")
    assert row.output_shape == "mean N×2, logvar N×3"
