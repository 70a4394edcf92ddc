"""An imported op whose input changes works out its new output on the meta device instead of
turning red, and still says what it was traced for when the op cannot take the new input."""

from __future__ import annotations

import torch
from torch import nn

import graph
from graph.import_torch import import_model
from graph.shapes import analyze


class ClampNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        return torch.clamp(self.conv(x), -1.0, 1.0).flatten(1)


class FixedNorm(nn.Module):
    """LayerNorm over (C, H, W): only inputs of exactly that size fit."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.LayerNorm([4, 8, 8])

    def forward(self, x):
        return self.norm(self.conv(x))


def _imported(model: nn.Module, shape: tuple[int, ...]):
    torch.manual_seed(0)
    report = import_model(model.eval(), [torch.randn(2, *shape)])
    return report.project, report.project.main


def _opaque(net):
    return next(n for n in net.nodes if n.type_id == "ImportedOp")


def test_a_shape_keeping_op_follows_a_new_input_size_and_still_runs():
    project, net = _imported(ClampNet(), (3, 16, 16))
    net.set_param(net.inputs()[0].id, "shape", (3, 24, 24))
    analysis = analyze(net)
    assert analysis.problems == []
    assert analysis.nodes[_opaque(net).id].output.shape == (None, 8, 24, 24)
    assert analysis.nodes[net.outputs()[0].id].output.shape == (None, 8 * 24 * 24)
    out = graph.compile_network(project)(torch.randn(3, 3, 24, 24))
    assert out.shape == (3, 8 * 24 * 24) and float(out.abs().max()) <= 1.0


def test_an_op_that_cannot_take_the_new_input_names_what_it_was_traced_for():
    _, net = _imported(FixedNorm(), (3, 8, 8))
    net.set_param(net.inputs()[0].id, "shape", (3, 12, 12))
    problems = analyze(net).problems
    assert len(problems) == 1 and problems[0].node_id == _opaque(net).id
    assert "traced for input N×4×8×8" in problems[0].message and "N×4×12×12" in problems[0].message
    net.set_param(net.inputs()[0].id, "shape", (3, 8, 8))      # back to the traced size: fine again
    assert analyze(net).problems == []
