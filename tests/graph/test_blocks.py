"""Composite blocks: a node holding a sub-network that shows shapes, compiles, saves, loads and
exports like any layer, and follows its definition when the definition changes."""

from __future__ import annotations

import pytest
import torch

from graph.blocks import expand_block, group_into_block
from graph.builder import NetworkBuilder
from graph.builtin_blocks import BUILTIN_BLOCKS, ensure_builtin
from graph.compiler import compile_network, sample_inputs
from graph.document import Project
from graph.errors import CycleError, GraphError, ProjectFileError
from graph.export_python import export_python
from graph.project_file import load_project, project_from_dict, project_to_dict, save_project
from graph.shapes import analyze

# what each built-in block is fed in the test network, and the output its defaults give
BUILTIN_CASES = {
    "encoder": ((1, 8, 8), {}, (2,)),
    "decoder": ((2,), {}, (1, 8, 8)),
    "conv_encoder": ((1, 8, 8), {}, (16,)),
    "conv_decoder": ((16,), {}, (1, 8, 8)),
    "generator": ((8,), {}, (2,)),
    "discriminator": ((2,), {}, (1,)),
    "dcgan_generator": ((16,), {}, (1, 8, 8)),
    "dcgan_discriminator": ((1, 8, 8), {}, (1,)),
    "residual": ((16, 8, 8), {}, (16, 8, 8)),
    "transformer": ((10, 32), {}, (10, 32)),
}


def run_script(source: str) -> dict:
    namespace: dict = {"__name__": "exported"}
    exec(compile(source, "<exported>", "exec"), namespace)
    return namespace


def autoencoder(latent: int = 2) -> Project:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    z = b.block("encoder", x, name="encoder", latent=latent)
    y = b.block("decoder", z, name="decoder")
    b.output(y, name="reconstruction")
    return b.project("autoencoder")


def assert_export_matches(project: Project) -> None:
    model = compile_network(project, seed=3)
    namespace = run_script(export_python(project, seed=3))
    exported = namespace["build_model"](3)
    assert list(exported.state_dict()) == list(model.state_dict())
    for a, b in zip(exported.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)            # same initial weights for the same seed
    model.eval()
    exported.eval()
    inputs = sample_inputs(project)
    with torch.no_grad():
        assert torch.allclose(model(*inputs), exported(*inputs), atol=1e-6)


@pytest.mark.parametrize("key", sorted(BUILTIN_BLOCKS))
def test_every_builtin_block_shapes_compiles_and_exports(key):
    assert key in BUILTIN_CASES, "every built-in block needs a case here"
    shape, params, expected = BUILTIN_CASES[key]
    b = NetworkBuilder()
    x = b.input(shape, name="x")
    b.output(b.block(key, x, **params), name="y")
    project = b.project(key)
    analysis = analyze(project.main)
    assert analysis.ok, analysis.problems
    assert analysis.nodes[project.main.outputs()[0].id].output.shape[1:] == expected
    model = compile_network(project)
    assert analysis.total_params == sum(p.numel() for p in model.parameters()) > 0
    out = model.eval()(*sample_inputs(project, batch_size=3))
    assert tuple(out.shape) == (3, *expected)
    assert_export_matches(project)


def test_block_adapts_to_the_shape_it_receives_and_exposed_params_per_use():
    project = autoencoder(latent=5)
    net = project.main
    encoder = net.find("encoder")
    assert analyze(net).nodes[encoder.id].output.shape == (None, 5)
    # the same definition takes 28×28 images in a second network
    b = NetworkBuilder("big", network=project.add_network("big"))
    x = b.input((1, 28, 28))
    b.output(b.block("Encoder", x, latent=7))
    analysis = analyze(project.network("big"))
    assert analysis.ok
    assert analysis.total_params == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 7 + 7


def test_editing_a_definition_updates_every_use():
    project = autoencoder()
    net = project.main
    defn = project.blocks.get("Encoder")
    before = analyze(net).total_params
    hidden = defn.network.find("hidden_2")
    defn.network.set_param(hidden.id, "bias", False)      # not exposed: every use follows
    assert analyze(net).total_params == before - 64
    defn.network.set_param(hidden.id, "units", 32)        # exposed: each use keeps its own value
    assert project.main.find("encoder").params["hidden_2"] == 64
    assert analyze(net).total_params == before - 64


