"""Project files as a user meets them: what is saved comes back exactly, weights come back in
safetensors, a crash mid-save never costs the old file, and any broken file gives one clear error
that says where in the file the problem is."""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graph
import graph.project_file as pf
from graph import (
    GraphError,
    NetworkBuilder,
    Project,
    ProjectFileError,
    load_project,
    project_from_dict,
    save_project,
)
from graph.document import Network
from graph.layers import all_layers
from graph.project_file import load_weights, project_to_dict, weights_path
from graph.templates import TEMPLATES, make_template

TEMPLATE_NAMES = sorted(TEMPLATES)


# -- helpers --------------------------------------------------------------------------------------
def assert_same_network(a: Network, b: Network) -> None:
    assert a.name == b.name
    assert [n.id for n in a.nodes] == [n.id for n in b.nodes]
    for na, nb in zip(a.nodes, b.nodes, strict=True):
        assert (nb.type_id, nb.name, nb.position) == (na.type_id, na.name, na.position), na.id
        assert nb.params == na.params, na.id
        assert {k: type(v) for k, v in nb.params.items()} == {k: type(v) for k, v in na.params.items()}
    assert a.edges == b.edges


def assert_same_project(a: Project, b: Project) -> None:
    assert b.name == a.name
    assert [n.name for n in b.networks] == [n.name for n in a.networks]
    for na, nb in zip(a.networks, b.networks, strict=True):
        assert_same_network(na, nb)
    assert b.settings == a.settings


def saved_dict(name: str = "mlp-digits") -> dict:
    return json.loads(json.dumps(project_to_dict(make_template(name))))


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def node_index(data: dict, type_id: str) -> int:
    return next(i for i, n in enumerate(data["networks"][0]["nodes"]) if n["type"] == type_id)


def every_layer_project() -> Project:
    """Two networks: every layer type with its defaults and each declared example (unwired nodes
    are a legitimate, saveable state of the editor), and a wired graph that uses named and merge
    ports, two inputs and two outputs."""
    project = Project(name="Tous les calques ✓ \"quoted\"")
    zoo = project.add_network("zoo")
    k = 0
    for spec in all_layers():
        for params in ({}, *spec.examples):
            zoo.add_node(spec.type_id, params, name=f"{spec.type_id} #{k}", position=(k * 10.25, -k * 3.5))
            k += 1

    b = NetworkBuilder("wired")
    seq = b.input((6, 8), name="sequence")
    mem = b.input((5, 8), name="memory")
    q = b.add("Dense", seq, units=8)
    att = b.add("MultiheadAttention", q, ports={"key": mem, "value": mem}, num_heads=2)
    res = b.add("Add", att, q)
    cat = b.add("Concat", res, seq, dim=-1)
    dec = b.add("TransformerDecoder", b.add("Dense", cat, units=8), mem, num_layers=1, num_heads=2,
                dim_feedforward=16)
    b.output(b.add("SequencePool", dec, mode="max"), name="pooled")
    b.output(res, name="residual")
    project.add_network(b.layout())
    project.settings.update({
        "dataset": {"kind": "digits", "options": {"flat": False}},
        "training": {"recipe": "classification", "epochs": 3, "lr": 0.001, "schedule": [1, 2.5, None, True]},
        "notes": "ünïcödé ✓ — \"quotes\" and \\ backslashes\nand lines",
    })
    return project


# -- round trips ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_round_trips_through_a_file(tmp_path, name):
    original = make_template(name)
    path = save_project(original, tmp_path / f"{name}.dcproj")
    loaded = load_project(path)  # a fresh session: nothing shared with `original`
    assert loaded is not original
    assert_same_project(original, loaded)
    assert loaded.settings["dataset"] and loaded.settings["training"]
    # saving what was loaded writes the very same bytes: nothing drifts across sessions
    again = save_project(loaded, tmp_path / "again.dcproj")
    assert again.read_bytes() == path.read_bytes()


def test_every_layer_type_params_names_and_positions_round_trip(tmp_path):
    original = every_layer_project()
    loaded = load_project(save_project(original, tmp_path / "zoo.dcproj"))
    assert_same_project(original, loaded)
    # the wired network still analyses the same after the trip
    assert graph.analyze(loaded.network("wired")).ok
    assert (str(graph.analyze(loaded.network("wired")).nodes[loaded.network("wired").find("pooled").id].output)
            == "N×8")


