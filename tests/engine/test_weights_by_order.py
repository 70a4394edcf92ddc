"""Checkpoints whose names differ from the network's (an upstream DCGAN's ``main.0.weight``, a
torchvision-style ResNet's ``layer1.0.conv1.weight``) load by structural order, with a report of
which tensor went where, and anything that makes the order doubtful refuses with a sentence."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import graph
from engine.transfer import match_by_order, match_weights, read_weights
from graph.builder import NetworkBuilder
from graph.import_torch import import_model
from graph.project_file import load_weights
from tests.graph import test_cli

run_main = test_cli.run_main  # the in-process CLI fixture, shared

MODELS = Path(__file__).resolve().parents[1] / "graph" / "data" / "structure_models.py"


def _models():
    spec = importlib.util.spec_from_file_location("structure_models_for_weights_test", MODELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _trained(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """``model`` with weights and batch-norm statistics unlike any fresh one's (a checkpoint)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen) * 0.2 + (1.0 if t.dim() == 1 else 0.0))
    return model.eval()


def _project_of(model: torch.nn.Module, example: torch.Tensor, **kwargs):
    torch.manual_seed(1)
    return import_model(model, [example], **kwargs).project


def _outputs(project, state, x):
    net = graph.compile_network(project, seed=0).eval()
    net.load_state_dict(state, strict=True)
    with torch.no_grad():
        return net(x)


@pytest.fixture(scope="module")
def generator():
    """The imported DCGAN generator (its names: main_0, main_1, ...) and a checkpoint of another
    generator of the same shape saved as the PyTorch example saves it."""
    models = _models()
    project = _project_of(models.DCGANGenerator(), torch.randn(2, 8, 1, 1))
    checkpoint = _trained(models.DCGANGenerator(), seed=11)
    return project, checkpoint


def test_a_dcgan_checkpoint_loads_into_the_imported_generator_by_order(generator, tmp_path):
    project, checkpoint = generator
    torch.save(checkpoint.state_dict(), tmp_path / "netG_epoch_24.pth")
    match = match_weights(read_weights(tmp_path / "netG_epoch_24.pth"), project)
    assert len(match.matched) == match.total == 5        # 3 transposed convolutions, 2 batch norms
    pairs = dict(match.by_order)
    assert pairs["main.0.weight"] == "main_0.weight"
    assert pairs["main.4.running_var"] == "main_4.running_var"
    assert len(pairs) == len(checkpoint.state_dict())
    assert "matched by their order and shapes (main.0.weight → main_0.weight" in match.sentence()
    x = torch.randn(4, 8, 1, 1)
    with torch.no_grad():
        expected = checkpoint(x)
    torch.testing.assert_close(_outputs(project, match.state, x), expected)


def test_a_drawn_network_takes_a_sequential_checkpoint_by_order():
    b = NetworkBuilder()
    x = b.input((6,), name="features")
    b.output(b.chain(x, ("Dense", {"units": 5}), "ReLU", ("Dense", {"units": 3})), name="scores")
    project = b.project("drawn")
    source = _trained(torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)), seed=3)
    match = match_weights(source.state_dict(), project, source="a Sequential")
    assert match.by_order == [("0.weight", "dense_1.weight"), ("0.bias", "dense_1.bias"),
                              ("2.weight", "dense_2.weight"), ("2.bias", "dense_2.bias")]
    x = torch.randn(1, 6)
    torch.testing.assert_close(_outputs(project, match.state, x), source(x))


def test_a_torchvision_style_resnet_checkpoint_loads_into_the_nested_import():
    models = _models()
    project = _project_of(models.ResNetSmall(), torch.randn(2, 3, 32, 32))
    assert any(n.is_block for n in project.main.nodes)
    checkpoint = _trained(models.ResNetSmall(), seed=5)
    match = match_weights(checkpoint.state_dict(), project, source="resnet.pth")
    assert ("layer2.0.downsample.0.weight", "layer2.layer_0.downsample_0.weight") in match.by_order
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = checkpoint(x)
    torch.testing.assert_close(_outputs(project, match.state, x), expected, rtol=1e-5, atol=1e-5)


def test_a_count_or_shape_difference_refuses_the_order_with_a_sentence(generator):
    project, checkpoint = generator
    state = checkpoint.state_dict()
    bigger = _trained(_models().DCGANGenerator(ngf=5), seed=2).state_dict()
    fewer = {k: v for k, v in state.items() if not k.startswith("main.6.")}
    own = graph.compile_network(project).state_dict()
    assert match_by_order(fewer, own) == ([], "the source has 10 tensors and the network 11, so they cannot be "
                                              "paired in order")
    pairs, why = match_by_order(bigger, own)
    assert not pairs
    assert why == ("tensor 1 in order differs in shape (main.0.weight is 8×20×4×4, main_0.weight is 8×16×4×4), "
                   "so the order cannot be trusted")
    match = match_weights(bigger, project, source="a bigger generator")
    assert not match.matched and not match.state
    assert "Matching by order was tried too: tensor 1 in order differs in shape" in match.notes[0]


def test_an_order_that_contradicts_the_names_is_refused():
    own = {"a.weight": torch.zeros(4, 4), "c.weight": torch.zeros(4, 4)}
    # "a.weight" is a name of the network, but in the order it would go to c.weight
    pairs, why = match_by_order({"b.weight": torch.ones(4, 4), "a.weight": torch.ones(4, 4)}, own)
    assert not pairs and "the order pairs a.weight with c.weight" in why


def test_a_safetensors_file_is_never_matched_by_order(generator, tmp_path):
    # safetensors sorts its tensors by name (main.1.bias before main.1.weight): pairing those by
    # order would put a batch norm's bias into its weight, so it is refused
    project, checkpoint = generator
    save_file({k: v.contiguous() for k, v in checkpoint.state_dict().items()}, str(tmp_path / "g.safetensors"))
    match = match_weights(read_weights(tmp_path / "g.safetensors"), project)
    assert not match.matched and not match.by_order
    assert "sorted by name" in match.notes[-1] and "torch.save" in match.notes[-1]


def test_cli_load_weights_reports_the_order_and_exits_right(generator, run_main, tmp_path):
    project, checkpoint = generator
    graph.save_project(project, tmp_path / "g.dcproj")
    torch.save(checkpoint.state_dict(), tmp_path / "netG.pth")
    code, out, err = run_main("load-weights", tmp_path / "g.dcproj", tmp_path / "netG.pth")
    assert code == 0, err
    assert "all 5 layers match" in out
    assert "the names differ: matched by order and shape (13 tensors)" in out
    assert "    main.0.weight -> main_0.weight" in out and "    main.6.weight -> main_6.weight" in out
    saved = load_weights(tmp_path / "g.safetensors")[project.main.name]
    assert torch.equal(saved["main_1.running_mean"], checkpoint.state_dict()["main.1.running_mean"])
    # a checkpoint of another size: nothing fits by name or by order, exit 1 and why
    torch.save(_trained(_models().DCGANGenerator(ngf=5), seed=2).state_dict(), tmp_path / "other.pth")
    code, out, err = run_main("load-weights", tmp_path / "g.dcproj", tmp_path / "other.pth")
    assert code == 1 and not out
    assert "note: Matching by order was tried too: tensor 1 in order differs in shape" in err
    assert "None of the layers of file other.pth fit" in err
