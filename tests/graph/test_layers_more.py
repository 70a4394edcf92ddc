"""The wider palette (MobileNet, SE, GroupNorm, U-Net, ViT and functional-style layers) and the
import of models written with them: each test model imports with no imported op left and gives
the same outputs with the same weights (eval mode, batch 1 and 4)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import graph
from graph.import_torch import import_model
from graph.layers import all_layers, get_layer
from graph.layers.conv import pool_out
from graph.layers.shape_ops import chunk_sizes, split_sizes
from graph.tensor_type import TensorType


# -- models written the way public examples write them ------------------------------------------------
class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1×1 expand, 3×3 depthwise, 1×1 linear projection, ReLU6, residual when it fits."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(inplace=True))
        self.blocks = nn.Sequential(InvertedResidual(8, 8, 1, 4), InvertedResidual(8, 12, 2, 4),
                                    InvertedResidual(12, 12, 1, 6))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(12, 5))

    def forward(self, x):
        x = self.blocks(self.stem(x))
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


class SqueezeExcite(nn.Module):
    """MobileNetV3's squeeze-excitation gate, in functional style."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x):
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.relu(self.fc1(scale), inplace=True)
        scale = F.hardsigmoid(self.fc2(scale), inplace=True)
        return scale * x


class HardswishSENet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.act = nn.Hardswish()
        self.se = SqueezeExcite(16, 8)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = self.se(self.act(self.bn(self.conv(x))))
        x = F.hardswish(self.dw(x))
        return self.head(x.mean((2, 3)))


