"""`python main.py export --format ...` and `python main.py import-torch ...` as a person at a
terminal uses them: files written, what the output says, exit codes, no tracebacks."""

from __future__ import annotations

import onnx
import pytest
import torch
from safetensors.torch import load_file

import graph
from graph.templates import make_template
from tests.graph import test_cli
from tests.graph.test_cli import ROOT, cli

run_main = test_cli.run_main  # the in-process CLI fixture, shared

MODELS = ROOT / "tests" / "graph" / "data" / "handwritten_models.py"


def test_export_formats_take_the_weights_beside_the_project(run_main, tmp_path):
    project = make_template("mlp-digits")
    trained = {k: v * 0 + 0.5 for k, v in graph.compile_network(project).state_dict().items()}
    graph.save_project(project, tmp_path / "digits.dcproj", weights={"main": trained})
    code, out, _ = run_main("export", tmp_path / "digits.dcproj", "--format", "safetensors")
    assert code == 0
    assert "wrote" in out and "saved weights from digits.safetensors" in out
    # the default name would be the project's own weights file: a separate name is needed there
    exported = load_file(str(tmp_path / "digits.safetensors"))
    assert all(torch.equal(exported[k], trained[k]) for k in trained)
    code, out, _ = run_main("export", tmp_path / "digits.dcproj", "--format", "torchscript", "--initial-weights")
    assert code == 0 and "initial weights (seed 0)" in out and (tmp_path / "digits.pt").is_file()


def test_onnx_export_writes_a_checked_model_and_one_line(run_main, tmp_path):
    graph.save_project(make_template("cnn-digits"), tmp_path / "cnn.dcproj")
    code, out, err = run_main("export", tmp_path / "cnn.dcproj", "--format", "onnx", "-o", tmp_path / "out.onnx")
    assert code == 0, err
    assert out.strip() == f"wrote {tmp_path / 'out.onnx'} (onnx, network 'main', initial weights (seed 0))"
    assert err == ""  # the exporters' chatter stays out of the terminal
    onnx.checker.check_model(onnx.load(str(tmp_path / "out.onnx")))


def test_export_format_errors_are_sentences(run_main, tmp_path):
    graph.save_project(make_template("mlp-digits"), tmp_path / "m.dcproj")
    code, _, err = run_main("export", tmp_path / "m.dcproj", "--format", "onnx", "-o", "-")
    assert code == 2 and "binary" in err
    with pytest.raises(SystemExit) as exited:
        run_main("export", tmp_path / "m.dcproj", "--format", "tflite")
    assert exited.value.code == 2


def test_import_torch_writes_a_project_with_weights_and_a_summary(tmp_path):
    out = tmp_path / "odd.dcproj"
    result = cli("import-torch", f"{MODELS}:OddOps", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "imported op 'norm': torch.nn.LayerNorm" in result.stdout
    assert "parameters: 272 (model: 272)" in result.stdout
    assert f"wrote {out} and its weights odd.safetensors" in result.stdout
    project = graph.load_project(out)
    model = graph.compile_network(project)
    model.load_state_dict(graph.project_file.load_weights(out)["main"], strict=True)


def test_import_torch_with_an_input_shape_and_kwargs(run_main, tmp_path):
    code, out, err = run_main("import-torch", f"{MODELS}:LeNet", "-o", tmp_path / "lenet.dcproj",
                              "--input-shape", "1,28,28", "--kwargs", '{"classes": 7}')
    assert code == 0, err
    assert "Conv2d ×2" in out
    assert graph.load_project(tmp_path / "lenet.dcproj").main.find("fc3").params["units"] == 7
    # the imported project exports like any other, with the imported weights
    code, out, err = run_main("export", tmp_path / "lenet.dcproj", "--format", "pt2")
    assert code == 0, err
    assert "saved weights from lenet.safetensors" in out


def test_import_torch_failures_name_the_problem(run_main, tmp_path):
    code, _, err = run_main("import-torch", f"{MODELS}:Nope", "-o", tmp_path / "x.dcproj")
    assert code == 2 and "has no 'Nope'" in err
    code, _, err = run_main("import-torch", f"{MODELS}:LeNet", "-o", tmp_path / "x.dcproj")
    assert code == 2 and "--input-shape" in err
    code, _, err = run_main("import-torch", f"{MODELS}:LeNet", "-o", tmp_path / "x.onnx")
    assert code == 2 and "should end in .dcproj" in err
    code, _, err = run_main("import-torch", f"{MODELS}:LeNet", "-o", tmp_path / "x.dcproj", "--kwargs", "{oops")
    assert code == 2 and "--kwargs is not JSON" in err
    code, _, err = run_main("import-torch", f"{MODELS}:NumpyStep", "-o", tmp_path / "x.dcproj",
                            "--input-shape", "4")  # neither torch.fx nor torch.export can record it
    assert code == 2 and "cannot be traced with torch.fx" in err and "Traceback" not in err
    assert not (tmp_path / "x.dcproj").exists()
