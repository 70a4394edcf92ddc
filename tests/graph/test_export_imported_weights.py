"""The model script exported from an imported project carries the imported weights: ``main.py
export -o model.py --model-only`` writes ``model.weights.safetensors`` beside the script, and the
script, run from any folder, builds the model with them (not seeded initial weights)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import torch

import graph
from graph.import_torch import import_model
from tests.graph import test_cli

run_main = test_cli.run_main  # the in-process CLI fixture, shared

MODELS = Path(__file__).parent / "data" / "structure_models.py"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_exported_script_of_an_imported_resnet_builds_it_with_its_weights(run_main, tmp_path):
    torch.manual_seed(3)
    model = _load(MODELS, "structure_models_for_export_test").ResNetSmall().eval()
    with torch.no_grad():     # statistics a fresh model would not have
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    report = import_model(model, [torch.randn(2, 3, 32, 32)], name="ResNetSmall")
    project_file = tmp_path / "resnet.dcproj"
    graph.save_project(report.project, project_file, weights={report.project.main.name: report.weights})

    out = tmp_path / "export" / "model.py"
    code, stdout, err = run_main("export", project_file, "-o", out, "--model-only")
    assert code == 0, err
    sidecar = out.with_name("model.weights.safetensors")
    assert stdout.splitlines() == [f"wrote {out}", f"wrote {sidecar}"]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, str(out)], cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "output: (2, 10)" in done.stdout

    script = _load(out, "exported_resnet_for_test")
    built = script.build_model().eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        torch.testing.assert_close(built(x), model(x), rtol=1e-5, atol=1e-5)

    # without the project's weights the script builds the seeded initial ones, and says nothing of a file
    plain = tmp_path / "plain.py"
    code, stdout, err = run_main("export", project_file, "-o", plain, "--model-only", "--initial-weights")
    assert code == 0 and stdout.splitlines() == [f"wrote {plain}"]
    assert not plain.with_name("plain.weights.safetensors").exists()
    assert "WEIGHTS_FILE" not in plain.read_text()
