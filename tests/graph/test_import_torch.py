"""import-torch: existing PyTorch models become projects that compute the same thing with the same
weights, whether they are our own exported scripts or models written by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import graph
from graph.blocks import nodes_within
from graph.export_formats import export_onnx, export_torchscript
from graph.import_torch import TorchImportError, import_model, import_torch
from graph.templates import list_templates

MODELS = Path(__file__).parent / "data" / "handwritten_models.py"
TEMPLATES = [pytest.param(t.name, net.name, id=f"{t.name}-{net.name}") for t in list_templates()
             for net in t.make().networks]


def _outputs(model, inputs):
    with torch.no_grad():
        out = model(*inputs)
    return out if isinstance(out, tuple) else (out,)


def _assert_same_model(report, reference, inputs):
    """Same parameter count, and the imported weights give the same outputs."""
    assert report.params_imported == sum(p.numel() for p in reference.parameters())
    imported = graph.compile_network(report.project, seed=123).eval()
    imported.load_state_dict(report.weights, strict=True)
    for a, b in zip(_outputs(reference.eval(), inputs), _outputs(imported, inputs), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    return imported


def _layer_types(project, network) -> list[str]:
    return [n.type_id for n in nodes_within(network) if n.spec.role == "layer" and not n.is_block]


@pytest.mark.parametrize("template,network", TEMPLATES)
def test_every_template_round_trips_through_its_exported_script(template, network, tmp_path):
    project = next(t for t in list_templates() if t.name == template).make()
    script = tmp_path / "exported.py"
    script.write_text(graph.export_python(project, network))
    # build_model() gives the project's seed-0 weights (the class itself would draw fresh ones)
    report = import_torch(f"{script}:build_model", name=project.name)
    assert report.opaque == []  # every layer of a drawn network maps back to its layer type
    original_types = sorted(_layer_types(project, project.network(network)))
    # submodules come back as blocks: the layers inside them are the drawn ones
    assert sorted(_layer_types(report.project, report.project.main)) == original_types
    _assert_same_model(report, graph.compile_network(project, network, seed=0),
                       graph.sample_inputs(project, batch_size=4, seed=3, network=network))


def _model(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location("handwritten_models_for_test", MODELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.mark.parametrize("name,shape,dtype,types", [
    ("LeNet", (1, 28, 28), "float32", {"Conv2d", "MaxPool2d", "ReLU", "Reshape", "Dense"}),
    ("LSTMClassifier", (15,), "int64", {"Embedding", "LSTM", "Dropout", "Dense"}),
    ("TinyTransformer", (12,), "int64", {"Embedding", "Scale", "PositionalEmbedding", "TransformerEncoder",
                                         "LayerNorm", "SequencePool", "Dense"}),
])
def test_hand_written_models_import_to_layers_with_their_weights(name, shape, dtype, types):
    torch.manual_seed(0)
    model = _model(name)()
    inputs = [torch.randint(0, 4, (2, *shape)) if dtype == "int64" else torch.randn(2, *shape)]
    report = import_model(model, inputs)
    assert {n.type_id for n in report.project.main.nodes if n.spec.role == "layer"} - {"ImportedOp"} == types
    _assert_same_model(report, model, [torch.cat([t, t.flip(0)]) for t in inputs])


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_unknown_ops_become_marked_imported_ops_that_compile_and_export(tmp_path):
    report = import_torch(f"{MODELS}:OddOps")  # example input from the file's sample_inputs()
    net = report.project.main
    opaque = [n for n in net.nodes if n.type_id == "ImportedOp"]
    assert {n.params["op"] for n in opaque} == {"nn.LayerNorm", "torch.clamp"}
    assert "imported" in opaque[0].spec.description.lower()
    assert any("LayerNorm" in why for _, why in report.opaque)
    assert [n.type_id for n in net.nodes].count("Transpose") == 2
    # saved and loaded like any project, it still compiles, exports and computes the same
    graph.save_project(report.project, tmp_path / "odd.dcproj", weights={net.name: report.weights})
    loaded = graph.load_project(tmp_path / "odd.dcproj")
    weights = graph.project_file.load_weights(tmp_path / "odd.dcproj")[net.name]
    model = graph.compile_network(loaded).eval()
    model.load_state_dict(weights)
    x = torch.randn(4, 4, 6)
    namespace: dict = {"__name__": "exported"}
    exec(compile(graph.export_python(loaded), "<export>", "exec"), namespace)
    script_model = namespace["build_model"]().eval()
    script_model.load_state_dict(weights)
    with torch.no_grad():
        torch.testing.assert_close(script_model(x), model(x))
    export_onnx(loaded, tmp_path / "odd.onnx", weights=weights)
    traced = torch.jit.load(str(export_torchscript(loaded, tmp_path / "odd.pt", weights=weights).path))
    torch.testing.assert_close(traced(x), model(x))


def test_an_imported_op_refuses_a_changed_input_shape():
    report = import_torch(f"{MODELS}:OddOps")
    net = report.project.main
    net.set_param(net.find("x").id, "shape", (4, 9))
    problems = [p.message for p in graph.analyze(net).problems]
    assert any("Imported op 'norm'" in m and "traced for input N×8×6" in m for m in problems), problems


def test_a_project_file_cannot_make_an_imported_op_run_other_code():
    b = graph.NetworkBuilder()
    x = b.input((4,))
    b.output(b.add("ImportedOp", x, name="evil", op="torch.save", args='["$0", "/tmp/x.pt"]'))
    problems = [p.message for p in graph.analyze(b.network).problems]
    assert any("Imported op 'evil' calls 'torch.save', which imported code may not run" in m for m in problems)
    with pytest.raises(graph.CompileError):
        graph.compile_network(b.network)


@pytest.mark.parametrize("target,message", [
    ("no-colon", "is not MODULE:CLASS"),
    (f"{MODELS}:Missing", "has no 'Missing'; it defines DataDependent, LSTMClassifier, LeNet"),
    ("/nowhere/models.py:Net", "no such Python file"),
    ("no_such_package.models:Net", "no module named 'no_such_package'"),
    (f"{MODELS}:NumpyStep", "cannot be traced with torch.fx (ValueError"),
    (f"{MODELS}:NumpyStep", "and torch.export cannot record it either"),
    (f"{MODELS}:Unlisted", "which imported code may not run"),
])
def test_bad_targets_say_what_is_wrong(target, message):
    with pytest.raises(TorchImportError, match=re.escape(message)):
        import_torch(target, [(4,)])


def test_a_module_without_sample_inputs_asks_for_the_input_shape(tmp_path):
    path = tmp_path / "net.py"
    path.write_text("from torch import nn\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                    "        super().__init__()\n        self.fc = nn.Linear(3, 2)\n\n"
                    "    def forward(self, x):\n        return self.fc(x)\n")
    with pytest.raises(TorchImportError, match="--input-shape"):
        import_torch(f"{path}:Net")
    with pytest.raises(TorchImportError, match="fails on the example input"):
        import_torch(f"{path}:Net", [(5,)])
    assert import_torch(f"{path}:Net", [(3,)]).params_imported == 8
