"""The user's block library on disk: save, list, import into another project (reusing identical
definitions, renaming clashing ones and the references to them), and broken files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from graph.block_library import (
    ENV_FOLDER,
    SUFFIX,
    default_folder,
    import_saved_block,
    list_saved_blocks,
    merge_blocks,
    save_block,
)
from graph.builder import NetworkBuilder
from graph.builtin_blocks import ensure_builtin
from graph.document import Network, Project
from graph.errors import ProjectFileError
from graph.project_file import blocks_to_list, project_from_dict, project_to_dict
from graph.shapes import analyze


def empty() -> Project:
    return Project(networks=[Network("main")])


def staged() -> Project:
    """A Stage block that holds two Residual blocks (a block with a dependency)."""
    project = empty()
    library = project.blocks
    ensure_builtin(library, "residual")
    b = NetworkBuilder("Stage", network=library.create("Stage", project.main.copy("Stage")).network)
    x = b.input((16, 8, 8), name="x")
    b.output(b.block("Residual", b.block("Residual", x)))
    library.expose("Stage", library.get("Stage").network.block_nodes()[0].id, "width", "width")
    main = NetworkBuilder("main", network=project.main)
    main.output(main.block("Stage", main.input((16, 8, 8))))
    return project


def test_save_list_and_import_round_trip(tmp_path: Path) -> None:
    project = staged()
    path = save_block(project.blocks, "Stage", tmp_path)
    assert path == tmp_path / f"Stage{SUFFIX}"
    data = json.loads(path.read_text())
    assert data["format"] == "deepcanvas-block" and data["block"] == "Stage"
    assert [b["name"] for b in data["blocks"]] == ["Residual", "Stage"]      # what it uses comes first
    [saved] = list_saved_blocks(tmp_path)
    assert saved.name == "Stage" and saved.uses == ("Residual",)

    other = empty()
    assert import_saved_block(other.blocks, path) == "Stage"
    assert other.blocks.names == ["Residual", "Stage"]
    assert blocks_to_list(other.blocks, ["Stage"]) == blocks_to_list(project.blocks, ["Stage"])
    b = NetworkBuilder("main", network=other.main)
    b.output(b.block("Stage", b.input((16, 8, 8)), width=8))
    assert analyze(other.main).ok
    # importing again reuses both identical definitions
    assert import_saved_block(other.blocks, path) == "Stage" and len(other.blocks) == 2
    # and the project with the imported block saves and loads like any other
    assert project_to_dict(project_from_dict(project_to_dict(other))) == project_to_dict(other)


def test_a_clash_gets_a_new_name_and_references_follow(tmp_path: Path) -> None:
    path = save_block(staged().blocks, "Stage", tmp_path)
    other = empty()
    mine = ensure_builtin(other.blocks, "residual")            # same name, different inside
    mine.network.set_param(mine.network.find("conv_1").id, "bias", False)
    name = import_saved_block(other.blocks, path)
    assert name == "Stage" and other.blocks.names == ["Residual", "Residual 2", "Stage"]
    assert {n.params["block"] for n in other.blocks.get("Stage").network.block_nodes()} == {"Residual 2"}
    assert other.blocks.get("Residual 2").origin == ""           # the built-in keeps one definition
    # a second import now finds everything identical
    assert import_saved_block(other.blocks, path) == "Stage" and len(other.blocks) == 3
    # a different Stage under the same name comes in beside it
    other.blocks.get("Stage").description = "changed"      # the description alone does not count
    assert import_saved_block(other.blocks, path) == "Stage"
    stage = other.blocks.get("Stage").network
    stage.rename_node(stage.outputs()[0].id, "y")
    assert import_saved_block(other.blocks, path) == "Stage 2"
    assert len(other.blocks) == 4


def test_broken_files_are_skipped_with_a_warning(tmp_path: Path, caplog) -> None:
    save_block(staged().blocks, "Stage", tmp_path)
    (tmp_path / f"bad json{SUFFIX}").write_text("{")
    (tmp_path / f"other{SUFFIX}").write_text(json.dumps({"format": "deepcanvas-project", "format_version": 1}))
    good = json.loads((tmp_path / f"Stage{SUFFIX}").read_text())
    good["blocks"][0]["network"]["nodes"][1]["type"] = "NoSuchLayer"
    (tmp_path / f"broken{SUFFIX}").write_text(json.dumps(good))
    newer = dict(good, format_version=99)
    (tmp_path / f"newer{SUFFIX}").write_text(json.dumps(newer))
    (tmp_path / "notes.txt").write_text("not a block")
    with caplog.at_level(logging.WARNING, logger="graph.block_library"):
        saved = list_saved_blocks(tmp_path)
    assert [s.name for s in saved] == ["Stage"]
    text = caplog.text
    assert "bad json" in text and "not a DeepCanvas block" in text and "NoSuchLayer" in text and "newer" in text
    with pytest.raises(ProjectFileError, match=r"broken\.dcblock.*blocks\[0\]\.network\.nodes\[1\]\.type"):
        import_saved_block(empty().blocks, tmp_path / f"broken{SUFFIX}")
    assert list_saved_blocks(tmp_path / "missing") == []


def test_nothing_is_added_when_one_definition_is_broken() -> None:
    entries = blocks_to_list(staged().blocks, ["Stage"])
    entries[1]["exposed"].append({"node": "n999", "param": "units", "name": "x"})
    other = empty()
    with pytest.raises(ProjectFileError, match="blocks"):
        merge_blocks(other.blocks, entries)
    assert len(other.blocks) == 0


def test_default_folder(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_FOLDER, str(tmp_path / "mine"))
    assert default_folder("/data") == tmp_path / "mine"
    monkeypatch.delenv(ENV_FOLDER)
    assert default_folder("/data") == Path("/data/blocks")
    assert default_folder().name == "blocks"


def test_file_names_are_safe(tmp_path: Path) -> None:
    project = empty()
    defn = ensure_builtin(project.blocks, "encoder")
    project.blocks.rename(defn.name, "a/b: c?")
    path = save_block(project.blocks, "a/b: c?", tmp_path)
    assert path.parent == tmp_path and path.name == f"a_b_ c{SUFFIX}"
    assert list_saved_blocks(tmp_path)[0].name == "a/b: c?"
