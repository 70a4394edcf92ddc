"""Every template's networks exported to every file format compute what the app computes: ONNX
checked by onnx's checker and run by onnxruntime, TorchScript and torch.export archives loaded back,
safetensors holding the state dict the exported script loads."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file

import graph
from graph.builder import NetworkBuilder
from graph.export_formats import (
    FORMATS,
    ExportError,
    default_output,
    export_as,
    export_onnx,
    export_pt2,
    export_safetensors,
    export_torchscript,
)
from graph.templates import list_templates, make_template

CASES = [pytest.param(t.name, net.name, id=f"{t.name}-{net.name}") for t in list_templates()
         for net in t.make().networks]
BATCH = 5  # not the batch the exporters trace with: the batch dimension must stay free


def _reference(project, network):
    model = graph.compile_network(project, network, seed=0).eval()
    inputs = graph.sample_inputs(project, batch_size=BATCH, seed=7, network=network)
    with torch.no_grad():
        out = model(*inputs)
    return model, inputs, out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("template,network", CASES)
def test_onnx_passes_the_checker_and_onnxruntime_agrees(template, network, tmp_path):
    project = make_template(template)
    model, inputs, expected = _reference(project, network)
    path = export_onnx(project, tmp_path / "m.onnx", network).path
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == model.input_names
    assert [o.name for o in session.get_outputs()] == model.output_names
    got = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs, strict=True)})
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(b, a.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("template,network", CASES)
def test_torchscript_pt2_and_safetensors_load_back_and_agree(template, network, tmp_path):
    project = make_template(template)
    model, inputs, expected = _reference(project, network)
    scripted = torch.jit.load(str(export_torchscript(project, tmp_path / "m.pt", network).path))
    program = torch.export.load(str(export_pt2(project, tmp_path / "m.pt2", network).path)).module()
    with torch.no_grad():
        for loaded in (scripted, program):
            out = loaded(*inputs)
            for a, b in zip(expected, out if isinstance(out, tuple) else (out,), strict=True):
                torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    state = load_file(str(export_safetensors(project, tmp_path / "w.safetensors", network).path))
    own = model.state_dict()
    assert state.keys() == own.keys()
    assert all(torch.equal(state[k], own[k]) for k in own)
    # the weights file loads into the exported Python script's model as it is
    namespace: dict = {"__name__": "exported"}
    exec(compile(graph.export_python(project, network), "<export>", "exec"), namespace)
    namespace["build_model"](seed=1).load_state_dict(state, strict=True)


def _mlp():
    b = NetworkBuilder()
    x = b.input((6,), name="features")
    b.output(b.chain(x, ("Dense", {"units": 5}), "ReLU", ("Dense", {"units": 3})), name="scores")
    return b.project("small mlp")


def test_exports_hold_the_trained_weights_they_are_given(tmp_path):
    project = _mlp()
    trained = graph.compile_network(project, seed=0)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
    x = torch.randn(4, 6)
    result = export_as("onnx", project, tmp_path / "m.onnx", weights=trained.state_dict())
    assert result.weights == "saved weights"
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"features": x.numpy()})[0], trained(x).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    state = load_file(str(export_as("safetensors", project, tmp_path / "w.safetensors", seed=3).path))
    assert torch.equal(state["dense_1.weight"], graph.compile_network(project, seed=3).state_dict()["dense_1.weight"])


def test_weights_of_another_network_are_refused_with_the_tensors_named(tmp_path):
    project = _mlp()
    wrong = {k: torch.zeros(2, 2) if k == "dense_1.weight" else v
             for k, v in graph.compile_network(project).state_dict().items()}
    with pytest.raises(ExportError, match=r"dense_1\.weight .*train it again"):
        export_as("torchscript", project, tmp_path / "m.pt", weights=wrong)
    assert not (tmp_path / "m.pt").exists()


def test_a_network_with_problems_is_not_exported_and_the_node_is_named(tmp_path):
    b = NetworkBuilder()
    x = b.input((1, 8, 8))
    b.output(b.add("Dense", x, units=4, name="head"))
    with pytest.raises(ExportError, match="Dense 'head'.*Flatten"):
        export_onnx(b.project("broken"), tmp_path / "m.onnx")


def test_an_op_onnx_cannot_express_is_named(tmp_path):
    b = NetworkBuilder()
    x = b.input((3, 4))
    h = b.add("ImportedOp", x, name="distances", op="torch.cdist", args='["$0","$0"]',
              in_shapes="N×3×4:float32", out_shape=(3, 3))
    b.output(h)
    with pytest.raises(ExportError, match="Imported op 'distances'.*pt2 or torchscript"):
        export_onnx(b.project("odd"), tmp_path / "m.onnx")
    # the formats that keep PyTorch's own ops still take it
    export_pt2(b.project("odd"), tmp_path / "m.pt2")


def test_default_file_names_follow_the_project():
    assert default_output("runs/digits.dcproj", "x", "onnx").as_posix() == "runs/digits.onnx"
    assert default_output(None, "My model!", "torchscript").name == "My_model.pt"
    assert set(FORMATS) == {"python", "onnx", "torchscript", "pt2", "safetensors"}
    with pytest.raises(ExportError, match="unknown export format 'tflite'"):
        export_as("tflite", _mlp(), "m.tflite")
