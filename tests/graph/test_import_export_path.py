"""import-torch falls back to torch.export for what torch.fx cannot trace: Python decisions on tensor
values (the branch the example takes is recorded, and the report says so), loops over a tensor-valued
condition, submodules of the model's own code fx cannot follow. A model neither can record is refused
in one sentence."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import graph
from graph.import_torch import TorchImportError, import_model, import_torch
from graph.import_torch.export_path import EXPORT
from graph.import_torch.tracing import FX
from tests.graph import test_cli
from tests.graph.test_cli import ROOT

run_main = test_cli.run_main  # the in-process CLI fixture, shared

MODELS = ROOT / "tests" / "graph" / "data" / "handwritten_models.py"


class BranchyMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        if x.mean() > 0:
            h = h * 2.0
        else:
            h = torch.tanh(h)
        return self.fc2(h)


class HalvingLoop(nn.Module):
    """A `while` over a tensor-valued condition: unrolled as often as the example needs."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        y = self.fc(x)
        while y.abs().max() > 0.5:
            y = y / 2
        return self.head(y)


class BranchyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(4 * 4 * 4, 5))

    def forward(self, x):
        y = self.pool(torch.relu(self.bn(self.conv(x))))
        if y.std() > 10:
            y = y - y.mean()
        return torch.log_softmax(self.head(y), dim=1)


def _imported_outputs(report, inputs):
    net = graph.compile_network(report.project, seed=1).eval()
    net.load_state_dict(report.weights, strict=True)
    with torch.no_grad():
        return net(*inputs)


def _branch_notes(report) -> list[str]:
    return [w for w in report.warnings if "follows the branch taken on the example input" in w]


def test_data_dependent_branch_imports_with_torch_export_and_says_so():
    report = import_torch(f"{MODELS}:DataDependent", [(4,)])
    assert report.tracer == EXPORT
    text = report.format()
    assert "traced with torch.export" in text
    assert "could not be traced with torch.fx" in text
    notes = _branch_notes(report)
    assert len(notes) == 1 and "handwritten_models.py" in notes[0] and "if x.sum() > 0:" in notes[0]
    types = [t for _, t in report.mapped]
    assert types[0] == "Dense" and set(types) <= {"Dense", "Scale"} and not report.opaque


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_imported_network_follows_the_branch_the_example_takes(sign):
    from tests.graph.data.handwritten_models import DataDependent

    torch.manual_seed(0)
    model = DataDependent().eval()
    x = torch.rand(2, 4) * sign + 0.01 * sign
    report = import_model(model, [x])
    with torch.no_grad():
        torch.testing.assert_close(_imported_outputs(report, [x]), model(x))
    # the other branch negates: the network has the Scale(-1) only where the example took it
    assert ("Scale" in {t for _, t in report.mapped}) == (sign < 0)


def test_an_mlp_with_an_if_on_the_mean_imports_its_branch():
    torch.manual_seed(0)
    model = BranchyMLP().eval()
    x = torch.randn(2, 6) + 1.0
    report = import_model(model, [x])
    assert report.tracer == EXPORT and _branch_notes(report)
    assert [t for _, t in report.mapped].count("Dense") == 2 and not report.opaque
    assert "Tanh" not in {t for _, t in report.mapped}  # the branch not taken is not in the network
    with torch.no_grad():
        torch.testing.assert_close(_imported_outputs(report, [x]), model(x))


def test_a_loop_over_a_tensor_condition_is_unrolled_as_the_example_ran_it():
    torch.manual_seed(0)
    model = HalvingLoop().eval()
    x = torch.randn(2, 4) * 4
    with torch.no_grad():
        y = model.fc(x).abs().max()
    halvings = 0
    while y > 0.5:
        y, halvings = y / 2, halvings + 1
    assert halvings >= 2
    report = import_model(model, [x])
    assert report.tracer == EXPORT
    notes = _branch_notes(report)
    assert len(notes) == 1 and f"decided {halvings + 1} times" in notes[0]
    assert [t for _, t in report.mapped].count("Scale") == halvings
    with torch.no_grad():
        torch.testing.assert_close(_imported_outputs(report, [x]), model(x))


def test_a_cnn_with_a_branch_maps_to_layers_with_its_weights():
    torch.manual_seed(0)
    model = BranchyCNN().eval()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 1, 8, 8)
    report = import_model(model, [x], flatten=True)
    assert report.tracer == EXPORT and _branch_notes(report)
    types = {t for _, t in report.mapped}
    assert {"Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten", "Dropout", "Dense", "LogSoftmax"} <= types
    assert not report.opaque
    assert report.params_imported == report.params_source
    # the batch stays free: the imported network runs other batch sizes
    batch = torch.randn(7, 1, 8, 8)
    assert _imported_outputs(report, [batch]).shape == (7, 5)
    with torch.no_grad():
        torch.testing.assert_close(_imported_outputs(report, [x]), model(x))


def test_traceable_models_still_use_torch_fx():
    report = import_torch(f"{MODELS}:LeNet", [(1, 28, 28)])
    assert report.tracer == FX and "traced with torch.fx (DeepCanvas tracer)" in report.format()


def test_a_model_neither_path_records_is_refused_in_one_sentence():
    with pytest.raises(TorchImportError) as caught:
        import_torch(f"{MODELS}:NumpyStep", [(4,)])
    message = str(caught.value)
    assert "cannot be traced with torch.fx" in message and "torch.export cannot record it either" in message
    assert "handwritten_models.py" in message and "\n" not in message


def test_cli_says_which_tracer_and_refuses_without_a_traceback(run_main, tmp_path):
    code, out, err = run_main("import-torch", f"{MODELS}:DataDependent", "-o", tmp_path / "dd.dcproj",
                              "--input-shape", "4")
    assert code == 0, err
    assert "traced with torch.export" in out and "follows the branch taken on the example input" in out
    assert (tmp_path / "dd.dcproj").exists()
    code, _, err = run_main("import-torch", f"{MODELS}:NumpyStep", "-o", tmp_path / "x.dcproj", "--input-shape", "4")
    assert code == 2 and "torch.export cannot record it either" in err and "Traceback" not in err
    assert not (tmp_path / "x.dcproj").exists()
