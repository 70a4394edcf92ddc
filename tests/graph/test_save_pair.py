"""The project file and its weights file stay one pair across a save killed at any moment, and
what a killed save leaves behind is finished or removed by the next save or open."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import graph.project_file as pf
from graph import Network, Project, ProjectFileError, load_project, save_project
from graph import project_pair as pair
from graph.project_file import load_weights, weights_path

ROOT = Path(__file__).resolve().parents[2]
#: kills per run of the real kill test (more by hand: DEEPCANVAS_KILL_TRIALS=200)
KILL_TRIALS = int(os.environ.get("DEEPCANVAS_KILL_TRIALS", "15"))


def _project(tag: int) -> Project:
    project = Project(name="pair", networks=[Network("main")])
    project.settings["save"] = tag
    return project


def _weights(tag: int, size: int = 64) -> dict:
    return {"main": {"w": torch.full((size,), tag, dtype=torch.int64)}}


def _tags(path: Path) -> tuple[int, int]:
    """(the save the JSON comes from, the save its weights come from)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    w = load_weights(path)["main"]["w"]
    assert bool((w == w[0]).all()), "weights mixed from two saves"
    return data["settings"]["save"], int(w[0])


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_save_with_weights_leaves_exactly_the_pair(tmp_path: Path) -> None:
    path = tmp_path / "p.dcproj"
    for tag in (1, 2):
        save_project(_project(tag), path, weights=_weights(tag))
        assert _listing(tmp_path) == ["p.dcproj", "p.safetensors"]
        assert _tags(path) == (tag, tag)
    save_id = json.loads(path.read_text())["weights"]["save_id"]
    assert pair.weights_save_id(tmp_path / "p.safetensors") == save_id
    save_project(_project(3), path)          # without weights: the saved ones stay its own
    assert json.loads(path.read_text())["weights"]["save_id"] == save_id
    assert load_weights(path)["main"]["w"][0] == 2


def test_killed_after_the_json_switched_the_new_pair_is_read_and_then_settled(tmp_path, monkeypatch):
    path = save_project(_project(1), tmp_path / "p.dcproj", weights=_weights(1))

    def killed(*args: object) -> None:
        raise SystemExit("killed")             # the process died between the JSON and the rename

    monkeypatch.setattr(pf.pair, "settle", killed)
    with pytest.raises(SystemExit):
        save_project(_project(2), path, weights=_weights(2))
    monkeypatch.undo()
    assert len(_listing(tmp_path)) == 3          # the staged weights beside the old ones
    assert weights_path(path).name != "p.safetensors"
    assert _tags(path) == (2, 2)                 # new JSON meets the new (staged) weights
    load_project(path)                           # opening finishes the save
    assert _listing(tmp_path) == ["p.dcproj", "p.safetensors"]
    assert _tags(path) == (2, 2)


def test_killed_before_the_json_switched_the_old_pair_stays_and_the_next_save_cleans(tmp_path, monkeypatch):
    path = save_project(_project(1), tmp_path / "p.dcproj", weights=_weights(1))
    real = pf.atomic_write

    def dies_on_the_json(target: Path, data: bytes) -> None:
        if Path(target).suffix == ".dcproj":
            raise SystemExit("killed")
        real(target, data)

    monkeypatch.setattr(pf, "atomic_write", dies_on_the_json)
    with pytest.raises(SystemExit):
        save_project(_project(2), path, weights=_weights(2))
    monkeypatch.undo()
    assert _tags(path) == (1, 1)
    # what a SIGKILL leaves: a staged weights file nobody names and half-written temporary files
    stray = pair.staged_weights_path(path, pair.new_save_id())
    pf.save_weights(_weights(9), stray, stray.name.split(".")[1]).__exit__()
    (tmp_path / ".p.dcproj.abc123.tmp").write_bytes(b"{half")
    (tmp_path / ".p.safetensors.x1.tmp").write_bytes(b"half")
    (tmp_path / f".{stray.name}.x2.tmp").write_bytes(b"half")
    save_project(_project(3), path, weights=_weights(3))
    assert _listing(tmp_path) == ["p.dcproj", "p.safetensors"]
    assert _tags(path) == (3, 3)


def test_cleaning_spares_files_of_a_save_in_progress_and_of_other_projects(tmp_path: Path) -> None:
    path = save_project(_project(1), tmp_path / "p.dcproj", weights=_weights(1))
    others = ["p.0123456789abcdef.safetensors",   # weights of a project named "p.0123456789abcdef"
              "p.notes.txt", ".q.dcproj.1.tmp", "q.dcproj"]
    for name in others:
        (tmp_path / name).write_bytes(b"someone else's")
    staged = pair.staged_weights_path(path, "fedcba9876543210")
    with pf.save_weights(_weights(5), staged, "fedcba9876543210"):   # another process is saving
        load_project(path)
        assert staged.exists()
    load_project(path)
    assert not staged.exists()                    # no longer in use: a leftover
    assert _listing(tmp_path) == sorted(["p.dcproj", "p.safetensors", *others])


def test_weights_from_another_save_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = save_project(_project(1), tmp_path / "p.dcproj", weights=_weights(1))
    other = save_project(_project(2), tmp_path / "other" / "p.dcproj", weights=_weights(2))
    os.replace(other.with_suffix(".safetensors"), path.with_suffix(".safetensors"))
    with pytest.raises(ProjectFileError, match="another save"):
        load_weights(path)
    assert load_weights(path.with_suffix(".safetensors"))["main"]["w"][0] == 2   # by name: fine


def test_a_malformed_save_id_names_its_place(tmp_path: Path) -> None:
    path = save_project(_project(1), tmp_path / "p.dcproj")
    data = json.loads(path.read_text())
    data["weights"] = {"save_id": "../../etc"}
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectFileError, match=r"weights\.save_id"):
        load_project(path)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill test forks (POSIX)")
def test_a_save_killed_at_random_moments_leaves_a_consistent_pair(tmp_path: Path) -> None:
    """SIGKILL a process that saves a project with 2 MiB of weights in a loop, at random moments;
    after each kill the JSON and the weights must come from the same save, and opening the
    project must leave exactly the pair."""
    path = tmp_path / "p.dcproj"
    save_project(_project(0), path, weights=_weights(0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("save_pair_child.py"))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    rng = random.Random(1234)
    littered = 0
    try:
        assert server.stdin is not None and server.stdout is not None
        for trial in range(KILL_TRIALS):
            first = (trial + 1) * 1_000_000
            server.stdin.write(f"{path} {rng.uniform(0.0, 0.25):.4f} {first}\n")
            server.stdin.flush()
            assert server.stdout.readline().strip() == "killed"
            json_tag, weights_tag = _tags(path)
            assert json_tag == weights_tag, f"trial {trial}: JSON of save {json_tag}, weights of save {weights_tag}"
            littered += _listing(tmp_path) != ["p.dcproj", "p.safetensors"]
            load_project(path)
            assert _listing(tmp_path) == ["p.dcproj", "p.safetensors"], f"trial {trial}"
            assert _tags(path) == (json_tag, weights_tag)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    print(f"{KILL_TRIALS} kills, {littered} left files to clean, all pairs consistent")
