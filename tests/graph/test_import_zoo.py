"""The import zoo: models written the way public example repositories write them
(tests/graph/data/zoo_models.py) import into projects that compute what the model computes, with
its weights, at batch sizes other than the example's."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import graph
from graph.blocks import nodes_within
from graph.import_torch import TorchImportError, import_model

ZOO_FILE = Path(__file__).parent / "data" / "zoo_models.py"


def _zoo():
    spec = importlib.util.spec_from_file_location("zoo_models_for_test", ZOO_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ZOO = _zoo()
#: models that import, with the layer types their import must hold (besides the common ones)
IMPORTS = {
    "MnistNet": {"Conv2d", "MaxPool2d", "Flatten", "LogSoftmax"},
    "DCGANGenerator": {"ConvTranspose2d", "BatchNorm2d", "Tanh"},
    "DCGANDiscriminator": {"Conv2d", "LeakyReLU", "Sigmoid"},
    "VAE": {"RandnLike", "Exp", "Multiply", "Add"},
    "MobileNetV2": {"ReLU6", "Add", "AdaptiveAvgPool2d"},
    "EfficientNet": {"StochasticDepth", "SiLU", "Multiply", "Sigmoid"},
    "ViT": {"ClassToken", "PositionalEmbedding", "TransformerEncoder", "SequencePool"},
    "ResNet18": {"MaxPool2d", "Add", "AdaptiveAvgPool2d", "Dense"},
    "UNet": {"ConvTranspose2d", "Concat", "MaxPool2d"},
}


def _layer_types(project, network) -> list[str]:
    return [n.type_id for n in nodes_within(network) if n.spec.role == "layer" and not n.is_block]


def _seeded(module, inputs):
    with torch.no_grad():
        torch.manual_seed(7)
        out = module(*inputs)
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", sorted(IMPORTS))
def test_zoo_model_imports_with_equal_outputs(name):
    make, inputs = ZOO.ZOO[name]
    torch.manual_seed(0)
    model = make().eval()
    report = import_model(model, inputs(2))
    assert report.tracer.startswith("torch.fx")
    assert report.opaque == []
    types = _layer_types(report.project, report.project.main)
    assert IMPORTS[name] <= set(types), sorted(set(types))
    assert report.params_imported == report.params_source == sum(p.numel() for p in model.parameters())
    imported = graph.compile_network(report.project, seed=1).eval()
    imported.load_state_dict(report.weights, strict=True)
    for batch in (1, 4):
        x = inputs(batch)
        for want, got in zip(_seeded(model, x), _seeded(imported, x), strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_the_vae_samples_like_the_model_only_under_the_same_seed():
    model = ZOO.VAE().eval()
    report = import_model(model, [torch.rand(2, 1, 28, 28)])
    imported = graph.compile_network(report.project, seed=1).eval()
    imported.load_state_dict(report.weights, strict=True)
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(_seeded(imported, [x])[0], _seeded(model, [x])[0])
    with torch.no_grad():
        torch.manual_seed(8)
        other = imported(x)[0]
    assert not torch.allclose(other, _seeded(model, [x])[0])  # it does draw


def test_resnet_keeps_its_blocks():
    report = import_model(ZOO.ResNet18Small().eval(), [torch.randn(2, 3, 32, 32)])
    top = [n for n in report.project.main.nodes if n.spec.role == "layer" or n.is_block]
    assert len(top) <= 12
    assert any(n.is_block for n in top)


#: sequence-first language models: (layer types their import must hold, layer nodes, imported ops)
LANGUAGE_MODELS = {
    "LSTMLanguageModel": ({"Embedding", "StatefulLSTM", "Dense", "LogSoftmax"}, 6, 0),
    "GRULanguageModel": ({"Embedding", "StatefulGRU", "Dense", "LogSoftmax"}, 6, 0),
    # the positional table pe[:L] is the model's own tensor, sliced, moved batch-first and added
    "TransformerLM": ({"Embedding", "Scale", "TransformerEncoder", "Dense", "LogSoftmax"}, 6, 4),
}


@pytest.mark.parametrize("name", sorted(LANGUAGE_MODELS))
def test_sequence_first_language_models_import_batch_first_with_equal_outputs(name):
    make, inputs = ZOO.ZOO[name]
    want_types, layer_nodes, opaque = LANGUAGE_MODELS[name]
    torch.manual_seed(0)
    model = make().eval()
    report = import_model(model, inputs(2))
    types = _layer_types(report.project, report.project.main)
    assert want_types <= set(types), sorted(set(types))
    assert (len(types) - len(report.opaque), len(report.opaque)) == (layer_nodes, opaque)
    assert report.params_imported == report.params_source == sum(p.numel() for p in model.parameters())
    # tokens (seq, batch) and states (layers, batch, hidden): the network takes each batch-first
    assert report.input_axes == [1] * len(report.input_axes) and len(report.input_axes) == len(
        [t for v in inputs(2) for t in (v if isinstance(v, tuple) else [v])])
    shapes = [n.params["shape"] for n in report.project.main.nodes if n.spec.role == "input"]
    assert shapes[0] == (7,) if name != "TransformerLM" else shapes[0] == (9,)
    assert all(shape == (2, 16) for shape in shapes[1:])
    imported = graph.compile_network(report.project, seed=1).eval()
    imported.load_state_dict(report.weights, strict=True)
    for batch in (1, 4):
        x = inputs(batch)
        want = _seeded(model, x)
        got = report.model_outputs(_seeded(imported, report.network_inputs(x)))
        flat = [t for v in want for t in (v if isinstance(v, tuple) else [v])]
        assert len(got) == len(flat)
        for w, g in zip(flat, got, strict=True):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_the_transformer_lm_mask_becomes_the_causal_setting():
    report = import_model(ZOO.TransformerModel().eval(), ZOO.ZOO["TransformerLM"][1](2))
    encoders = [n for n in report.project.main.nodes if n.type_id == "TransformerEncoder"]
    assert [n.params["causal"] for n in encoders] == [True]
    # the steps that built the mask (torch.full, triu) are gone: the layer makes it from the length
    ops = {n.params["op"] for n in report.project.main.nodes if n.type_id == "ImportedOp"}
    assert not ops & {"torch.full", "torch.triu"}


def test_an_encoder_given_another_mask_is_refused():
    class Masked(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layer = torch.nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True)
            self.enc = torch.nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
            mask = torch.zeros(5, 5)
            mask[0, 1] = float("-inf")   # not causal: only position 0 is kept from seeing position 1
            self.register_buffer("mask", mask)

        def forward(self, x):
            return self.enc(x, self.mask)

    with pytest.raises(TorchImportError, match="called with a mask other than the causal one"):
        import_model(Masked().eval(), [torch.randn(2, 5, 8)])


def test_the_cli_imports_the_lstm_language_model_from_its_sample_inputs(tmp_path):
    out = tmp_path / "lm.dcproj"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, str(root / "main.py"), "import-torch",
                             f"{ZOO_FILE}:LSTMLanguageModel", "-o", str(out)],
                            cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "StatefulLSTM" in result.stdout and "the model's batch is at input 1: dimension 1" in result.stdout
    project = graph.load_project(out)
    assert any(n.type_id == "StatefulLSTM" for n in nodes_within(project.main))


def test_a_branch_on_tensor_values_names_the_source_line(tmp_path):
    path = tmp_path / "branchy.py"
    path.write_text("import torch\nfrom torch import nn\n\n\nclass Inner(nn.Module):\n"
                    "    def forward(self, x):\n        if x.sum() > 0:\n            return x\n"
                    "        return -x\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                    "        super().__init__()\n        self.inner = Inner()\n        self.fc = nn.Linear(3, 2)\n\n"
                    "    def forward(self, x):\n        return self.fc(self.inner(x))\n")
    from graph.import_torch import import_torch

    # fx cannot follow the submodule, and as one step it would run the model's own code: the model
    # is recorded with torch.export, which takes the branch of the example and says where
    report = import_torch(f"{path}:Net", [(3,)])
    text = report.format()
    assert "traced with torch.export" in text and "torch.fx could not follow 'inner'" in text
    assert f"{path}:7: if x.sum() > 0:" in text


class _TwoTokens(torch.nn.Module):
    """DeiT's class and distillation tokens: expanded to the batch, not a single class token."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(6, 8)
        self.cls_token = torch.nn.Parameter(torch.randn(1, 1, 8))
        self.dist_token = torch.nn.Parameter(torch.randn(1, 1, 8))

    def forward(self, x):
        x = self.proj(x)
        n = x.shape[0]
        x = torch.cat([self.cls_token.expand(n, -1, -1), self.dist_token.expand(n, -1, -1), x], dim=1)
        return x[:, 0] + x[:, 1]


def test_a_token_expanded_to_the_batch_follows_the_batch_size():
    model = _TwoTokens().eval()
    report = import_model(model, [torch.randn(2, 5, 6)])
    expands = [n for n in report.project.main.nodes if n.params.get("op") == "Tensor.expand"]
    assert len(expands) == 2 and all('"$N@1"' in n.params["args"] for n in expands)
    imported = graph.compile_network(report.project).eval()
    imported.load_state_dict(report.weights, strict=True)
    for batch in (1, 4):
        x = torch.randn(batch, 5, 6)
        torch.testing.assert_close(_seeded(imported, [x])[0], _seeded(model, [x])[0])
