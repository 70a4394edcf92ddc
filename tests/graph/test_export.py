"""The exported script as a user meets it: it runs with nothing but torch, it computes exactly
what the network computed in DeepCanvas (same weights layout, same initial weights for a seed),
and no name a user types can smuggle code into it."""

from __future__ import annotations

import ast
import builtins
import keyword
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import graph
from graph import GraphError, NetworkBuilder, Project, export_python
from graph.naming import code_names
from graph.templates import TEMPLATES, make_template

TEMPLATE_NAMES = sorted(TEMPLATES)
ALLOWED_IMPORTS = {"__future__", "math", "torch", "torch.nn"}
#: names an injection would need (``model.eval()`` is fine: only bare names and these attributes count)
FORBIDDEN_NAMES = {"os", "sys", "subprocess", "__import__", "eval", "exec", "compile", "open", "getattr",
                   "setattr", "delattr", "globals", "locals", "vars", "__builtins__", "breakpoint", "input", "pwned"}
FORBIDDEN_ATTRS = {"system", "popen", "spawnv", "remove", "unlink", "rmtree", "pwned", "__import__"}


# -- helpers ------------------------------------------------------------------------------------
def exec_script(text: str, module_name: str = "exported_model") -> dict:
    namespace: dict = {"__name__": module_name}
    exec(compile(text, f"<{module_name}>", "exec"), namespace)
    return namespace


def model_class(namespace: dict) -> type[torch.nn.Module]:
    cls = namespace["build_model"].__annotations__["return"]
    cls = namespace[cls] if isinstance(cls, str) else cls  # `from __future__ import annotations`
    assert isinstance(cls, type) and issubclass(cls, torch.nn.Module)
    return cls


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def trained_like(project: Project, network: str | None = None) -> torch.nn.Module:
    """Weights and BatchNorm statistics that no fresh build has."""
    module = graph.compile_network(project, network, seed=321)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        module.train()
        module(*graph.sample_inputs(project, batch_size=8, seed=4, network=network))
    return module.eval()


def assert_same_function(project: Project, network: str | None = None) -> None:
    compiled = trained_like(project, network)
    ns = exec_script(export_python(project, network))
    model = model_class(ns)()
    model.load_state_dict(compiled.state_dict(), strict=True)
    model.eval()
    x = graph.sample_inputs(project, batch_size=5, seed=11, network=network)
    with torch.no_grad():
        want, got = as_tuple(compiled(*x)), as_tuple(model(*x))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and torch.equal(g, w)
    # the script's own sample inputs have the shapes and dtypes DeepCanvas uses
    sample = ns["sample_inputs"](3)
    ref = graph.sample_inputs(project, batch_size=3, network=network)
    assert [(t.shape, t.dtype) for t in sample] == [(t.shape, t.dtype) for t in ref]


def import_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {f"{node.module}.{a.name}" if node.module == "torch" else node.module for a in node.names}
    return names


def bare_names(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.alias):
            out.add(node.asname or node.name)
    return out


def attributes(tree: ast.AST) -> set[str]:
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}


class _Skeleton(ast.NodeTransformer):
    """Blank every identifier and string: what remains is the code's structure, which names must
    not be able to change."""

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id="_", ctx=node.ctx), node)

    def visit_Attribute(self, node):
        self.generic_visit(node)
        node.attr = "_"
        return node

    def visit_arg(self, node):
        node.arg = "_"
        node.annotation = None
        return node

    def visit_ClassDef(self, node):
        self.generic_visit(node)
        node.name = "_"
        return node

    def visit_Constant(self, node):
        return ast.copy_location(ast.Constant("S" if isinstance(node.value, str) else node.value), node)


def skeleton(text: str) -> str:
    return ast.dump(_Skeleton().visit(ast.parse(text)))


def assert_safe_script(text: str) -> ast.Module:
    tree = ast.parse(text)
    assert import_names(tree) <= ALLOWED_IMPORTS, import_names(tree)
    assert not bare_names(tree) & FORBIDDEN_NAMES, bare_names(tree) & FORBIDDEN_NAMES
    assert not attributes(tree) & FORBIDDEN_ATTRS, attributes(tree) & FORBIDDEN_ATTRS
    # the one expected call that mentions any of them: `model = build_model().eval()`
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                FORBIDDEN_NAMES | FORBIDDEN_ATTRS):
            receiver = node.func.value
            assert node.func.attr == "eval" and isinstance(receiver, ast.Call), ast.unparse(node)
            assert isinstance(receiver.func, ast.Name) and receiver.func.id == "build_model", ast.unparse(node)
    return tree