def test_a_broken_inside_is_reported_on_the_block_node():
    project = autoencoder()
    project.main.set_param(project.main.find("decoder").id, "out_features", 60)   # no longer 1×8×8
    problems = analyze(project.main).problems
    assert len(problems) == 1
    assert problems[0].node_id == project.main.find("decoder").id
    assert "does not work inside" in problems[0].message and "Reshape" in problems[0].message


def test_expose_and_unexpose_change_the_nodes_params():
    project = autoencoder()
    library = project.blocks
    defn = library.get("Encoder")
    flatten_next = defn.network.find("hidden_1")
    library.unexpose("Encoder", "hidden_1")
    node = project.main.find("encoder")
    assert "hidden_1" not in node.params
    library.expose("Encoder", flatten_next.id, "bias", "use_bias")
    assert node.params["use_bias"] is True
    project.main.set_param(node.id, "use_bias", False)
    model = compile_network(project)
    assert model.encoder.hidden_1.bias is None
    with pytest.raises(GraphError, match="already exposes"):
        library.expose("Encoder", defn.network.find("latent").id, "bias", "use_bias")
    with pytest.raises(GraphError, match="Input"):
        library.expose("Encoder", defn.network.inputs()[0].id, "shape")


def test_rename_and_remove_definitions():
    project = autoencoder()
    library = project.blocks
    library.rename("Encoder", "Image encoder")
    node = project.main.find("encoder")
    assert node.params["block"] == "Image encoder" and node.spec.display_name == "Image encoder"
    assert analyze(project.main).ok
    with pytest.raises(GraphError, match="still used"):
        library.remove("Image encoder")
    project.main.remove_node(node.id)
    library.remove("Image encoder")
    assert "Image encoder" not in library


def test_a_block_cannot_contain_itself():
    project = autoencoder()
    library = project.blocks
    inner = library.get("Encoder").network
    with pytest.raises(CycleError, match="cannot contain"):
        inner.add_node("Block", {"block": "Encoder"})
    # Decoder inside Encoder is fine, but then Encoder inside Decoder would be a loop
    inner.add_node("Block", {"block": "Decoder"})
    with pytest.raises(CycleError):
        library.get("Decoder").network.add_node("Block", {"block": "Encoder"})


def test_nested_blocks_compile_and_export():
    project = Project(networks=[])
    project.add_network("main")
    library = project.blocks
    ensure_builtin(library, "residual")
    b = NetworkBuilder("stage", network=library.create("Stage", project.main.copy("Stage")).network)
    x = b.input((16, 8, 8), name="x")
    b.output(b.block("Residual", b.block("Residual", x)))
    main = NetworkBuilder("main", network=project.main)
    x = main.input((3, 8, 8))
    h = main.add("Conv2d", x, filters=16)
    main.output(main.add("Dense", main.add("Flatten", main.block("Stage", h)), units=4))
    assert analyze(project.main).ok
    assert_export_matches(project)
    source = export_python(project)
    assert source.count("class Residual(") == 1        # both uses plan to the same code: one class
    assert source.index("class Residual(") < source.index("class Stage(")
    # and the nesting survives a file round trip
    again = project_from_dict(project_to_dict(project))
    assert project_to_dict(again) == project_to_dict(project)
    assert_export_matches(again)