class GroupNormUpsampler(nn.Module):
    """A small U-Net-like decoder: GroupNorm, nearest and bilinear up-sampling, a skip concatenation,
    PixelShuffle, InstanceNorm, and ELU / Mish / PReLU activations."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.gn = nn.GroupNorm(4, 8)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.fuse = nn.Conv2d(12, 8, 3, padding=1)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.prelu = nn.PReLU(8)
        self.sub = nn.Conv2d(8, 16, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.out = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        skip = x
        x = F.elu(self.gn(self.down(x)), alpha=0.7)
        x = self.up(x)
        x = torch.cat([x, skip], dim=1)
        x = self.prelu(self.inorm(self.fuse(x)))
        x = F.mish(self.shuffle(self.sub(x)))
        x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        return self.out(x)


class FunctionalMNIST(nn.Module):
    """The shape of the classic PyTorch MNIST example: functional pools, dropout and log-softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.fc1 = nn.Linear(16 * 6 * 6, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu6(self.conv2(x))
        x = F.max_pool2d(x, kernel_size=2, stride=2, ceil_mode=True)
        x = torch.flatten(x, 1)
        x = F.dropout(x, p=0.25, training=self.training)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


class TinyViT(nn.Module):
    """ViT's stem: patches, a class token prepended with expand + cat, a learned position embedding
    added, and a few inline expressions (scaled scores, exp, a per-sample scalar output)."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 4, 4)
        self.class_token = nn.Parameter(torch.randn(1, 1, 8))
        self.pos_embedding = nn.Parameter(torch.randn(1, 7, 8))
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        n = x.shape[0]
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        x = x + self.pos_embedding
        x = self.norm(x)
        scores = (x @ x.transpose(-2, -1)) / 8 ** 0.5
        attn = F.softmax(scores, dim=-1)
        x = attn @ x
        energy = torch.exp(x * 0.1).sum(dim=(1, 2))       # one number per sample
        return x[:, 0], energy, (1 - x.permute(0, 2, 1)).unsqueeze(1).squeeze(1).sqrt() ** 2


class Volumes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(2, 4, 3, padding=1)
        self.pool = nn.MaxPool3d(2, ceil_mode=True)
        self.avg = nn.AvgPool3d(2, stride=1)
        self.gap = nn.AdaptiveAvgPool3d(1)

    def forward(self, x):
        x = self.avg(self.pool(torch.relu(self.conv(x))))
        return self.gap(x).view(x.size(0), -1)


class Critic(nn.Module):
    """A DCGAN-style discriminator ending in one probability per sample: view(-1, 1).squeeze(1)."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                                  nn.Conv2d(4, 1, 4, 1, 0, bias=False), nn.Hardtanh(0.0, 6.0), nn.Sigmoid())

    def forward(self, x):
        y = self.main(x)
        return y.view(-1, 1).squeeze(1), y.view(-1)


def _randomise_norm_stats(model: nn.Module) -> None:
    """Give BatchNorm running statistics other than 0/1, so eval mode really uses them."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)


def _all_nodes(project):
    """Every node of the project, the insides of block definitions included."""
    for net in project.blocks.networks():  # the project's networks and every block definition's
        yield from net.nodes


def _imported_ops(project) -> list[str]:
    return [n.name for n in _all_nodes(project) if n.type_id == "ImportedOp"]


def _check_import(model: nn.Module, shape: tuple[int, ...]) -> graph.Project:
    torch.manual_seed(0)
    _randomise_norm_stats(model)
    model.eval()
    report = import_model(model, [torch.randn(2, *shape)])
    assert report.opaque == [], report.opaque
    assert _imported_ops(report.project) == []
    assert report.params_imported == sum(p.numel() for p in model.parameters())
    imported = graph.compile_network(report.project, seed=1).eval()
    imported.load_state_dict(report.weights, strict=True)
    for batch in (1, 4):
        x = torch.randn(batch, *shape)
        with torch.no_grad():
            want, got = model(x), imported(x)
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, tuple) else (got,)
        for a, b in zip(want, got, strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5, equal_nan=True)
    return report.project


@pytest.mark.parametrize("model,shape,expected", [
    (MobileNetV2Tiny, (3, 16, 16), {"ReLU6", "Conv2d", "BatchNorm2d", "Add", "AdaptiveAvgPool2d"}),
    (HardswishSENet, (3, 8, 8), {"Hardswish", "Hardsigmoid", "Multiply", "AdaptiveAvgPool2d"}),
    (GroupNormUpsampler, (4, 8, 8), {"GroupNorm", "Upsample", "Concat", "InstanceNorm2d", "PReLU", "PixelShuffle",
                                     "ELU", "Mish"}),
    (FunctionalMNIST, (1, 28, 28), {"MaxPool2d", "ReLU6", "Flatten", "Dropout", "LogSoftmax"}),
    (TinyViT, (3, 8, 12), {"ClassToken", "PositionalEmbedding", "MatMul", "Transpose", "Scale", "Softmax",
                           "Exp", "Sum", "Permute", "Pow", "Unsqueeze", "Squeeze"}),
    (Volumes, (2, 5, 6, 7), {"Conv3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "Reshape"}),
    (Critic, (1, 8, 8), {"LeakyReLU", "ReLU6", "Reshape"}),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_models_import_without_imported_ops_and_compute_the_same(model, shape, expected):
    project = _check_import(model(), shape)
    nested = {n.type_id for n in _all_nodes(project)}
    assert expected <= nested


def test_a_per_sample_probability_imports_as_a_reshape_to_a_scalar():
    project = _check_import(Critic(), (1, 8, 8))
    analysis = graph.analyze(project.main)
    outputs = [n for n in project.main.nodes if n.spec.role == "output"]
    assert [str(analysis.nodes[n.id].output) for n in outputs] == ["N", "N"]
    assert any(n.type_id == "Squeeze" for n in _all_nodes(project))                      # .squeeze(1)
    assert any(n.type_id == "Reshape" and n.params["shape"] == () for n in _all_nodes(project))  # .view(-1)


def test_pools_with_ceil_mode_keep_their_setting():
    project = _check_import(FunctionalMNIST(), (1, 28, 28))
    pools = [n for n in _all_nodes(project) if n.type_id == "MaxPool2d"]
    assert sorted(p.params["ceil_mode"] for p in pools) == [False, True]
    out = graph.analyze(project.main).nodes[project.main.find("output").id].output
    assert str(out) == "N×10"


class GatedUnit(nn.Module):
    """A gated linear unit written with chunk, and a three-way split (each piece used)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 12)

    def forward(self, x):
        a, b = self.fc(x).chunk(2, dim=-1)
        p, q, r = torch.split(x, [1, 2, 3], dim=1)
        return a * torch.sigmoid(b), torch.cat([r, p, q], dim=1)


def test_chunk_and_split_pieces_map_to_one_node_each():
    project = _check_import(GatedUnit(), (6,))
    nodes = list(_all_nodes(project))
    assert sorted(n.params["index"] for n in nodes if n.type_id == "Chunk") == [0, 1]
    splits = [n for n in nodes if n.type_id == "Split"]
    assert sorted(n.params["index"] for n in splits) == [0, 1, 2] and all(n.params["sizes"] == (1, 2, 3) for n in splits)