def assert_good_identifiers(network) -> None:
    names = list(code_names(network).values())
    assert len(set(names)) == len(names)
    for name in names:
        assert name.isidentifier() and name.isascii(), name
        assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name), name
        assert name not in dir(builtins) and not hasattr(torch.nn.Module, name), name
        assert name not in {"self", "torch", "nn", "math"}, name


# -- the exported script computes what DeepCanvas computes --------------------------------------------
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_exported_module_gives_identical_outputs_with_the_same_weights(name):
    assert_same_function(make_template(name))


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_build_model_gives_the_same_initial_weights_as_deepcanvas(name):
    project = make_template(name)
    ns = exec_script(export_python(project))
    for seed in (0, 7):
        ours = graph.compile_network(project, seed=seed).state_dict()
        theirs = ns["build_model"](seed).state_dict() if seed else ns["build_model"]().state_dict()
        assert list(theirs) == list(ours)
        assert all(torch.equal(theirs[k], ours[k]) for k in ours), seed
    first, other = ns["build_model"](0).state_dict(), ns["build_model"](1).state_dict()
    assert not all(torch.equal(first[k], other[k]) for k in first)  # the seed really matters


def test_export_seed_becomes_the_default_of_build_model():
    project = make_template("mlp-digits")
    ns = exec_script(export_python(project, seed=5))
    ours = graph.compile_network(project, seed=5).state_dict()
    theirs = ns["build_model"]().state_dict()
    assert all(torch.equal(theirs[k], ours[k]) for k in ours)


def rich_project() -> Project:
    """Two inputs (image and tokens), two outputs, merges, named ports, recurrent and attention layers."""
    b = NetworkBuilder("two heads")
    img = b.input((1, 8, 8), name="image")
    tok = b.input((6,), dtype="int64", name="tokens")
    vision = b.chain(img, ("Conv2d", {"filters": 4}), ("BatchNorm2d", {}), ("LeakyReLU", {"negative_slope": 0.1}),
                     ("MaxPool2d", {}), ("Conv2d", {"filters": 8, "groups": 2, "kernel_size": (1, 1),
                                                     "padding": (0, 0)}), "GlobalAvgPool")
    seq = b.chain(tok, ("Embedding", {"num_embeddings": 10, "embedding_dim": 8}),
                  ("PositionalEncoding", {"kind": "learned", "max_len": 16}),
                  ("GRU", {"hidden_size": 4, "bidirectional": True, "output": "sequence"}), ("LayerNorm", {}))
    att = b.add("MultiheadAttention", seq, num_heads=2, causal=True)
    enc = b.add("TransformerEncoder", att, num_layers=1, num_heads=2, dim_feedforward=16, dropout=0.0)
    dec = b.add("TransformerDecoder", enc, seq, num_layers=1, num_heads=2, dim_feedforward=16)
    pooled = b.add("SequencePool", dec, mode="last")
    mixed = b.add("Multiply", b.add("Add", pooled, vision), b.add("Sigmoid", vision))
    joined = b.add("Concat", mixed, pooled)
    b.output(b.chain(joined, ("Dense", {"units": 3}), ("Softmax", {})), name="probabilities")
    state = b.chain(b.add("Reshape", joined, shape=(4, -1)),
                    ("LSTM", {"hidden_size": 5, "num_layers": 2, "bidirectional": True}), "Tanh")
    b.output(state, name="state")
    return b.project("Rich")


def test_multi_input_multi_output_network_exports_exactly(capsys):
    project = rich_project()
    assert graph.analyze(project.main).ok
    assert_same_function(project)
    # run it as a script (in-process): it prints one line per output, in Output order
    exec_script(export_python(project), "__main__")
    out = capsys.readouterr().out.splitlines()
    params = sum(p.numel() for p in graph.compile_network(project).parameters())
    assert out == ["probabilities: (2, 3)", "state: (2, 10)", f"parameters: {params:,}"]


def test_export_picks_the_named_network_and_refuses_a_broken_one():
    project = make_template("mlp-digits")
    other = rich_project()
    other.rename_network("two heads", "second")
    project.add_network(other.main)
    text = export_python(project, "second")
    assert "class MLPOnDigitsSecond(nn.Module):" in text
    assert_same_function(project, "second")

    broken = make_template("mlp-digits")
    flatten = broken.main.find("flatten_1")
    for edge in broken.main.out_edges(flatten.id):
        broken.main.disconnect(edge.id)
    broken.main.connect(broken.main.find("image").id, broken.main.find("dense_1").id)
    with pytest.raises(GraphError, match=r"Dense 'dense_1' receives a N×1×8×8 tensor .*put a Flatten before it"):
        export_python(broken)


