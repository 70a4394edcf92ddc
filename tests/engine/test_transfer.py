"""Transfer learning: weights read from another project, a run, a safetensors or a state_dict file
fit into a network layer by layer, and the report names exactly what matched, what changed size,
what got nothing and what was left over."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.runs import RunRecorder
from engine.transfer import (
    CHANGED,
    MATCHED,
    MISSING,
    TransferError,
    match_run_weights,
    match_weights,
    read_weights,
    transfer_weights,
)
from graph import NetworkBuilder, Project, compile_network, project_to_dict, save_project


def digits_cnn(units: int = 10, extra_dense: bool = False, filters: int = 8, name: str = "main") -> Project:
    b = NetworkBuilder(name)
    x = b.input((1, 8, 8), name="image")
    h = b.chain(x, ("Conv2d", {"filters": filters}), "ReLU", "GlobalAvgPool")
    if extra_dense:
        h = b.add("Dense", h, units=16, name="head")
    h = b.add("Dense", h, units=units, name="classifier")
    b.output(h, name="logits")
    return b.project("CNN", {"dataset": {"kind": "digits"}})


def trained_state(project: Project, seed: int = 3) -> dict[str, torch.Tensor]:
    return compile_network(project, seed=seed).state_dict()


def test_changed_layers_are_reported_exactly_and_only_fitting_tensors_are_kept() -> None:
    source = digits_cnn(units=10)
    target = digits_cnn(units=4, extra_dense=True)         # 4 classes now, and a new hidden layer
    state = trained_state(source)
    match = match_weights(state, target, "main", "the old network")

    status = {layer.name: layer.status for layer in match.layers}
    assert status == {"conv2d_1": MATCHED, "head": MISSING, "classifier": CHANGED}
    assert match.matched == ["conv2d_1"]
    assert match.untrained == ["head"]
    assert match.changed == ["classifier (10×8 → 4×16)"]
    assert match.dropped == []
    assert set(match.state) == {"conv2d_1.weight", "conv2d_1.bias"}
    assert torch.equal(match.state["conv2d_1.weight"], state["conv2d_1.weight"])
    sentence = match.sentence()
    assert "1 of 3 layers match (conv2d_1)" in sentence
    assert "classifier (10×8 → 4×16)" in sentence and "head" in sentence
    # the matched tensors load into the new network as they are
    model = compile_network(target, seed=0)
    model.load_state_dict(match.state, strict=False)
    assert torch.equal(model.state_dict()["conv2d_1.weight"], state["conv2d_1.weight"])


def test_source_layers_without_a_node_are_listed_as_unused() -> None:
    source = digits_cnn(extra_dense=True)
    target = digits_cnn(filters=12)          # no "head" any more, and the convolution got wider
    match = match_weights(trained_state(source), target)
    assert match.dropped == ["head"]
    # the classifier's input width changes with the filters
    assert match.changed == ["conv2d_1 (8×1×3×3 → 12×1×3×3)", "classifier (10×16 → 10×12)"]
    assert not match.matched
    assert match.sentence().startswith("None of the layers of the weights fit the network 'main'")


def test_project_file_with_its_weights_beside_it(tmp_path: Path) -> None:
    source = digits_cnn()
    state = trained_state(source)
    save_project(source, tmp_path / "old.dcproj", weights={"main": state})
    match = transfer_weights(tmp_path / "old.dcproj", digits_cnn(units=3))
    assert match.source == "project old.dcproj"
    assert match.matched == ["conv2d_1"] and match.changed == ["classifier (10×8 → 3×8)"]

    # a project with several networks: the one that fits best is used, and named
    other = digits_cnn(units=5)
    save_project(source, tmp_path / "two.dcproj", weights={"encoder": trained_state(other), "main": state})
    match = transfer_weights(tmp_path / "two.dcproj", digits_cnn(units=5, name="fresh"), "fresh")
    assert match.source == "project two.dcproj, network 'encoder'"
    assert match.matched == ["conv2d_1", "classifier"]

    save_project(source, tmp_path / "bare.dcproj")
    with pytest.raises(TransferError, match="bare.dcproj has no weights saved beside it"):
        read_weights(tmp_path / "bare.dcproj")


def test_run_folder_best_and_last(tmp_path: Path) -> None:
    source = digits_cnn()
    best, last = trained_state(source, 1), trained_state(source, 2)
    recorder = RunRecorder(tmp_path / "run1")
    recorder.start({"project": project_to_dict(source)})
    recorder.save("best", best, 3)
    recorder.save("last", last, 5)
    recorder.finish({"status": "completed"})
    match = match_run_weights(project_to_dict(source), "main", tmp_path / "run1", "best")
    assert match.source == "run run1 (best, epoch 3)"
    assert len(match.matched) == match.total == 2
    assert torch.equal(match.state["classifier.weight"], best["classifier.weight"])
    match = transfer_weights(tmp_path / "run1", source, which="last")
    assert match.source == "run run1 (last, epoch 5)"
    assert torch.equal(match.state["classifier.weight"], last["classifier.weight"])

    (tmp_path / "empty").mkdir()
    with pytest.raises(TransferError, match="is not a run folder"):
        read_weights(tmp_path / "empty")


def test_plain_state_dict_and_safetensors_files(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    source = digits_cnn()
    state = trained_state(source)
    torch.save(state, tmp_path / "weights.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "weights.safetensors"))
    for name in ("weights.pth", "weights.safetensors"):
        match = transfer_weights(tmp_path / name, source)
        assert match.source == f"file {name}"
        assert match.matched == ["conv2d_1", "classifier"], name
        assert all(torch.equal(match.state[k], state[k]) for k in state)


def test_a_common_prefix_is_taken_off_when_that_makes_the_names_fit(tmp_path: Path) -> None:
    source = digits_cnn()
    state = trained_state(source)
    # what DistributedDataParallel saves: every key under "module."
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "ddp.pt")
    match = transfer_weights(tmp_path / "ddp.pt", source)
    assert match.prefix == "module."
    assert match.matched == ["conv2d_1", "classifier"] and not match.dropped
    assert set(match.state) == set(state)
    assert "prefix 'module.'" in match.sentence()

    # a training checkpoint: the weights under "state_dict", every key under "model."
    torch.save({"epoch": 7, "state_dict": {f"model.{k}": v for k, v in state.items()}, "optimizer": {}},
               tmp_path / "last.ckpt")
    match = transfer_weights(tmp_path / "last.ckpt", source)
    assert match.prefix == "model." and len(match.matched) == 2
    assert "'state_dict' entry" in match.source

    # names that already fit are never cut
    assert match_weights(state, source).prefix == ""


def test_files_that_are_not_weights_get_a_clear_message(tmp_path: Path) -> None:
    source = digits_cnn()
    torch.save(compile_network(source), tmp_path / "model.pt")         # a whole pickled model
    with pytest.raises(TransferError, match=r"model.pt holds more than weights \(a pickled graph.compiler.CompiledNetwork\).*state_dict\(\)"):
        read_weights(tmp_path / "model.pt")
    (tmp_path / "notes.pt").write_text("these are my notes, not weights\n")
    with pytest.raises(TransferError, match="notes.pt is not a PyTorch weights file"):
        read_weights(tmp_path / "notes.pt")
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(TransferError, match="broken.safetensors is not a readable safetensors file"):
        read_weights(tmp_path / "broken.safetensors")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "numbers.pt")
    with pytest.raises(TransferError, match="numbers.pt holds no weights"):
        read_weights(tmp_path / "numbers.pt")
    with pytest.raises(TransferError, match="does not exist"):
        read_weights(tmp_path / "missing.pth")


class _RunsACommand:
    """Unpickling this calls os.system: what a booby-trapped weights file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch.save", "pickle protocol 4"])
def test_a_pickle_that_holds_code_is_refused_as_code_not_damage(tmp_path: Path, writer: str) -> None:
    import pickle

    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    payload = {"weight": torch.zeros(2), "trap": _RunsACommand(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(TransferError, match=r"evil.pt holds code \(GLOBAL (posix|nt|os)\.system\) and was refused; "
                                            r"DeepCanvas loads only plain tensors") as info:
        read_weights(path)
    assert "damaged" not in str(info.value)
    assert not marker.exists()