def test_group_then_expand_round_trips_the_network():
    b = NetworkBuilder()
    x = b.input((20,), name="x")
    h1 = b.add("Dense", x, units=16, name="fc1")
    a1 = b.add("ReLU", h1, name="act1")
    h2 = b.add("Dense", a1, units=16, name="fc2")
    s = b.add("Add", a1, h2, name="skip")
    b.output(b.add("Dense", s, units=3, name="head"))
    project = b.project("grouping")
    net = project.main
    reference = compile_network(project, seed=1)
    inputs = sample_inputs(project)
    state = reference.state_dict()

    block = group_into_block(net, [h1, a1, h2, s], "Body")
    assert [n.name for n in net.nodes if n.spec.role == "layer"] == ["head", block.name]
    assert analyze(net).ok
    inside = project.blocks.get("Body").network
    assert sorted(n.name for n in inside.nodes) == ["act1", "fc1", "fc2", "out", "skip", "x"]
    grouped = compile_network(project)
    grouped.load_state_dict({(f"{block.name}.{k}" if k.split(".")[0] != "head" else k): v
                             for k, v in state.items()})
    with torch.no_grad():
        assert torch.allclose(grouped(*inputs), reference(*inputs))

    expand_block(net, block.id)
    assert sorted(n.name for n in net.nodes) == ["act1", "fc1", "fc2", "head", "output", "skip", "x"]
    expanded = compile_network(project)
    expanded.load_state_dict(state)
    with torch.no_grad():
        assert torch.allclose(expanded(*inputs), reference(*inputs))


def test_grouping_refusals_say_why():
    b = NetworkBuilder()
    x = b.input((20,), name="x")
    h1 = b.add("Dense", x, units=8, name="a")
    h2 = b.add("Dense", h1, units=8, name="b")
    h3 = b.add("Dense", h2, units=8, name="c")
    b.output(b.add("Concat", h1, h3, name="cat"))
    net = b.project().main
    with pytest.raises(GraphError, match="Input and Output"):
        group_into_block(net, [x, h1])
    with pytest.raises(GraphError, match="comes back"):
        group_into_block(net, [h1, h3])                                  # a -> b -> c leaves and returns
    with pytest.raises(GraphError, match="select"):
        group_into_block(net, [])


def test_state_and_restore_undo_a_grouping():
    b = NetworkBuilder()
    x = b.input((20,), name="x")
    h = b.chain(x, ("Dense", {"units": 8}), "ReLU", ("Dense", {"units": 4}))
    b.output(h)
    project = b.project()
    net = project.main
    before_net, before_lib = net.state(), project.blocks.state()
    group_into_block(net, [n.id for n in net.nodes if n.spec.role == "layer"][:2])
    after_net, after_lib = net.state(), project.blocks.state()
    # undo
    project.blocks.restore(before_lib, "before")
    net.restore(before_net)
    project.blocks.restore(before_lib, "after")
    assert net.state() == before_net and len(project.blocks) == 0
    # redo
    project.blocks.restore(after_lib, "before")
    net.restore(after_net)
    project.blocks.restore(after_lib, "after")
    assert net.state() == after_net and project.blocks.names == ["Block"]
    assert analyze(net).ok


def test_blocks_save_and_load(tmp_path):
    project = autoencoder(latent=4)
    path = save_project(project, tmp_path / "ae.dcproj")
    loaded = load_project(path)
    assert project_to_dict(loaded) == project_to_dict(project)
    assert loaded.main.find("encoder").params["latent"] == 4
    assert analyze(loaded.main).total_params == analyze(project.main).total_params


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d["networks"][0]["nodes"][1]["params"].update(block="Nope"), "networks[0].nodes[1].params.block"),
    (lambda d: d["blocks"][0]["exposed"].append({"node": "n999", "param": "units", "name": "x"}), "blocks[0].exposed"),
    (lambda d: d["blocks"].reverse(), "blocks[0]"),
    (lambda d: d["blocks"][0].update(name=d["blocks"][1]["name"]), "blocks[1]"),
    (lambda d: d["blocks"][0]["network"]["nodes"].append(
        {"id": "n60", "type": "Block", "name": "me", "params": {"block": d["blocks"][0]["name"]}}),
     "blocks[0].network.nodes[8].params.block"),
    (lambda d: d["networks"][0]["nodes"][1]["params"].pop("block"), "networks[0].nodes[1].params"),
])
def test_broken_block_data_in_a_file_names_the_place(mutate, where):
    data = project_to_dict(autoencoder())
    data["blocks"][1]["network"]["nodes"].append(
        {"id": "n50", "type": "Block", "name": "inner", "params": {"block": data["blocks"][0]["name"]}})
    project_from_dict(data)          # a definition may use one written before it
    mutate(data)
    with pytest.raises(ProjectFileError) as info:
        project_from_dict(data)
    assert info.value.where.startswith(where)
