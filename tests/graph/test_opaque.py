"""An Imported op node whose recorded call does not fit its wiring says which of the two is off."""

from __future__ import annotations

import pytest

import graph
from graph.builder import NetworkBuilder
from graph.errors import GraphError


def _op(args: str):
    b = NetworkBuilder()
    x = b.input((3, 4))
    b.output(b.add("ImportedOp", x, name="odd", op="torch.relu", args=args, in_shapes="N×3×4:float32",
                   out_shape=(3, 4)))
    return b.project("p")


def test_arguments_naming_an_input_that_is_not_there_are_blamed_not_the_wiring():
    with pytest.raises(GraphError, match=r"Imported op 'odd' has arguments that refer to inputs \$5"):
        graph.compile_network(_op('["$5"]'))
    with pytest.raises(GraphError, match="imported with 2 input.s. but has 1 wired"):
        graph.compile_network(_op('["$0", "$1"]'))