def test_loaded_network_keeps_numbering_new_nodes_after_the_saved_ids(tmp_path):
    project = make_template("mlp-digits")
    loaded = load_project(save_project(project, tmp_path / "p.dcproj"))
    net = loaded.main
    new = net.add_node("ReLU")
    assert new.id not in {n.id for n in project.main.nodes}


def test_saved_file_is_plain_documented_json(tmp_path):
    path = save_project(every_layer_project(), tmp_path / "p.dcproj")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"format", "format_version", "name", "networks", "settings"}
    assert data["format"] == "deepcanvas-project"
    assert data["format_version"] == pf.FORMAT_VERSION == graph.FORMAT_VERSION
    for net in data["networks"]:
        assert set(net) == {"name", "nodes", "edges"}
        for node in net["nodes"]:
            assert set(node) == {"id", "type", "type_version", "name", "params", "position"}
            assert isinstance(node["position"], list) and len(node["position"]) == 2
            json.dumps(node["params"], allow_nan=False)  # only JSON values
        for edge in net["edges"]:
            assert set(edge) == {"id", "source", "source_port", "target", "target_port"}
    # documented in docs/project-format.md: every key above appears there
    doc = (Path(__file__).parents[2] / "docs" / "project-format.md").read_text(encoding="utf-8")
    for key in ("format", "format_version", "networks", "settings", "nodes", "edges", "type_version", "params",
                "position", "source_port", "target_port", "ProjectFileError", "MIGRATIONS", "NAME.safetensors"):
        assert re.search(rf"`[^`\n]*\b{re.escape(key)}\b[^`\n]*`", doc), key


def test_node_dragged_far_away_still_saves_and_loads(tmp_path):
    project = make_template("mlp-digits")
    first, second = project.main.nodes[:2]
    project.main.move_node(first.id, (1e300, -1e300))
    project.main.move_node(second.id, (0.0, 12.345))
    with pytest.raises(GraphError, match="finite"):
        project.main.move_node(second.id, (float("nan"), 0.0))
    loaded = load_project(save_project(project, tmp_path / "far.dcproj"))
    x, y = loaded.main.node(first.id).position
    assert x > 1e8 and y < -1e8
    assert loaded.main.node(second.id).position == (0.0, 12.35)


def test_settings_that_json_cannot_hold_give_a_project_file_error(tmp_path):
    project = make_template("mlp-digits")
    project.settings["training"]["lr"] = float("nan")
    path = tmp_path / "p.dcproj"
    with pytest.raises(ProjectFileError, match="settings"):
        save_project(project, path)
    assert not path.exists()


def test_names_with_lone_surrogates_do_not_break_saving(tmp_path):
    # a name the API accepts must not make the whole project unsavable
    project = make_template("mlp-digits")
    project.settings["note"] = "half an emoji: \ud83d"
    path = save_project(project, tmp_path / "p.dcproj")
    assert load_project(path).settings["note"] == "half an emoji: \ud83d"


def test_old_layer_ids_still_load_as_the_new_type(tmp_path):
    data = saved_dict()
    i = node_index(data, "Dense")
    data["networks"][0]["nodes"][i]["type"] = "Linear"  # Dense's legacy id
    loaded = load_project(write_json(tmp_path / "old.dcproj", data))
    node = loaded.main.node(data["networks"][0]["nodes"][i]["id"])
    assert node.type_id == "Dense" and node.params["units"] == 128


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.dcproj"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(saved_dict()).encode())
    assert load_project(path).name == "MLP on digits"


def test_unknown_extra_keys_are_ignored(tmp_path):
    data = saved_dict()
    data["written_by"] = "a plug-in"
    data["networks"][0]["nodes"][0]["colour"] = "#ff0000"
    assert load_project(write_json(tmp_path / "p.dcproj", data)).main.nodes[0].name == "image"


