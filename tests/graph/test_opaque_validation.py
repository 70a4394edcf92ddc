"""Imported ops are built on the meta device when the network is analysed, so settings torch refuses
are a problem on the node (validate, summary, the canvas) instead of a raw TypeError/KeyError when
compiling or exporting; ``$dtype:`` names only torch dtypes; and shape rules refuse what the
forward pass would (int64 token ids into Dropout and the other float-only layers)."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest
import torch

import graph
from graph.builder import NetworkBuilder
from graph.compiler import make_module
from graph.errors import GraphError, ShapeError
from graph.layers import all_layers, get_layer
from graph.shapes import analyze
from graph.tensor_type import LONG, TensorType
from graph.torch_modules import ImportedOp

ROOT = Path(__file__).resolve().parents[2]


def imported(**params) -> graph.Project:
    b = NetworkBuilder()
    x = b.input((3, 4))
    settings = {"in_shapes": "N×3×4:float32", "out_shape": (3, 4)} | params
    b.output(b.add("ImportedOp", x, name="odd", **settings))
    return b.project("p")


def node_problem(project: graph.Project) -> str:
    analysis = analyze(project.main)
    odd = project.main.find("odd")
    [message] = analysis.node_errors(odd.id)
    assert analysis.nodes[odd.id].error == message  # what the canvas badge shows
    return message


def test_unknown_constructor_arguments_are_a_node_problem_not_a_type_error():
    project = imported(op="nn.Linear", args='["$0"]', init='{"in_features": 4, "out_features": 4, "bogus": 1}')
    message = node_problem(project)
    assert message.startswith("Imported op 'odd' cannot be built from its settings (TypeError:")
    assert "bogus" in message and "fix its module settings" in message
    with pytest.raises(GraphError, match="cannot be built from its settings"):
        graph.compile_network(project)
    with pytest.raises(GraphError, match="cannot be built from its settings"):
        graph.export_python(project)


def test_a_stored_tensor_without_a_shape_is_a_node_problem_not_a_key_error():
    project = imported(op="tensor", args="[]", init='{"dtype": "float32"}', in_shapes="", batched=False)
    assert "needs its 'shape' in the module settings" in node_problem(project)


def test_a_module_class_that_does_not_exist_is_a_node_problem():
    project = imported(op="nn.NoSuchLayer", args='["$0"]', init="{}")
    assert "cannot be built from its settings (AttributeError" in node_problem(project)


@pytest.mark.parametrize("name", ["__builtins__", "nn", "load", "zeros", "float32x", "os"])
def test_dtype_markers_name_only_torch_dtypes(name):
    project = imported(op="Tensor.to", args=json.dumps(["$0", f"$dtype:{name}"]))
    assert f"has the argument '$dtype:{name}', which names no torch dtype" in node_problem(project)
    # the module itself refuses too (a hand-made module, or a script exported by an older version)
    module = ImportedOp("Tensor.to", {}, ("$0", f"$dtype:{name}"))
    with pytest.raises(ValueError, match="is not a torch dtype"):
        module(torch.zeros(2, 3))


def test_a_stored_tensor_dtype_must_be_a_torch_dtype():
    project = imported(op="tensor", args="[]", init='{"shape": [3], "dtype": "__builtins__"}', in_shapes="",
                       batched=False, out_shape=(3,))
    assert "is not a torch dtype" in node_problem(project)


def test_real_dtypes_still_work_end_to_end():
    project = imported(op="Tensor.to", args='["$0", "$dtype:float64"]', kwargs="{}")
    assert analyze(project.main).ok
    module = ImportedOp("Tensor.to", {}, ("$0", "$dtype:float64"))
    assert module(torch.zeros(2, 3)).dtype == torch.float64


def test_the_parameter_count_is_the_built_ones_not_the_recorded_one():
    project = imported(op="nn.Linear", args='["$0"]', init='{"in_features": 4, "out_features": 4}', param_count=0)
    analysis = analyze(project.main)
    assert analysis.ok
    assert analysis.nodes[project.main.find("odd").id].cost.params == 4 * 4 + 4


def test_a_huge_imported_module_is_built_without_memory_and_refused_by_the_memory_check():
    from graph.memory import memory_limit_override

    project = imported(op="nn.Linear", args='["$0"]', init='{"in_features": 1000000, "out_features": 1000000}',
                       param_count=0)
    with memory_limit_override(2**30):
        analysis = analyze(project.main)
    [problem] = analysis.problems
    assert problem.kind == "memory" and "Imported op 'odd' needs" in problem.message


def test_the_cli_reports_a_bad_imported_op_without_a_traceback(tmp_path, capsys):
    sys.path.insert(0, str(ROOT))
    try:
        import main
    finally:
        sys.path.remove(str(ROOT))
    project = imported(op="nn.Linear", args='["$0"]', init='{"in_features": 4, "out_features": 4, "bogus": 1}')
    path = graph.save_project(project, tmp_path / "bad.dcproj")
    for command in ("validate", "export"):
        capsys.readouterr()
        code = main.main([command, str(path)])
        out, err = capsys.readouterr()
        assert code != 0, command
        assert "cannot be built from its settings" in err and "Traceback" not in out + err


# -- int64 ids into float-only layers ---------------------------------------------------------------
def test_dropout_refuses_token_ids_and_says_to_add_an_embedding():
    t = TensorType((None, 12), LONG)
    with pytest.raises(ShapeError, match="put an Embedding before it"):
        get_layer("Dropout").infer({"p": 0.5}, [t])


def _long_inputs(spec) -> list[TensorType | None]:
    ins: list[TensorType | None] = [TensorType(t.shape, LONG) for t in (spec.sample_inputs or
                                                                        (TensorType((None, 6, 5)),))]
    if not spec.is_merge:
        ins += [None] * (len(spec.inputs) - len(ins))
    return ins


@pytest.mark.parametrize("spec", [s for s in all_layers() if s.build is not None and s.type_id != "ImportedOp"],
                         ids=lambda s: s.type_id)
def test_shape_rules_refuse_token_ids_where_a_training_forward_pass_fails(spec):
    ins = _long_inputs(spec)
    params = spec.defaults()
    try:
        spec.infer(params, list(ins))
    except ShapeError as exc:
        if spec.type_id != "Embedding":
            assert "Embedding" in str(exc) or "token ids" in str(exc), str(exc)
        return  # refused: nothing reaches the forward pass (stricter than torch is allowed)
    module = make_module(spec.build(params, ins)).train()  # training mode: dropout draws its mask
    batch = [torch.randint(0, 5, (3, *t.shape[1:])) for t in ins if t is not None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module(*batch)  # accepted by the shape rule, so the forward pass must work
