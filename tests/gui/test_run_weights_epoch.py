"""The Load Weights window names the epoch a run's weights file holds, and warns when the run's best
epoch never reached the disk (a crash after the metrics logged it)."""

from __future__ import annotations

from pathlib import Path

from graph import NetworkBuilder, Project, compile_network, save_project
from gui.main_window import MainWindow

WAIT = 60_000


def small_net() -> Project:
    b = NetworkBuilder()
    x = b.input((2,), name="xy")
    h = b.chain(x, ("Dense", {"units": 4}), "ReLU", ("Dense", {"units": 2}))
    b.output(h, name="logits")
    return b.project("Small", {"dataset": {"kind": "moons"}, "training": {"recipe": "classification"}})


def crashed_run(path: Path, project: Project) -> Path:
    """Metrics that call epoch 3 best, a best.safetensors of epoch 1, no report."""
    from engine.runs import RunRecorder

    recorder = RunRecorder(path)
    recorder.start({"project": {}})
    state = compile_network(project, seed=1).state_dict()
    for epoch in (1, 2, 3):
        recorder.line({"type": "epoch", "epoch": epoch, "val_loss": 1.0 / epoch, "is_best": True})
    recorder.save("best", state, 1, {"monitor": "val_loss", "value": "1.0"})
    recorder.save("last", state, 1, {"monitor": "val_loss", "value": "1.0"})
    recorder.close()
    return path


def test_the_window_names_the_epoch_it_loads(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from gui.training.runs_list import weights_epochs

    project = small_net()
    window.session.replace_project(project, save_project(project, tmp_path / "small.dcproj"))
    run = crashed_run(tmp_path / "runs" / "crashed", project)
    assert weights_epochs(run) == {"best": " (epoch 1)", "last": " (epoch 1)"}

    window.actions_by_name["analyze_load_weights"].trigger()
    dialog = window.analysis.views["weights"]
    dialog.set_source(run, "run", "best")
    qtbot.waitUntil(lambda: not dialog.busy and dialog.match is not None, timeout=WAIT)
    assert dialog.which_box.itemText(0) == "best weights (epoch 1)"
    text = dialog.sentence.text()
    assert "run crashed (best, epoch 1)" in text
    assert "The run's best epoch was 3" in text and "best.safetensors holds epoch 1" in text