# -- migrations -------------------------------------------------------------------------------------
def test_migration_chain_upgrades_old_files_step_by_step(tmp_path, monkeypatch):
    calls: list[str] = []

    def v1_to_v2(data):  # pretend v2 renamed each node's "type" key to "layer"
        calls.append("1->2")
        for net in data["networks"]:
            for node in net["nodes"]:
                node["layer"] = node.pop("type")
        data.setdefault("settings", {})["migrated"] = ["1->2"]
        return data

    def v2_to_v3(data):  # ...and v3 renamed it back and moved positions into "pos" dicts
        calls.append("2->3")
        assert data["format_version"] == 2, "steps see the version they upgrade from"
        for net in data["networks"]:
            for node in net["nodes"]:
                node["type"] = node.pop("layer")
        data["settings"]["migrated"].append("2->3")
        return data

    v1 = saved_dict("cnn-digits")
    monkeypatch.setattr(pf, "FORMAT_VERSION", 3)
    monkeypatch.setattr(pf, "MIGRATIONS", {1: v1_to_v2, 2: v2_to_v3})

    loaded = load_project(write_json(tmp_path / "v1.dcproj", v1))
    assert calls == ["1->2", "2->3"]
    assert loaded.settings["migrated"] == ["1->2", "2->3"]
    assert [n.type_id for n in loaded.main.nodes] == [n["type"] for n in v1["networks"][0]["nodes"]]
    assert_same_network(make_template("cnn-digits").main, loaded.main)

    # a v2 file runs only the last step, and saving writes the current version
    calls.clear()
    v2 = v1_to_v2(copy.deepcopy(v1))
    v2["format_version"] = 2
    calls.clear()
    loaded2 = load_project(write_json(tmp_path / "v2.dcproj", v2))
    assert calls == ["2->3"]
    saved = json.loads(save_project(loaded2, tmp_path / "v3.dcproj").read_text(encoding="utf-8"))
    assert saved["format_version"] == 3

    # a file from the future is refused with a message saying what to do
    v1["format_version"] = 4
    with pytest.raises(ProjectFileError, match=r"format_version.*newer.*update DeepCanvas"):
        load_project(write_json(tmp_path / "v4.dcproj", v1))


# -- weights ------------------------------------------------------------------------------------
def _trained_like(project: Project):
    """A compiled module whose weights and BatchNorm statistics differ from any fresh compile."""
    import torch

    module = graph.compile_network(project, seed=123)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        module.train()
        module(*graph.sample_inputs(project, batch_size=8, seed=9))  # moves BatchNorm running stats
    return module.eval()


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_weights_round_trip_through_safetensors(tmp_path, name):
    import torch

    from graph.compiler import as_tuple

    project = make_template(name)
    trained = _trained_like(project)
    path = save_project(project, tmp_path / "p.dcproj", weights={project.main.name: trained.state_dict()})
    wpath = weights_path(path)
    assert wpath == tmp_path / "p.safetensors" and wpath.is_file()
    # safetensors: an 8-byte little-endian header length, then a JSON header; no pickle opcodes
    raw = wpath.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert "__metadata__" in header

    fresh_project = load_project(path)
    weights = load_weights(path)
    assert list(weights) == [project.main.name]
    fresh = graph.compile_network(fresh_project, seed=0).eval()
    x = graph.sample_inputs(fresh_project, batch_size=4, seed=1)
    def same(a, b):
        return all(torch.equal(u, v) for u, v in zip(as_tuple(a), as_tuple(b), strict=True))

    with torch.no_grad():
        assert not same(fresh(*x), trained(*x))
        fresh.load_state_dict(weights[project.main.name], strict=True)
        assert same(fresh(*x), trained(*x))


def test_weights_of_several_networks_keep_their_names(tmp_path):
    project = make_template("mlp-digits")
    other = make_template("cnn-digits")
    other.rename_network("main", "encoder/1 ✓")
    project.add_network(other.main)
    a = graph.compile_network(project, "main", seed=1).state_dict()
    b = graph.compile_network(project, "encoder/1 ✓", seed=2).state_dict()
    save_project(project, tmp_path / "p.dcproj", weights={"main": a, "encoder/1 ✓": b})
    loaded = load_weights(tmp_path / "p.safetensors")
    assert list(loaded) == ["main", "encoder/1 ✓"]
    for got, want in ((loaded["main"], a), (loaded["encoder/1 ✓"], b)):
        assert sorted(got) == sorted(want)
        assert all(got[k].dtype == want[k].dtype and got[k].equal(want[k]) for k in want)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    import torch

    project = make_template("cnn-digits")
    path = save_project(project, tmp_path / "p.dcproj",
                        weights={"main": graph.compile_network(project).state_dict()})

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle must never be used for project files")

    for owner, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(owner, name, forbidden)
    load_project(path)
    assert load_weights(path)["main"]