def test_export_is_deterministic_and_readable():
    project = make_template("cnn-digits")
    text = export_python(project)
    assert text == export_python(make_template("cnn-digits"))
    assert "\nTITLE = 'CNN on digits'\n" in text  # user text only as whole literals, in the data block
    assert "class CNNOnDigits(nn.Module):" in text
    assert "self.conv2d_1 = nn.Conv2d(in_channels=1, out_channels=32" in text
    assert "# -> Nx32x8x8" in text  # shapes as comments
    assert "conv2d_1 = self.conv2d_1(image)" in text
    assert "def build_model(seed: int = 0) -> CNNOnDigits:" in text
    assert all(len(line) < 250 for line in text.splitlines())


# -- runs standalone --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def script_runs(tmp_path_factory):
    """Run every template's script at once (each run imports torch: ~1 s) with `python -I` in an
    empty folder, so nothing but the standard library and installed torch is importable."""
    procs = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    for name in TEMPLATE_NAMES:
        folder = tmp_path_factory.mktemp(name)
        (folder / "model.py").write_text(export_python(make_template(name)), encoding="utf-8")
        procs[name] = subprocess.Popen([sys.executable, "-I", "model.py"], cwd=folder, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = (proc.returncode, out, err)
    return results


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_exported_script_runs_with_only_torch_and_prints_shapes(script_runs, name):
    code, out, err = script_runs[name]
    assert code == 0, err
    project = make_template(name)
    compiled = graph.compile_network(project).eval()
    with torch.no_grad():
        shapes = [tuple(t.shape) for t in as_tuple(compiled(*graph.sample_inputs(project)))]
    names = [n.name for n in project.main.outputs()]
    params = sum(p.numel() for p in compiled.parameters())
    assert out.splitlines() == [*(f"{n}: {s}" for n, s in zip(names, shapes, strict=True)),
                                f"parameters: {params:,}"]
    tree = ast.parse(export_python(project))
    assert import_names(tree) <= ALLOWED_IMPORTS


# -- no name can inject code --------------------------------------------------------------------------
NASTY = [
    "__import__('os').system('touch pwned')",
    'print("pwned")',
    "x'); __import__('os').system('touch pwned'); ('",
    '"""; import os; os.system("touch pwned"); """',
    "'''",
    '"',
    "\\",
    "ends with a backslash \\",
    "class",
    "return",
    "self",
    "torch",
    "nn",
    "math",
    "print",
    "forward",
    "training",
    "state_dict",
    "None",
    "__init__",
    "dense_1",
    "dense_1",
    "Dense 1",
    "!!!",
    "🙂",
    "１２３",
    "123",
    "ünïcödé 😀 名前",
    "_",
    "x" * 100,
    "eval(input())",
    "# comment",
    "a\x00b\x1b[31m",
]

# names set on the node directly (as a buggy caller might), skipping the document's whitespace cleaning
RAW_NASTY = ["line\nbreak; import os", "carriage\rreturn", "sep\u2028arator", "para\u2029graph", "tab\tbed",
             "\n__import__('os').system('touch pwned')\n", "\r\n#", "\x0c\x0b", "", "   ", "y" * 3000,
             "\ud83d lone surrogate"]


def chain_project(node_names: list[str], output_names: list[str], network: str, title: str,
                  raw: bool) -> Project:
    """Input -> Dense / Tanh alternating, one per name -> two Outputs. ``raw`` sets the names on the
    objects directly, skipping the document's cleaning (as a buggy caller might)."""
    b = NetworkBuilder("net")
    h = first = b.input((4,), name="input")
    for i in range(len(node_names)):
        h = b.add("Dense", h, units=4) if i % 2 == 0 else b.add("Tanh", h)
        if i == 0:
            first = h
    outs = [b.output(h), b.output(first)]
    project = b.project("project")
    net = project.main
    layer_ids = [n.id for n in net.nodes if n.spec.role == "layer"]
    for node_id, name in zip(layer_ids + outs, node_names + output_names, strict=True):
        if raw:
            net.node(node_id).name = name
        else:
            net.rename_node(node_id, name)
    if raw:
        net.name, project.name = network, title
    else:
        project.rename_network("net", network)
        project.name = title
    return project


def nasty_project(raw: bool) -> Project:
    if raw:
        return chain_project(RAW_NASTY, ["out\n1 '''\"", "\u2028print('pwned')"], "n\\\n\u2028",
                             'p"""\nimport os\r\n', raw=True)
    return chain_project(NASTY, ['"""', "__import__('os').system('touch pwned')"], "print('pwned') \\",
                         "__import__('os').system('touch pwned') \"\"\" '''", raw=False)


def benign_twin(project: Project) -> Project:
    n = sum(1 for node in project.main.nodes if node.spec.role == "layer")
    return chain_project([f"node {i}" for i in range(n)], ["a", "b"], "net", "twin", raw=False)


@pytest.mark.parametrize("raw", [False, True], ids=["through the editor", "raw names"])
def test_no_name_can_inject_code(tmp_path, monkeypatch, capsys, raw):
    project = nasty_project(raw)
    text = export_python(project)
    tree = assert_safe_script(text)
    # the code has exactly the structure of the same network with harmless names
    assert skeleton(text) == skeleton(export_python(benign_twin(project)))
    assert_good_identifiers(project.main)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert len(classes) == 1 and classes[0].isidentifier() and classes[0].isascii()

    # it runs, computes what DeepCanvas computes, and prints the user's own names
    monkeypatch.chdir(tmp_path)
    assert_same_function(project)
    exec_script(text, "__main__")
    out = capsys.readouterr().out
    for node in project.main.outputs():  # shown as typed, non-printable characters as escapes
        shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in node.name)
        assert f"{shown}: (2, 4)" in out.splitlines()
    assert all(c.isprintable() for c in out.replace("\n", "")), "no control character reaches the terminal"
    assert not any(tmp_path.iterdir()), "the script created a file"


