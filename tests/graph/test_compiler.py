"""Compiled modules: real torch modules whose parameters, names and behaviour match the drawing."""

from __future__ import annotations

import pytest
import torch

import graph
from graph.templates import list_templates


@pytest.mark.parametrize("template", [t.name for t in list_templates()])
def test_templates_compile_and_train_one_step(template):
    from graph.templates import make_template

    project = make_template(template)
    model = graph.compile_network(project)
    assert sum(p.numel() for p in model.parameters()) == graph.summarize(project).total_params
    outs = graph.compiler.as_tuple(model(*graph.sample_inputs(project, batch_size=4)))
    assert all(out.shape[0] == 4 for out in outs)
    sum(out.float().pow(2).mean() for out in outs).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_submodules_are_named_after_the_nodes():
    b = graph.NetworkBuilder()
    x = b.input((5,))
    b.output(b.add("Dense", x, units=3, name="Hidden Layer"))
    model = graph.compile_network(b.network)
    assert set(model.state_dict()) == {"hidden_layer.weight", "hidden_layer.bias"}


def test_same_seed_same_weights_different_seed_different_weights():
    project = list_templates()[1].make()
    a = graph.compile_network(project, seed=3).state_dict()
    b = graph.compile_network(project, seed=3).state_dict()
    c = graph.compile_network(project, seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_several_inputs_and_outputs():
    b = graph.NetworkBuilder()
    img = b.input((3,), name="a")
    meta = b.input((2,), name="b")
    joined = b.add("Concat", img, meta)
    b.output(b.add("Dense", joined, units=4), name="score")
    b.output(b.add("Dense", meta, units=1), name="aux")
    model = graph.compile_network(b.network)
    score, aux = model(torch.randn(2, 3), torch.randn(2, 2))
    assert score.shape == (2, 4) and aux.shape == (2, 1)
    assert model.input_names == ["a", "b"]


def test_a_network_with_problems_does_not_compile():
    b = graph.NetworkBuilder()
    b.output(b.add("Dense", b.input((1, 4, 4))))
    with pytest.raises(graph.CompileError, match="Flatten"):
        graph.compile_network(b.network)


def test_forward_all_exposes_every_activation():
    project = list_templates()[1].make()
    model = graph.compile_network(project)
    values = model.forward_all(*graph.sample_inputs(project))
    assert set(values) >= set(model.node_names.values()) - {model.output_names[0]}