def test_a_pickle_posing_as_weights_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    (tmp_path / "p.safetensors").write_bytes(pickle.dumps({"main": Evil()}))
    with pytest.raises(ProjectFileError, match="cannot read weights"):
        load_weights(tmp_path / "p.dcproj")
    assert not marker.exists()


@pytest.mark.parametrize("content", [None, b"", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}     ", b"garbage"])
def test_missing_or_broken_weights_give_a_project_file_error(tmp_path, content):
    if content is not None:
        (tmp_path / "p.safetensors").write_bytes(content)
    with pytest.raises(ProjectFileError, match="weights"):
        load_weights(tmp_path / "p.dcproj")


def test_weights_with_bad_network_metadata_are_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    save_file({"0/w": torch.zeros(2)}, str(tmp_path / "a.safetensors"), metadata={"networks": "5"})
    save_file({"3/w": torch.zeros(2)}, str(tmp_path / "b.safetensors"), metadata={"networks": '["main"]'})
    for name in ("a", "b"):
        with pytest.raises(ProjectFileError, match="cannot read weights"):
            load_weights(tmp_path / f"{name}.safetensors")


# -- atomic saves -------------------------------------------------------------------------------
class Boom(Exception):
    pass


def _old_file(tmp_path: Path) -> tuple[Path, bytes]:
    path = save_project(make_template("mlp-digits"), tmp_path / "p.dcproj")
    return path, path.read_bytes()


def _litter(tmp_path: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name not in keep)


def test_crash_while_writing_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path, before = _old_file(tmp_path)
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            raise Boom("disk full half way")

    monkeypatch.setattr(pf.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(Boom):
        save_project(make_template("cnn-digits"), path)
    assert path.read_bytes() == before
    assert _litter(tmp_path, {"p.dcproj"}) == []
    assert load_project(path).name == "MLP on digits"


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_crash_before_the_rename_leaves_the_old_file_intact(tmp_path, monkeypatch, step):
    path, before = _old_file(tmp_path)

    def fail(*args, **kwargs):
        raise Boom(step)

    monkeypatch.setattr(pf.os, step, fail)
    with pytest.raises(Boom):
        save_project(make_template("cnn-digits"), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _litter(tmp_path, {"p.dcproj"}) == []


def test_interrupt_during_a_first_save_leaves_nothing_behind(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pf.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_project(make_template("mlp-digits"), tmp_path / "new.dcproj")
    monkeypatch.undo()
    assert _litter(tmp_path, set()) == []


def test_crash_while_saving_weights_keeps_old_project_and_weights(tmp_path, monkeypatch):
    project = make_template("mlp-digits")
    old_weights = graph.compile_network(project, seed=1).state_dict()
    path = save_project(project, tmp_path / "p.dcproj", weights={"main": old_weights})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(*args, **kwargs):
        raise Boom

    monkeypatch.setattr(pf.os, "replace", fail)
    with pytest.raises(Boom):
        save_project(project, path, weights={"main": graph.compile_network(project, seed=2).state_dict()})
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    reloaded = load_weights(path)["main"]
    assert all(reloaded[k].equal(old_weights[k]) for k in old_weights)


def test_saving_keeps_the_file_permissions(tmp_path):
    path, _ = _old_file(tmp_path)
    os.chmod(path, 0o640)
    save_project(make_template("cnn-digits"), path)
    assert path.stat().st_mode & 0o777 == 0o640
    old = os.umask(0o022)
    try:
        fresh = save_project(make_template("cnn-digits"), tmp_path / "fresh.dcproj")
    finally:
        os.umask(old)
    assert fresh.stat().st_mode & 0o777 == 0o644  # like any other file the user creates, not 0600


# -- broken files -------------------------------------------------------------------------------
def _nodes(d):
    return d["networks"][0]["nodes"]


def _edges(d):
    return d["networks"][0]["edges"]


def _set_param(type_id, key, value):
    def mutate(d):
        _nodes(d)[node_index(d, type_id)]["params"][key] = value
    return mutate


def _add_edge(**kw):
    def mutate(d):
        _edges(d).append({"id": "e99", "source_port": "out", "target_port": "in", **kw})
    return mutate


# (mutation of the mlp-digits file dict, text the message must contain)
BROKEN_DICTS = {
    "top level is a list": (lambda d: [d], "top level: expected an object"),
    "not a DeepCanvas file": (lambda d: {**d, "format": "other-app"}, "format: this is not a DeepCanvas project"),
    "missing format_version": (lambda d: {k: v for k, v in d.items() if k != "format_version"},
                               "missing required key 'format_version'"),
    "format_version as text": (lambda d: {**d, "format_version": "1"}, "format_version: expected a whole number"),
    "newer format version": (lambda d: {**d, "format_version": pf.FORMAT_VERSION + 1},
                             "format_version: the file was written by a newer DeepCanvas"),
    "format version 0": (lambda d: {**d, "format_version": 0}, "format_version"),
    "missing networks": (lambda d: {k: v for k, v in d.items() if k != "networks"},
                         "missing required key 'networks'"),
    "no networks": (lambda d: {**d, "networks": []}, "networks: a project needs at least one network"),
    "networks is an object": (lambda d: {**d, "networks": {}}, "networks: expected a list"),
    "settings is a list": (lambda d: {**d, "settings": [1]}, "settings: expected an object"),
    "project name blank": (lambda d: {**d, "name": "  \n "}, "name: a name cannot be empty"),
    "duplicate network names": (lambda d: {**d, "networks": d["networks"] * 2},
                                "networks[1].name: a network named 'main' already exists"),
    "missing node id": (lambda d: _nodes(d)[2].pop("id") and None, "networks[0].nodes[2]: missing required key 'id'"),
    "node id a number": (lambda d: _nodes(d)[2].__setitem__("id", 3), "networks[0].nodes[2].id: expected text"),
    "duplicate node ids": (lambda d: _nodes(d)[3].__setitem__("id", _nodes(d)[2]["id"]),
                           "networks[0].nodes[3]: node id 'n3' is already used"),
    "node is a string": (lambda d: _nodes(d).__setitem__(1, "Flatten"), "networks[0].nodes[1]: expected an object"),
    "unknown layer type": (lambda d: _nodes(d)[2].__setitem__("type", "Dense3000"),
                           "networks[0].nodes[2].type: unknown layer type 'Dense3000'"),
    "layer from the future": (lambda d: _nodes(d)[2].__setitem__("type_version", 99),
                              "networks[0].nodes[2].type_version"),
    "units as words": (_set_param("Dense", "units", "many"), "networks[0].nodes[2].params.units: Units must be"),
    "units zero": (_set_param("Dense", "units", 0), "networks[0].nodes[2].params.units: Units must be at least 1"),
    "units a list": (_set_param("Dense", "units", [1, 2]), "networks[0].nodes[2].params.units"),
    "units huge": (_set_param("Dense", "units", 10**30), "networks[0].nodes[2].params.units"),
    "dropout p huge int": (_set_param("Dropout", "p", 10**400), "networks[0].nodes[4].params.p: the number"),
    "bias null": (_set_param("Dense", "bias", None), "networks[0].nodes[2].params.bias"),
    "unknown param": (_set_param("Dense", "colour", "red"),
                      "networks[0].nodes[2].params.colour: Dense has no parameter 'colour' (it has bias, units)"),
    "param name of a megabyte": (_set_param("Dense", "u" * 1_000_000, 1), "networks[0].nodes[2].params: Dense has no"),
    "type name of a megabyte": (lambda d: _nodes(d)[2].__setitem__("type", "D" * 1_000_000),
                                "networks[0].nodes[2].type: unknown layer type 'DDDD"),
    "units text of a megabyte": (_set_param("Dense", "units", "9" * 1_000_000), "networks[0].nodes[2].params.units"),
    "input shape with text": (_set_param("Input", "shape", [1, "eight", 8]), "networks[0].nodes[0].params.shape"),
    "params a list": (lambda d: _nodes(d)[2].__setitem__("params", [128]), "networks[0].nodes[2].params: expected"),
    "node name empty": (lambda d: _nodes(d)[2].__setitem__("name", ""), "networks[0].nodes[2]: a name cannot be"),
    "node name too long": (lambda d: _nodes(d)[2].__setitem__("name", "x" * 500), "networks[0].nodes[2]"),
    "position text": (lambda d: _nodes(d)[2].__setitem__("position", "left"), "networks[0].nodes[2].position"),
    "position 3-D": (lambda d: _nodes(d)[2].__setitem__("position", [1, 2, 3]), "networks[0].nodes[2].position"),
    "position huge": (lambda d: _nodes(d)[2].__setitem__("position", [10**400, 0]), "networks[0].nodes[2].position"),
    "edge into itself": (_add_edge(source="n3", target="n3"), "networks[0].edges[8]: cannot connect Dense"),
    "cycle": (lambda d: _edges(d).__setitem__(1, {**_edges(d)[1], "source": "n5"}),
              # e2 now runs dropout -> dense; the loop closes when e4 (relu -> dropout) is read
              "networks[0].edges[3]: connecting ReLU 'relu_1' to Dropout 'dropout_1' would create a loop"),
    "dangling target": (_add_edge(source="n3", target="n404"),
                        "networks[0].edges[8].target: refers to node 'n404', which is not in the network"),
    "dangling source": (_add_edge(source="ghost", target="n3"), "networks[0].edges[8].source: refers to node 'ghost'"),
    "unknown port": (_add_edge(source="n3", target="n4", target_port="side"),
                     "networks[0].edges[8]: ReLU 'relu_1' has no input port 'side'"),
    "port already fed": (_add_edge(source="n2", target="n4"),
                         "networks[0].edges[8]: input 'in' of ReLU 'relu_1' is already fed by Dense 'dense_1'"),
    "duplicate edge ids": (lambda d: _edges(d)[1].__setitem__("id", _edges(d)[0]["id"]),
                           "networks[0].edges[1]: edge id 'e1' is already used"),
    "edge missing target": (lambda d: _edges(d)[0].pop("target") and None, "networks[0].edges[0]: missing required key"),
    "edge id of 5000 digits": (lambda d: _edges(d)[0].__setitem__("id", "e" + "9" * 5000), "networks[0].edges[0].id"),
    "lone surrogate in a name": (lambda d: _nodes(d)[2].__setitem__("name", "fc\udc80"), "networks[0].nodes[2].name"),
}


@pytest.mark.parametrize("case", list(BROKEN_DICTS))
def test_broken_file_raises_one_error_naming_the_place(tmp_path, case):
    mutate, expected = BROKEN_DICTS[case]
    data = saved_dict()
    assert [n["type"] for n in _nodes(data)[:5]] == ["Input", "Flatten", "Dense", "ReLU", "Dropout"]
    result = mutate(data)
    if result is not None:
        data = result
    path = write_json(tmp_path / "broken.dcproj", data)
    with pytest.raises(ProjectFileError) as info:
        load_project(path)
    assert type(info.value) is ProjectFileError
    message = str(info.value)
    assert message.startswith("broken.dcproj: "), message
    assert len(message) < 500, "a message must fit in a dialog"
    assert expected in message, message


@pytest.mark.parametrize(("content", "expected"), [
    (b'{"format_version": 1, "networks": [', "broken.dcproj is not valid JSON: Expecting value at line 1"),
    (b"", "broken.dcproj is not valid JSON"),
    (b"\xff\xfe\x00{}", "broken.dcproj is not a text file (byte 0 is not UTF-8)"),
    (b'{"format_version": 1, "x": NaN}', "NaN"),
    (b'{"format_version": 1, "x": -Infinity}', "Infinity"),
    (b'{"format_version": ' + b"7" * 5000 + b"}", "too many digits"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"PK\x03\x04 a zip, not a project", "broken.dcproj is not"),
])
def test_unreadable_bytes_give_a_clear_error(tmp_path, content, expected):
    path = tmp_path / "broken.dcproj"
    path.write_bytes(content)
    with pytest.raises(ProjectFileError, match=None) as info:
        load_project(path)
    assert expected in str(info.value)


def test_missing_file_and_directory_give_a_clear_error(tmp_path):
    with pytest.raises(ProjectFileError, match="no such project file: .*nope.dcproj"):
        load_project(tmp_path / "nope.dcproj")
    with pytest.raises(ProjectFileError, match="cannot read .*: Is a directory"):
        load_project(tmp_path)


# -- fuzzing ------------------------------------------------------------------------------------
TEMPLATE_DICTS = [saved_dict(n) for n in TEMPLATE_NAMES]

json_scalars = (st.none() | st.booleans() | st.integers() | st.sampled_from([0, -1, 1, 2**63, -(2**63), 10**400])
                | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e308, -1e-308, 0.5])
                | st.text(max_size=30) | st.sampled_from(["", " ", "n1", "e1", "out", "in", "Dense", "query",
                                                          "main", "int64", "\x00", "a" * 300]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _get(data, path):
    for key in path:
        data = data[key]
    return data


@st.composite
def mutated_files(draw):
    data = copy.deepcopy(draw(st.sampled_from(TEMPLATE_DICTS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(data))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "delete", "duplicate", "swap", "extreme"]))
        if not path:
            if op == "replace":
                data = draw(json_values)
            continue
        parent, key = _get(data, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(json_values)
        elif op == "delete":
            del parent[key]
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(parent[key]))
        elif op == "swap":
            other = draw(st.sampled_from(paths))
            if other and other[: len(path)] != path and path[: len(other)] != other:
                other_parent = _get(data, other[:-1])
                parent[key], other_parent[other[-1]] = copy.deepcopy(other_parent[other[-1]]), parent[key]
        elif op == "extreme":
            parent[key] = draw(st.sampled_from([10**400, -(10**5000), -(10**30), 2**63, 1e308, -1e308, 0, -1,
                                                "9" * 5000, "x" * 100_000, [10**400], [1] * 10_000, ["7" * 300],
                                                [[3, 3]], [], {}, None, True, "\udc80"]))
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_files())
def test_fuzzed_files_raise_only_project_file_error(data):
    try:
        project = project_from_dict(data)
    except ProjectFileError as exc:
        assert str(exc).strip()
        assert len(str(exc)) < 700, "a message must fit in a dialog, whatever the file holds"
        return
    # whatever loads is a project the editor can work with: analyse it, save it, load it again
    for net in project.networks:
        graph.analyze(net)
        graph.summarize(net)
    saved = project_to_dict(project)
    again = project_from_dict(json.loads(pf._encode(saved)))
    assert project_to_dict(again) == saved  # (positions are rounded to 2 decimals when saved)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.builds(
    lambda raw, cut, junk: raw[:cut] + junk + raw[cut + len(junk):],
    st.sampled_from([json.dumps(d).encode() for d in TEMPLATE_DICTS]), st.integers(0, 3000),
    st.binary(min_size=1, max_size=8)))
