"""An imported model keeps its module tree: a ResNet-18-style network opens as about ten nodes,
its residual blocks as nested Block nodes, identical blocks share one definition, and the nested
project computes what the model computes, with its weights, before and after a save."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import graph
from graph.import_torch import import_model
from graph.project_file import load_weights, weights_path

MODELS = Path(__file__).parent / "data" / "structure_models.py"


def _models():
    spec = importlib.util.spec_from_file_location("structure_models_for_import_test", MODELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs(model, x):
    with torch.no_grad():
        return model(x)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    model = _models().ResNetSmall().eval()
    with torch.no_grad():   # running statistics that are not the initial 0 and 1
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    report = import_model(model, [torch.randn(2, 3, 32, 32)], name="ResNetSmall")
    return model, report


def _definition(project, net, node_name):
    node = net.find(node_name)
    assert node.is_block, f"{node_name} is a {node.type_id}"
    return project.blocks.get(node.params["block"])


def test_resnet_opens_as_about_ten_nodes_with_its_layers_as_blocks(resnet):
    _, report = resnet
    project, net = report.project, report.project.main
    assert len(net) <= 14
    blocks = sorted(n.name for n in net.nodes if n.is_block)
    assert blocks == ["layer1", "layer2", "layer3", "layer4"]
    # the stem and the head stay as layers
    assert {n.type_id for n in net.nodes if not n.is_block} >= {"Conv2d", "BatchNorm2d", "MaxPool2d", "Dense"}
    # a Sequential's definition is named after the attribute that holds it, not "Sequential 3"
    assert _definition(project, net, "layer3").name == "layer3"
    assert any("kept the model's structure" in w for w in report.warnings)


def test_identical_basic_blocks_share_one_definition(resnet):
    _, report = resnet
    project = report.project
    layer1 = _definition(project, project.main, "layer1").network
    first, second = (_definition(project, layer1, name) for name in ("0", "1"))
    assert first is second and first.name == "BasicBlock"
    inside = first.network
    assert [n.type_id for n in inside.topological_order()].count("Conv2d") == 2
    assert "add" in {n.name for n in inside.nodes}    # fx's model-wide number is not kept inside
    # a block with a downsample differs from the plain one after it
    layer2 = _definition(project, project.main, "layer2").network
    with_downsample, plain = (_definition(project, layer2, name) for name in ("0", "1"))
    assert with_downsample is not plain
    assert {"downsample.0", "downsample.1"} <= {n.name for n in with_downsample.network.nodes}
    # one definition per distinct block: 7 BasicBlocks (layer1 shares) and 4 layers
    assert len(project.blocks.names) == 11


def test_nested_import_has_the_models_weights_and_outputs(resnet):
    model, report = resnet
    theirs, ours = model.state_dict(), report.weights
    assert len(theirs) == len(ours)
    # the nested network keeps the model's order of tensors, value for value
    for (key, a), (mine, b) in zip(theirs.items(), ours.items(), strict=True):
        assert torch.equal(a, b), (key, mine)
    imported = graph.compile_network(report.project, seed=5).eval()
    imported.load_state_dict(ours, strict=True)
    for batch in (1, 4):
        x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
        torch.testing.assert_close(_outputs(imported, x), _outputs(model, x), rtol=1e-5, atol=1e-5)


def test_nested_import_saves_loads_and_compiles_to_the_same_outputs(resnet, tmp_path):
    model, report = resnet
    path = tmp_path / "resnet.dcproj"
    graph.save_project(report.project, path, weights={report.project.main.name: report.weights})
    loaded = graph.load_project(path)
    assert loaded.blocks.names == report.project.blocks.names
    weights = load_weights(weights_path(path))[loaded.main.name]
    again = graph.compile_network(loaded).eval()
    again.load_state_dict(weights, strict=True)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(_outputs(again, x), _outputs(model, x), rtol=1e-5, atol=1e-5)


def test_flatten_gives_one_node_per_layer(resnet):
    model, nested = resnet
    report = import_model(model, [torch.randn(2, 3, 32, 32)], name="ResNetSmall", flatten=True)
    net = report.project.main
    assert not any(n.is_block for n in net.nodes) and not report.project.blocks.names
    assert [n.type_id for n in net.nodes].count("Conv2d") == 1 + 8 * 2 + 3   # stem, blocks, downsamples
    assert [n.type_id for n in net.nodes].count("Add") == 8
    assert report.params_imported == nested.params_imported
    flat = graph.compile_network(report.project).eval()
    flat.load_state_dict(report.weights, strict=True)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(_outputs(flat, x), _outputs(model, x), rtol=1e-5, atol=1e-5)


def test_a_submodule_returning_two_values_stays_flat_and_says_why():
    torch.manual_seed(0)
    model = _models().TwoHeaded().eval()
    report = import_model(model, [torch.randn(2, 12)])
    net = report.project.main
    names = {n.name for n in net.nodes}
    assert {"encoder.mean", "encoder.logvar"} <= names        # the encoder's layers sit in the network
    assert net.find("decoder").is_block                        # the rest still nests
    assert any(w.startswith("encoder (MeanAndSpread) stays flat: 2 values leave it") for w in report.warnings)
    imported = graph.compile_network(report.project).eval()
    imported.load_state_dict(report.weights, strict=True)
    for batch in (1, 4):
        x = torch.randn(batch, 12, generator=torch.Generator().manual_seed(batch))
        torch.testing.assert_close(_outputs(imported, x), _outputs(model, x), rtol=1e-5, atol=1e-6)


def test_a_model_that_is_one_sequential_is_not_hidden_in_one_block():
    # the PyTorch DCGAN example wraps every layer in ``self.main``: a block around all of it would
    # leave one node to look at, so its layers sit in the network itself
    model = _models().DCGANGenerator().eval()
    report = import_model(model, [torch.randn(2, 8, 1, 1)])
    net = report.project.main
    assert not report.project.blocks.names
    assert [n.name for n in net.topological_order()][1:4] == ["main.0", "main.1", "main.2"]
    assert not any("stays flat" in w for w in report.warnings)     # the rule, not a problem
