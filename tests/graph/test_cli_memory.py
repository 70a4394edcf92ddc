"""`python main.py validate/summary/train/export` on a network that cannot fit this machine: a
non-zero exit and a sentence naming the node, never an allocator traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import graph
from graph import save_project
from graph.memory import ENV_VAR
from graph.templates import make_template

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != ENV_VAR} | (env or {})
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def huge(tmp_path_factory) -> Path:
    """10^12 parameters (14.6 TiB to train): more than any machine these tests run on."""
    b = graph.NetworkBuilder("main")
    x = b.input((1_000_000,), name="features")
    b.output(b.chain(x, ("Dense", {"units": 1_000_000}), ("Dense", {"units": 10})))
    project = graph.Project("huge", [b.network], settings={"training": {"batch_size": 32}})
    return save_project(project, tmp_path_factory.mktemp("huge") / "huge.dcproj")


@pytest.mark.parametrize("command", [["validate"], ["summary"], ["summary", "--json"], ["train", "--epochs", "1"],
                                     ["export", "--model-only"]])
def test_a_trillion_parameter_project_is_refused_with_a_message(huge, command):
    result = cli(command[0], huge, *command[1:])
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "Dense 'dense_1' needs 14.6 TiB to train" in result.stderr, result.stderr
    assert "of memory available" in result.stderr
    if command[0] == "train":  # refused before a run folder is made
        assert not (huge.parent / "runs").exists()


def test_summary_still_prints_the_table_that_shows_where_the_memory_goes(huge):
    result = cli("summary", huge)
    assert result.returncode == 1
    assert "Total params: 1,000,011,000,010" in result.stdout
    assert any(line.startswith("Training memory (batch of 32): at least 14.6 TiB") and "TOO BIG" in line
               for line in result.stdout.splitlines())


def test_train_batch_size_option_is_what_is_checked(tmp_path):
    project = make_template("mlp-digits")
    path = save_project(project, tmp_path / "p.dcproj")
    result = cli("train", path, "--batch-size", "1000000", env={ENV_VAR: "256M"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "for a batch of 1000000" in result.stderr and f"the memory limit in {ENV_VAR} is 256.0 MiB" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_project_that_fits_validates(tmp_path):
    path = save_project(make_template("mlp-digits"), tmp_path / "p.dcproj")
    result = cli("validate", path, env={ENV_VAR: "1G"})
    assert result.returncode == 0, result.stderr
