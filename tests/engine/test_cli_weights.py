"""`python main.py load-weights PROJECT SOURCE` as a person at a terminal uses it: weights from a
.safetensors file, a .pt state_dict or another project fitted layer by layer, saved beside the
project, with a report of what matched; a clear exit 1 when nothing fits or the file is not weights."""

from __future__ import annotations

import torch
from safetensors.torch import save_file

import graph
from graph.builder import NetworkBuilder
from graph.project_file import load_weights
from tests.graph import test_cli

run_main = test_cli.run_main  # the in-process CLI fixture, shared


def _mlp(hidden: int = 5, classes: int = 3):
    b = NetworkBuilder()
    x = b.input((6,), name="features")
    b.output(b.chain(x, ("Dense", {"units": hidden}), "ReLU", ("Dense", {"units": classes})), name="scores")
    return b.project("small mlp")


def _filled(project, value: float) -> dict[str, torch.Tensor]:
    return {k: torch.full_like(v, value) for k, v in graph.compile_network(project, seed=0).state_dict().items()}


def test_safetensors_weights_fit_layer_by_layer_and_the_report_says_what(run_main, tmp_path):
    graph.save_project(_mlp(), tmp_path / "p.dcproj")
    source = _filled(_mlp(classes=4), 0.25)            # dense_2 has another size
    source["conv_9.weight"] = torch.ones(2, 2)         # a layer the network does not have
    save_file(source, str(tmp_path / "other.safetensors"))
    code, out, err = run_main("load-weights", tmp_path / "p.dcproj", tmp_path / "other.safetensors")
    assert code == 0, err
    assert "1 of 2 layers match" in out
    assert "matched (1): dense_1" in out
    assert "changed size (1): dense_2 (4×5 → 3×5)" in out
    assert "unused from the source (1): conv_9" in out
    assert "initial weights (seed 0)" in out
    saved = load_weights(tmp_path / "p.safetensors")["main"]
    initial = graph.compile_network(_mlp(), seed=0).state_dict()
    assert saved.keys() == initial.keys()              # whole, so every command can load it
    assert torch.equal(saved["dense_1.weight"], source["dense_1.weight"])
    assert torch.equal(saved["dense_2.weight"], initial["dense_2.weight"])
    # the exports take the file as it is
    code, out, err = run_main("export", tmp_path / "p.dcproj", "--format", "torchscript")
    assert code == 0 and "saved weights" in out, err


def test_a_state_dict_with_a_wrapper_prefix_and_another_project_both_load(run_main, tmp_path):
    project = _mlp()
    kept = _filled(project, 0.5)
    graph.save_project(project, tmp_path / "p.dcproj", weights={"main": kept})
    # a DDP checkpoint of only the first layer: the other layer keeps the saved weights
    first = {f"module.{k}": torch.full_like(v, -1.0) for k, v in kept.items() if k.startswith("dense_1.")}
    torch.save(first, tmp_path / "ddp.pt")
    code, out, err = run_main("load-weights", tmp_path / "p.dcproj", tmp_path / "ddp.pt")
    assert code == 0, err
    assert "prefix taken off the source's names: module." in out
    assert "missing from the source (1): dense_2" in out and "keep the weights saved beside the project" in out
    saved = load_weights(tmp_path / "p.safetensors")["main"]
    assert torch.equal(saved["dense_1.weight"], torch.full_like(kept["dense_1.weight"], -1.0))
    assert torch.equal(saved["dense_2.weight"], kept["dense_2.weight"])
    # another project (its weights beside it) fits whole
    graph.save_project(_mlp(), tmp_path / "fresh.dcproj")
    code, out, err = run_main("load-weights", tmp_path / "fresh.dcproj", tmp_path / "p.dcproj")
    assert code == 0 and "all 2 layers match" in out, err
    assert torch.equal(load_weights(tmp_path / "fresh.safetensors")["main"]["dense_2.weight"],
                       kept["dense_2.weight"])


def test_nothing_fitting_or_no_weights_at_all_exits_1_and_writes_nothing(run_main, tmp_path):
    graph.save_project(_mlp(), tmp_path / "p.dcproj")
    save_file(_filled(_mlp(hidden=7, classes=4), 1.0), str(tmp_path / "other.safetensors"))
    code, out, err = run_main("load-weights", tmp_path / "p.dcproj", tmp_path / "other.safetensors")
    assert code == 1 and out == ""
    assert "None of the layers" in err and "dense_1" in err
    (tmp_path / "notes.pt").write_text("not weights")
    code, _, err = run_main("load-weights", tmp_path / "p.dcproj", tmp_path / "notes.pt")
    assert code == 1 and "notes.pt" in err and "Traceback" not in err
    code, _, err = run_main("load-weights", tmp_path / "p.dcproj", tmp_path / "other.safetensors",
                            "--network", "critic")
    assert code == 2 and "no network named 'critic'" in err
    assert not (tmp_path / "p.safetensors").exists()