def test_names_in_any_script_stay_readable_in_the_export():
    project = chain_project(["Schicht ü", "名前 😀"], ["résultat", "выход"], "réseau", "Modèle ✓ «1»", raw=False)
    text = export_python(project)
    for name in ("Schicht ü", "名前 😀", "résultat", "выход"):
        assert name in text
    ns = exec_script(text)
    assert model_class(ns).__name__ == "Modele1"  # accents dropped, not the letters
    assert ns["TITLE"] == "Modèle ✓ «1»"
    assert sorted(ns["NODE_NAMES"].values()) == sorted(n.name for n in project.main.nodes)
    assert "self.schicht_u = nn.Linear(" in text


def test_names_that_sanitise_to_nothing_or_clash_get_distinct_identifiers():
    b = NetworkBuilder()
    h = b.input((4,), name="🙂")
    for name in ("!!!", "🙂", "???", "dense", "Dense", "dense", "dense_2", "layer", "layer_2", "1"):
        h = b.add("Dense", h, units=4, name=name)
    b.output(h)
    net = b.network
    names = code_names(net)
    assert_good_identifiers(net)
    assert {names[n.id] for n in net.nodes if n.name in ("!!!", "???")} <= {"layer", "layer_2", "layer_3",
                                                                           "layer_4", "layer_5"}
    assert_same_function(b.project("clashes"))


def test_nodes_named_like_module_attributes_still_compile_and_export():
    from graph.compiler import CompiledNetwork

    compiled_attrs = {a for a in dir(CompiledNetwork) if not a.startswith("_")}
    compiled_attrs |= {a for a in vars(graph.compile_network(make_template("mlp-digits"))) if not a.startswith("_")}
    taken = sorted(compiled_attrs | {"__init__", "_modules", "_parameters", "__class__"})
    b = NetworkBuilder()
    h = b.input((4,))
    for name in taken:
        h = b.add("Tanh", h, name=name)
    b.output(b.add("Dense", h, units=2, name="plan"))
    project = b.project("attrs")
    assert_good_identifiers(project.main)
    assert_same_function(project)


@st.composite
def names(draw):
    text = draw(st.text(min_size=1, max_size=40) | st.sampled_from(NASTY + RAW_NASTY))
    cleaned = " ".join(text.split())
    assume(cleaned and len(cleaned) <= 100)
    return cleaned if draw(st.booleans()) else text  # sometimes bypass the document's cleaning


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(node_names=st.lists(names(), min_size=4, max_size=4), network=names(), title=names())
def test_arbitrary_names_never_change_the_code(node_names, network, title):
    project = chain_project(node_names[:2], node_names[2:], network, title, raw=True)
    text = export_python(project)
    assert_safe_script(text)
    assert skeleton(text) == skeleton(export_python(benign_twin(project)))
    assert_good_identifiers(project.main)
    model = model_class(exec_script(text))()
    assert [t.shape for t in model(torch.zeros(1, 4))] == [(1, 4), (1, 4)]
