"""The headless commands as someone at a terminal or in CI uses them: `python main.py ...`.

Each subprocess costs a Python start-up (and ~1 s more when it imports torch), so the behaviour
that only a real process shows (exit codes, stdout/stderr, no traceback) is checked through
subprocesses and the per-template loops call ``main.main`` in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import graph
from graph import load_project, save_project
from graph.templates import TEMPLATES, make_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_NAMES = sorted(TEMPLATES)


def cli(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def run_main(capsys):
    """``main.main(argv)`` in-process -> (exit code, stdout, stderr)."""
    sys.path.insert(0, str(ROOT))
    try:
        import main
    finally:
        sys.path.remove(str(ROOT))

    def run(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_clean_failure(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    for text in expected:
        assert text in result.stderr, result.stderr


def dense_fed_an_image(path: Path) -> Path:
    """The classic mistake: a Dense straight after a 1×8×8 image."""
    project = make_template("mlp-digits")
    net = project.main
    flatten = net.find("flatten_1")
    net.remove_node(flatten.id)
    net.connect(net.find("image").id, net.find("dense_1").id)
    return save_project(project, path)


def compiled_params(project, network=None) -> int:
    return sum(p.numel() for p in graph.compile_network(project, network).parameters())


# -- templates / new --------------------------------------------------------------------------
def test_templates_lists_one_per_line_name_first():
    result = cli("templates")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert sorted(names) == TEMPLATE_NAMES
    assert all(len(line.split(None, 1)) == 2 for line in lines), "each name has a description"
    for family in ("mlp-", "cnn-", "lstm-", "transformer-"):
        assert any(n.startswith(family) for n in names), family


def test_new_writes_a_valid_project_and_never_overwrites_without_force(tmp_path):
    path = tmp_path / "digits.dcproj"
    result = cli("new", "--template", "cnn-digits", path)
    assert result.returncode == 0, result.stderr
    loaded = load_project(path)
    assert [(n.type_id, n.name) for n in loaded.main.nodes] == [
        (n.type_id, n.name) for n in make_template("cnn-digits").main.nodes]
    assert graph.analyze(loaded.main).ok

    path.write_text("my precious edits", encoding="utf-8")
    result = cli("new", "--template", "mlp-digits", path)
    assert_clean_failure(result, "already exists", "--force")
    assert path.read_text(encoding="utf-8") == "my precious edits"

    result = cli("new", "--template", "mlp-digits", path, "--force")
    assert result.returncode == 0, result.stderr
    assert load_project(path).name == "MLP on digits"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_new_from_every_template_gives_the_template(run_main, tmp_path, name):
    code, out, err = run_main("new", "--template", name, tmp_path / "p.dcproj")
    assert code == 0, err
    assert name in out
    loaded = load_project(tmp_path / "p.dcproj")
    assert graph.analyze(loaded.main).ok
    assert loaded.settings == make_template(name).settings


def test_new_with_an_unknown_template_names_the_choices(run_main, tmp_path):
    code, _, err = run_main("new", "--template", "resnet-9000", tmp_path / "p.dcproj")
    assert code != 0
    assert "resnet-9000" in err and "mlp-digits" in err
    assert not (tmp_path / "p.dcproj").exists()


# -- summary --------------------------------------------------------------------------------------
def test_summary_json_matches_the_compiled_module(tmp_path):
    project = make_template("transformer-sequence")
    path = save_project(project, tmp_path / "p.dcproj")
    result = cli("summary", path, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["errors"] == []
    assert isinstance(data["total_params"], int)
    assert data["total_params"] == compiled_params(project)
    assert [n["id"] for n in data["nodes"]] == [n.id for n in project.main.topological_order()]
    for node in data["nodes"]:
        assert {"id", "name", "type", "output_shape", "params", "mult_adds"} <= set(node)
    by_name = {n["name"]: n for n in data["nodes"]}
    assert by_name["tokens"]["output_shape"] == "N×20" and by_name["logits"]["output_shape"] == "N×8"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_summary_counts_every_nodes_parameters_like_torch(run_main, tmp_path, name):
    project = make_template(name)
    path = save_project(project, tmp_path / "p.dcproj")
    code, out, err = run_main("summary", path, "--json")
    assert code == 0, err
    data = json.loads(out)
    compiled = graph.compile_network(project)
    assert data["total_params"] == sum(p.numel() for p in compiled.parameters())
    for node in data["nodes"]:
        ident = compiled.node_names[node["id"]]
        module = getattr(compiled, ident, None)
        expected = sum(p.numel() for p in module.parameters()) if module is not None else 0
        assert node["params"] == expected, node["name"]


def test_summary_json_of_a_broken_network_lists_the_errors(run_main, tmp_path):
    code, out, _ = run_main("summary", dense_fed_an_image(tmp_path / "bad.dcproj"), "--json")
    assert code == 0
    data = json.loads(out)
    assert any("Dense 'dense_1'" in e and "Flatten" in e for e in data["errors"])
    assert next(n for n in data["nodes"] if n["name"] == "dense_1")["output_shape"] == "?"


def test_summary_prints_a_table_with_totals(tmp_path):
    project = make_template("cnn-digits")
    path = save_project(project, tmp_path / "p.dcproj")
    result = cli("summary", path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("Node"))
    for column in ("Type", "Output shape", "Params", "Mult-adds"):
        assert column in header
    for node in project.main.nodes:
        assert any(line.startswith(node.name) and node.type_id in line for line in lines), node.name
    assert next(line for line in lines if line.startswith("conv2d_1")).split()[-2:] == ["320", "18,432"]
    assert f"Total params: {compiled_params(project):,}" in lines
    assert any(line.startswith("Total mult-adds") for line in lines)


def test_summary_of_a_multi_network_project_shows_each(run_main, tmp_path):
    project = make_template("mlp-digits")
    other = make_template("cnn-digits")
    other.rename_network("main", "critic")
    project.add_network(other.main)
    path = save_project(project, tmp_path / "p.dcproj")
    code, out, _ = run_main("summary", path, "--json")
    assert [n["network"] for n in json.loads(out)["networks"]] == ["main", "critic"]
    code, out, _ = run_main("summary", path, "--network", "critic", "--json")
    assert json.loads(out)["total_params"] == compiled_params(project, "critic")


# -- validate -------------------------------------------------------------------------------------
def test_validate_accepts_a_sound_project(tmp_path):
    result = cli("validate", save_project(make_template("lstm-sequence"), tmp_path / "p.dcproj"))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_validate_names_the_node_and_suggests_the_fix(tmp_path):
    result = cli("validate", dense_fed_an_image(tmp_path / "bad.dcproj"))
    assert_clean_failure(result, "Dense 'dense_1'", "N×1×8×8", "put a Flatten before it")


def test_validate_reports_a_broken_file_without_a_traceback(tmp_path):
    data = json.loads(json.dumps(graph.project_to_dict(make_template("mlp-digits"))))
    data["networks"][0]["nodes"][2]["params"]["units"] = "lots"
    path = tmp_path / "broken.dcproj"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = cli("validate", path)
    assert_clean_failure(result, "error: broken.dcproj: networks[0].nodes[2].params.units")


@pytest.mark.parametrize("content", [b"{ not json", b"\xff\xfe\xfa", None])
def test_every_command_reports_unreadable_files_cleanly(run_main, tmp_path, content):
    path = tmp_path / "broken.dcproj"
    if content is not None:
        path.write_bytes(content)
    for command in (["validate"], ["summary"], ["summary", "--json"], ["export"]):
        code, out, err = run_main(command[0], path, *command[1:])
        assert code != 0, command
        assert err.startswith("error: ") and "broken.dcproj" in err, (command, err)
        assert out == ""


# -- export ----------------------------------------------------------------------------------------
def test_export_writes_a_script_that_runs(tmp_path):
    project = make_template("cnn-digits")
    path = save_project(project, tmp_path / "p.dcproj")
    result = cli("export", path, "--model-only", "-o", tmp_path / "model.py")
    assert result.returncode == 0, result.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run([sys.executable, "-I", "model.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["logits: (2, 10)", f"parameters: {compiled_params(project):,}"]


def test_export_to_stdout_and_its_refusals(run_main, tmp_path):
    project = make_template("lstm-sequence")
    path = save_project(project, tmp_path / "p.dcproj")
    code, out, _ = run_main("export", path, "--model-only")
    assert code == 0 and out == graph.export_python(project)
    code, out, _ = run_main("export", path, "--model-only", "--seed", "3", "-o", "-")
    assert code == 0 and out == graph.export_python(project, seed=3)
    # a project that names its data set exports the training script by default
    code, out, _ = run_main("export", path)
    assert code == 0 and "def train(" in out and "sequence_majority" in out

    code, _, err = run_main("export", dense_fed_an_image(tmp_path / "bad.dcproj"), "-o", tmp_path / "bad.py")
    assert code != 0 and "put a Flatten before it" in err
    assert not (tmp_path / "bad.py").exists()

    code, _, err = run_main("export", path, "-o", tmp_path)
    assert code != 0 and "folder" in err


def test_summary_piped_into_a_closed_reader_exits_quietly(tmp_path):
    path = save_project(make_template("mlp-digits"), tmp_path / "p.dcproj")
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "summary", str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # like `| head -0`
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert err == "", err  # no "Broken pipe" error, no "Exception ignored" at exit
