"""File ▸ Export Python Script… (the model alone) of an imported project: the weights attached to
the network go beside the script, which loads them, as ``main.py export`` does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from graph.import_torch import import_model

MODELS = Path(__file__).resolve().parents[1] / "graph" / "data" / "structure_models.py"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_model_export_carries_the_attached_weights(window, dialog, tmp_path):
    torch.manual_seed(4)
    model = _load(MODELS, "structure_models_for_gui_export").DCGANGenerator().eval()
    report = import_model(model, [torch.randn(2, 8, 1, 1)])
    window.files.adopt(report.project, "imported")
    window.session.set_network_weights(report.project.main.name, report.weights, "imported from DCGANGenerator")
    messages: list[str] = []
    window.files.message.connect(messages.append)
    dialog.export_path = tmp_path / "gen.py"
    window.actions_by_name["export"].trigger()
    assert (tmp_path / "gen.weights.safetensors").is_file()
    assert messages[-1] == "Exported main to gen.py with its weights in gen.weights.safetensors"
    built = _load(tmp_path / "gen.py", "exported_generator_for_gui_test").build_model().eval()
    x = torch.randn(3, 8, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(built(x), model(x))

    # weights that no longer fit (the network was edited) are not written; the script says why not
    net = window.session.project.main
    window.session.set_network_weights(net.name, {k: v[:1] if v.dim() else v for k, v in report.weights.items()}, "stale")
    dialog.export_path = tmp_path / "stale.py"
    window.actions_by_name["export"].trigger()
    assert (tmp_path / "stale.py").is_file() and not (tmp_path / "stale.weights.safetensors").exists()
    assert "no longer fit" in messages[-1]
