"""Every registered layer type: its shape rule and parameter count agree with what PyTorch really
does, it compiles inside a network and it exports to a script that computes the same thing."""

from __future__ import annotations

import pytest
import torch

import graph
from graph.compiler import make_module
from graph.layers import all_layers, get_layer
from graph.layers.spec import LayerSpec
from graph.tensor_type import LONG, TensorType

BATCH = 3
LAYERS = [s for s in all_layers() if s.build is not None]


def _cases(spec: LayerSpec):
    for i, extra in enumerate(({}, *spec.examples)):
        params = spec.defaults() | {k: spec.param(k).coerce(v) for k, v in extra.items()}
        yield pytest.param(spec, params, id=f"{spec.type_id}-{i}")


CASES = [case for spec in LAYERS for case in _cases(spec)]


def _inputs(spec: LayerSpec) -> list[TensorType]:
    return list(spec.sample_inputs) or [TensorType((None, 6, 5))]


def _port_inputs(spec: LayerSpec) -> list[TensorType | None]:
    """Sample inputs in port order; optional ports left unwired are None (as inference passes them)."""
    ins: list[TensorType | None] = list(_inputs(spec))
    if not spec.is_merge:
        ins += [None] * (len(spec.inputs) - len(ins))
    return ins


def _tensor(t: TensorType, high: int = 100) -> torch.Tensor:
    shape = (BATCH, *t.shape[1:])
    if t.dtype == LONG:
        return torch.randint(0, high, shape)
    return torch.randn(shape)


def test_registry_holds_the_layers_the_product_promises():
    promised = {"Input", "Output", "Dense", "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
                "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "GlobalAvgPool",
                "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "ReLU", "LeakyReLU", "GELU", "SiLU",
                "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Flatten", "Reshape", "Embedding", "RNN", "GRU",
                "LSTM", "MultiheadAttention", "PositionalEncoding", "TransformerEncoder", "TransformerDecoder",
                "Add", "Concat", "Multiply"}
    assert promised <= {s.type_id for s in all_layers()}


def test_legacy_ids_still_resolve():
    assert get_layer("Linear") is get_layer("Dense")
    with pytest.raises(graph.UnknownLayerError):
        get_layer("NoSuchLayer")


@pytest.mark.parametrize("spec,params", CASES)
def test_shape_rule_and_param_count_match_pytorch(spec, params):
    ins = _port_inputs(spec)
    inferred = spec.infer(params, list(ins))
    module = make_module(spec.build(params, ins)).eval()
    with torch.no_grad():
        out = module(*[_tensor(t) for t in ins if t is not None])
    if spec.infer_ports is not None:  # several outputs: each port's type is the module's tuple element
        for got, want in zip(out, spec.infer_ports(params, list(ins)).values(), strict=True):
            assert tuple(got.shape) == (BATCH, *want.shape[1:])
        out = out[0]
    assert tuple(out.shape) == (BATCH, *inferred.shape[1:])
    assert str(out.dtype).removeprefix("torch.") == inferred.dtype
    cost = spec.cost(params, ins, inferred)
    assert cost.params == sum(p.numel() for p in module.parameters())
    assert cost.mult_adds >= 0


def _single_layer_network(spec: LayerSpec, params: dict) -> graph.Network:
    b = graph.NetworkBuilder("probe")
    sources = [b.input(t.shape[1:], t.dtype, name=f"in_{i}") for i, t in enumerate(_inputs(spec))]
    if spec.is_merge:
        node = b.add(spec.type_id, *sources, **params)
    else:
        node = b.add(spec.type_id, *sources[: len(spec.inputs)], **params)
    b.output(node)
    return b.network


@pytest.mark.parametrize("spec,params", CASES)
def test_every_layer_compiles_exports_and_agrees_with_its_script(spec, params):
    net = _single_layer_network(spec, params)
    analysis = graph.analyze(net)
    assert analysis.ok, analysis.problems
    model = graph.compile_network(net).eval()
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    inputs = graph.sample_inputs(net, batch_size=BATCH)
    namespace: dict = {"__name__": "exported"}
    exec(compile(graph.export_python(net), "<export>", "exec"), namespace)
    script_model = namespace["build_model"]().eval()
    script_model.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        # the same seed before each call: layers that draw noise (RandnLike, Sampling) draw alike
        torch.manual_seed(0)
        ours = model(*inputs)
        torch.manual_seed(0)
        assert torch.equal(ours, script_model(*inputs))


def test_every_param_default_is_valid_and_has_help():
    for spec in all_layers():
        for p in spec.params:
            assert p.coerce(p.default) == p.default
            assert p.help, f"{spec.type_id}.{p.name} needs help text for its tooltip"
        assert spec.description


def test_cross_attention_uses_the_key_sequence_length():
    spec = get_layer("MultiheadAttention")
    q, kv = TensorType((None, 4, 8)), TensorType((None, 9, 6))
    params = spec.defaults() | {"num_heads": 2}
    out = spec.infer(params, [q, kv, None])
    module = make_module(spec.build(params, [q, kv, None]))
    y = module(torch.randn(2, 4, 8), torch.randn(2, 9, 6))
    assert tuple(y.shape) == (2, *out.shape[1:])
    assert spec.cost(params, [q, kv, None], out).params == sum(p.numel() for p in module.parameters())