# -- the layers themselves ------------------------------------------------------------------------------------
def test_the_registry_covers_common_models():
    ids = {s.type_id for s in all_layers()}
    assert len(ids) >= 65
    assert {"ReLU6", "Hardswish", "Hardsigmoid", "ELU", "PReLU", "Mish", "GroupNorm", "InstanceNorm1d",
            "InstanceNorm2d", "Upsample", "PixelShuffle", "Conv3d", "MaxPool3d", "AvgPool3d", "Identity", "Permute",
            "Transpose", "Squeeze", "Unsqueeze", "Chunk", "Split", "Mean", "Sum", "MatMul", "Scale", "Exp", "Pow",
            "ClassToken", "PositionalEmbedding"} <= ids


@pytest.mark.parametrize("size", range(1, 12))
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 3, 0), (3, 1, 1), (4, 3, 2)])
def test_pool_size_rule_matches_torch_with_and_without_ceil_mode(size, kernel, stride, padding):
    for ceil_mode in (False, True):
        if size + 2 * padding < kernel:
            continue
        got = F.max_pool1d(torch.zeros(1, 1, size), kernel, stride, padding, ceil_mode=ceil_mode).shape[-1]
        assert pool_out(size, kernel, stride, padding, ceil_mode) == got


@pytest.mark.parametrize("size", range(1, 10))
def test_chunk_and_split_sizes_match_torch(size):
    x = torch.zeros(size)
    for chunks in range(1, 6):
        assert chunk_sizes(size, chunks) == [len(c) for c in x.chunk(chunks)]
    for piece in range(1, 5):
        assert split_sizes(size, (piece,)) == [len(c) for c in x.split(piece)]
    assert split_sizes(size, (1, size - 1)) == [1, size - 1] if size > 1 else True
    assert split_sizes(size, (size, 1)) is None


def test_chunk_index_past_the_pieces_is_refused_with_the_pieces_named():
    spec = get_layer("Chunk")
    params = spec.defaults() | {"chunks": 4, "index": 3}
    with pytest.raises(graph.ShapeError, match=r"gives 3 piece\(s\) \(2, 2, 1\)"):
        spec.infer(params, [TensorType((None, 5, 2))])


def test_reshape_to_a_per_sample_scalar_builds_and_exports():
    b = graph.NetworkBuilder("scalar")
    x = b.input((4,))
    score = b.add("Dense", x, units=1)
    b.output(b.add("Reshape", score, shape=()), name="score")
    net = b.network
    analysis = graph.analyze(net)
    assert analysis.ok, analysis.problems
    assert str(analysis.nodes[net.find("score").id].output) == "N"
    model = graph.compile_network(net).eval()
    namespace: dict = {"__name__": "exported"}
    exec(compile(graph.export_python(net), "<export>", "exec"), namespace)
    script = namespace["build_model"]().eval()
    script.load_state_dict(model.state_dict())
    inputs = graph.sample_inputs(net, batch_size=3)
    with torch.no_grad():
        assert model(*inputs).shape == (3,)
        assert torch.equal(model(*inputs), script(*inputs))


def test_reshape_to_a_scalar_needs_one_value_per_sample():
    spec = get_layer("Reshape")
    with pytest.raises(graph.ShapeError, match="exactly one value per sample"):
        spec.infer({"shape": ()}, [TensorType((None, 3))])


def test_multiply_stretches_sizes_of_one_but_add_does_not():
    gate, maps = TensorType((None, 4, 1, 1)), TensorType((None, 4, 3, 3))
    assert get_layer("Multiply").infer({}, [maps, gate]) == maps
    with pytest.raises(graph.ShapeError, match="N×4×3×3, N×2×1×1"):
        get_layer("Multiply").infer({}, [maps, TensorType((None, 2, 1, 1))])
    with pytest.raises(graph.ShapeError, match="of one shape"):
        get_layer("Add").infer({}, [maps, gate])


def test_upsample_mode_must_fit_the_input_rank():
    spec = get_layer("Upsample")
    with pytest.raises(graph.ShapeError, match="bilinear interpolation, which needs images"):
        spec.infer(spec.defaults() | {"mode": "bilinear"}, [TensorType((None, 3, 8))])


def test_permute_keeps_the_batch_first():
    spec = get_layer("Permute")
    with pytest.raises(graph.ShapeError, match="batch"):
        spec.infer({"dims": (1, 0, 2)}, [TensorType((None, 3, 4))])