def test_fuzzed_bytes_raise_only_project_file_error(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.dcproj"
        path.write_bytes(content)
        try:
            load_project(path)
        except ProjectFileError:
            pass


def test_the_documented_example_is_a_valid_project(tmp_path):
    doc = (Path(__file__).parents[2] / "docs" / "project-format.md").read_text(encoding="utf-8")
    example = doc.split("```json", 1)[1].split("```", 1)[0]
    project = load_project(write_json(tmp_path / "iris.dcproj", json.loads(example)))
    assert graph.analyze(project.main).ok
    assert str(graph.analyze(project.main).nodes["n3"].output) == "N×3"
    assert project.settings["dataset"] == {"kind": "iris"}


def test_the_error_keeps_the_place_as_an_attribute(tmp_path):
    data = saved_dict()
    _nodes(data)[2]["params"]["units"] = 0
    with pytest.raises(ProjectFileError) as info:
        load_project(write_json(tmp_path / "p.dcproj", data))
    assert info.value.where == "networks[0].nodes[2].params.units"


def test_nothing_in_a_file_is_executed(tmp_path, monkeypatch):
    import subprocess

    import torch

    monkeypatch.chdir(tmp_path)  # a short relative marker keeps the payload within the name limit
    marker = tmp_path / "pwned"
    payload = "__import__('os').system('touch pwned')"
    data = saved_dict("cnn-digits")
    data["name"] = payload
    data["networks"][0]["name"] = payload
    for node in _nodes(data):
        node["name"] = payload
    data["settings"]["dataset"]["kind"] = payload
    data["settings"]["__reduce__"] = ["os.system", ["touch pwned"]]

    def forbidden(*args, **kwargs):
        raise AssertionError("a project file made DeepCanvas run a command")

    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    project = load_project(write_json(tmp_path / "p.dcproj", data))
    assert project.main.nodes[3].name == payload  # kept as plain text
    assert graph.analyze(project.main).ok
    module = graph.compile_network(project).eval()
    with torch.no_grad():
        module(*graph.sample_inputs(project))
    namespace = {"__name__": "exported"}
    exec(compile(graph.export_python(project), "<exported>", "exec"), namespace)
    namespace["build_model"]()
    assert not marker.exists()
