"""The exported training script loads the same data and reproduces the run outside the app."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetSpec, load_dataset
from engine.export_training import export_training_script, write_training_export
from graph import NetworkBuilder
from tests.engine.conftest import diabetes_project, digits_mlp_project


def script_namespace(text: str, path: Path) -> dict:
    """Execute the script's definitions without running its main block (as a registered module:
    dataclasses look their module up in sys.modules)."""
    module = types.ModuleType("exported")
    module.__file__ = str(path)
    sys.modules["exported"] = module
    exec(compile(text, str(path), "exec"), module.__dict__)
    return module.__dict__


def engine_arrays(project, base_dir=None):
    from engine.session import dataset_spec

    data = load_dataset(dataset_spec(project.settings, base_dir))
    return [data.x_train, data.y_train, data.x_val, data.y_val]


def assert_same_arrays(script_arrays, expected):
    for got, want in zip(script_arrays, expected, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def run_script(path: Path, *args: str) -> list[dict]:
    result = subprocess.run([sys.executable, str(path), "--json", *args], capture_output=True, text=True,
                            timeout=120, cwd=path.parent)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_script_reproduces_the_engine_run(tmp_path, run_in_process):
    project = digits_mlp_project(epochs=2, schedule="cosine", grad_clip=1.0)
    path = tmp_path / "train.py"
    write_training_export(project, path)
    lines = run_script(path, "--epochs", "1", "--save", "weights.pt")
    assert len(lines) == 1 and (tmp_path / "weights.pt").exists()
    report, _, _ = run_in_process(digits_mlp_project(epochs=2, schedule="cosine", grad_clip=1.0),
                                  overrides={"epochs": 1})
    engine = report["final_metrics"]
    for key in ("train_loss", "val_loss", "val_accuracy", "val_f1", "train_accuracy"):
        assert lines[0][key] == pytest.approx(engine[key], rel=1e-6), key


@pytest.mark.parametrize("kind, options", [("digits", {"flat": True}), ("iris", {}), ("wine", {}),
                                           ("breast_cancer", {}), ("moons", {"n_samples": 150, "noise": 0.2})])
def test_builtin_data_matches_the_engine(tmp_path, kind, options):
    data = load_dataset(DatasetSpec(kind=kind, options=options, seed=5, val_fraction=0.3))
    b = NetworkBuilder()
    x = b.input(data.input_shape, name="x")
    b.output(b.chain(x, ("Dense", {"units": data.num_classes})), name="y")
    project = b.project(kind, {"dataset": {"kind": kind, "options": options, "seed": 5, "val_fraction": 0.3}})
    namespace = script_namespace(export_training_script(project), tmp_path / "s.py")
    assert_same_arrays(namespace["load_data"](), engine_arrays(project))


def test_regression_data_and_training(tmp_path):
    project = diabetes_project(epochs=1)
    text = export_training_script(project)
    namespace = script_namespace(text, tmp_path / "s.py")
    assert_same_arrays(namespace["load_data"](), engine_arrays(project))
    assert namespace["TARGETS"]["squeeze"] is True and namespace["TARGETS"]["scale"] > 10
    metrics = namespace["train"](namespace["parse_args"](["--epochs", "1", "--json"]))
    assert {"val_mse", "val_mae", "val_r2"} <= set(metrics)


def test_csv_with_text_and_missing_values(tmp_path):
    rows = ["size,colour,weight,label"]
    rng = np.random.default_rng(0)
    for i in range(40):
        colour = ["red", "green", ""][i % 3]
        weight = "" if i % 7 == 0 else f"{rng.normal():.3f}"
        rows.append(f"{rng.normal():.3f},{colour},{weight},{'yes' if i % 2 else 'no'}")
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    b = NetworkBuilder()
    x = b.input((5,), name="x")
    b.output(b.chain(x, ("Dense", {"units": 2})), name="y")
    project = b.project("csv", {"dataset": {"kind": "csv", "path": "table.csv", "options": {"target": "label"}}})
    text = export_training_script(project, base_dir=str(tmp_path))
    namespace = script_namespace(text, tmp_path / "s.py")
    assert_same_arrays(namespace["load_data"](), engine_arrays(project, str(tmp_path)))


def test_npz_with_validation_arrays(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(50, 4)), y=rng.integers(0, 3, 50) * 10,
             x_val=rng.normal(size=(20, 4)), y_val=rng.integers(0, 3, 20) * 10)
    b = NetworkBuilder()
    x = b.input((4,), name="x")
    b.output(b.chain(x, ("Dense", {"units": 3})), name="y")
    project = b.project("npz", {"dataset": {"kind": "npz", "path": str(tmp_path / "d.npz")}})
    namespace = script_namespace(export_training_script(project), tmp_path / "s.py")
    assert_same_arrays(namespace["load_data"](), engine_arrays(project))


def test_other_kinds_ship_their_arrays(tmp_path):
    b = NetworkBuilder()
    x = b.input((12, 1), name="window")
    b.output(b.chain(x, ("LSTM", {"hidden_size": 8, "output": "last"}), ("Dense", {"units": 1})), name="next")
    project = b.project("Sine", {"dataset": {"kind": "sine", "options": {"n_samples": 60, "seq_len": 12}},
                                 "training": {"recipe": "regression", "epochs": 1}})
    files = write_training_export(project, tmp_path / "sine.py")
    assert [f.name for f in files] == ["sine.py", "sine_data.npz"]
    lines = run_script(tmp_path / "sine.py")
    assert lines[0]["epoch"] == 1 and "val_r2" in lines[0]


def test_user_text_cannot_inject_code(tmp_path):
    project = digits_mlp_project()
    project.name = 'evil """\nimport os; os.system("echo pwned")\n'
    project.settings["dataset"]["options"] = {}
    text = export_training_script(project)
    tree = ast.parse(text)
    assert not any(isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "system"
                   for node in ast.walk(tree))


def test_script_runs_data_parallel_under_torchrun(tmp_path):
    path = tmp_path / "train.py"
    write_training_export(digits_mlp_project(epochs=1), path)
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(path), "--json"], capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, "only the first process prints"
    assert 0 <= lines[0]["val_accuracy"] <= 1 and 0 < lines[0]["train_accuracy"] <= 1
