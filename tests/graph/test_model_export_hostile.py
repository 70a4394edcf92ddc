"""No name a user types (project, network, block, node) turns into code in the model script, and none
breaks the ONNX, TorchScript, pt2 or safetensors exports. The names reach the script only in its
data block (TITLE, NODE_NAMES, OUTPUT_NAMES, BLOCK_NAMES) as whole literals, and its class names
never shadow a name of the script (see tests/hostile_text.py for the corpus and the checks)."""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys

import pytest
import torch

from graph import Project
from graph.builder import NetworkBuilder
from graph.compiler import compile_network, sample_inputs
from graph.export_formats import export_onnx, export_pt2, export_safetensors, export_torchscript
from graph.export_python import export_python
from graph.naming import script_names
from tests.hostile_text import HOSTILE, LONE_SURROGATE, PWNED, assert_inert

NAMES = [*HOSTILE, LONE_SURROGATE]


def block_project(text: str) -> Project:
    """Two networks (the title is "project / network"); the exported one holds a block and layers
    named ``text`` (set raw, as a hand-edited file could), its block definition renamed after it."""
    b = NetworkBuilder("net")
    x = b.input((1, 8, 8), name="image")
    code = b.block("encoder", x, name="enc")
    b.output(b.add("Dense", code, units=3), name="scores")
    b.output(b.add("Tanh", code))
    project = b.project("project")
    other = NetworkBuilder("other")
    other.output(other.add("Dense", other.input((2,)), units=2))
    project.add_network(other.network)
    for node in project.main.nodes:
        node.name = text if node.name == "scores" else f"{node.name} {text}"
    # block names always go through the document's cleaning, which refuses lone surrogates and length
    block = "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)[:90]
    project.blocks.rename(next(iter(project.blocks._defs)), f"block {block}")
    project.name = text
    project.main.name = f"network {text}"
    return project


@functools.cache
def twin() -> str:
    return export_python(block_project("harmless"), "network harmless")


@pytest.mark.parametrize("text", NAMES, ids=range(len(NAMES)))
def test_project_network_block_and_node_names_stay_data(text):
    project = block_project(text)
    data = assert_inert(export_python(project, project.main.name), twin())
    assert data["TITLE"] == f"{text} / network {text}"
    assert text in data["NODE_NAMES"].values()
    assert list(data["BLOCK_NAMES"].values()) == [project.blocks.get(next(iter(project.blocks._defs))).name]
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    assert data["OUTPUT_NAMES"][0] == shown, "printed names cannot send control characters to a terminal"


def own_capitalised_names() -> list[str]:
    """The names of a model script a class name could equal (they start with a capital), read from
    a script that uses helper classes (GlobalAvgPool, Reshape, Concat)."""
    b = NetworkBuilder()
    x = b.input((2, 4, 4))
    pooled = b.add("GlobalAvgPool", x)
    b.output(b.add("Concat", pooled, b.add("Reshape", b.add("Flatten", x), shape=(32,))))
    text = export_python(b.project("x"))
    return sorted(n for n in script_names(text) if n[:1].isupper())


def test_the_model_scripts_own_capitalised_names_are_found():
    assert {"TITLE", "NODE_NAMES", "OUTPUT_NAMES", "BLOCK_NAMES", "GlobalAvgPool", "Reshape",
            "Concat"} <= set(own_capitalised_names())


@pytest.mark.parametrize("name", [*own_capitalised_names(), "Ｆ", "Block", "Model", "Model2"])
def test_project_and_block_named_like_the_scripts_own_names(name):
    b = NetworkBuilder()
    x = b.input((1, 8, 8))
    pooled, code = b.add("GlobalAvgPool", x), b.block("conv_encoder", x)
    b.output(b.add("Concat", pooled, code, b.add("Reshape", b.add("Flatten", x), shape=(64,))))
    project = b.project(name)
    project.blocks.rename(next(iter(project.blocks._defs)), name)
    text = export_python(project)
    tree = ast.parse(text)
    data = assert_inert(text, text)  # compiles; each module-level name bound once
    assert data["TITLE"] == name
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert len(classes) == len(set(classes)) == 5
    model = compile_network(project)
    namespace: dict = {"__name__": "exported"}
    exec(compile(text, "<exported>", "exec"), namespace)
    exported = namespace["build_model"]()
    exported.load_state_dict(model.state_dict())
    inputs = sample_inputs(project)
    with torch.no_grad():
        assert torch.equal(exported.eval()(*inputs), model.eval()(*inputs))


WORST = f'x"""; open("{PWNED}", "w"); """ \\ \u2028 \x00 {{open("{PWNED}")}} F'


def test_the_worst_names_run_in_a_bare_interpreter(tmp_path):
    (tmp_path / "model.py").write_text(export_python(block_project(WORST), f"network {WORST}"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([sys.executable, "-I", "model.py"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in WORST)
    assert result.stdout.splitlines()[0] == f"{shown}: (2, 3)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"], "the script created a file"


def test_binary_formats_take_hostile_names(tmp_path):
    """ONNX, TorchScript, pt2 and safetensors files of a network whose project, network and node
    names are hostile (quotes, NUL, separators, a lone surrogate, ``F``): each is written, loads
    back and computes what DeepCanvas computes."""
    import onnxruntime
    from safetensors import safe_open
    from safetensors.torch import load_file

    text = f"{WORST} {LONE_SURROGATE} \u2029'''\\"
    project = block_project(text)
    network = project.main.name
    model = compile_network(project, network).eval()
    inputs = sample_inputs(project, network=network)
    with torch.no_grad():
        want = model(*inputs)

    export_onnx(project, tmp_path / "m.onnx", network)
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs, strict=True)})
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(torch.from_numpy(g), w, atol=1e-5)

    export_torchscript(project, tmp_path / "m.pt", network)
    export_pt2(project, tmp_path / "m.pt2", network)
    for loaded in (torch.jit.load(str(tmp_path / "m.pt")), torch.export.load(str(tmp_path / "m.pt2")).module()):
        with torch.no_grad():
            for g, w in zip(loaded(*inputs), want, strict=True):
                assert torch.allclose(g, w, atol=1e-6)

    export_safetensors(project, tmp_path / "m.safetensors", network)
    state = load_file(str(tmp_path / "m.safetensors"))
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    with safe_open(str(tmp_path / "m.safetensors"), "pt") as archive:
        assert archive.metadata()["network"] == network.encode("utf-8", "backslashreplace").decode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.pt", "m.pt2", "m.safetensors"]
