"""File ▸ Export As ▸ … and File ▸ Import PyTorch Model… in the real window."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

import graph
from gui import exchange

MODELS = Path(__file__).resolve().parents[1] / "graph" / "data" / "handwritten_models.py"


def _file_menu_texts(window) -> list[str]:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    return [a.text() for a in menu.actions()]


def test_file_menu_offers_every_export_format_and_the_import(window):
    texts = _file_menu_texts(window)
    assert "Export &As" in texts and "&Import PyTorch Model…" in texts
    assert [a.text() for a in window.exchange.export_menu.actions()] == [
        "&ONNX…", "&TorchScript Archive…", "torch.&export Program…", "&Safetensors Weights…"]


def test_export_writes_the_attached_weights_and_says_so(window, monkeypatch, tmp_path, qtbot):
    window.files.new_project("mlp-digits")
    net = window.session.project.main
    trained = {k: v + 1.0 for k, v in graph.compile_network(window.session.project).state_dict().items()}
    window.session.set_network_weights(net.name, trained, "run 7 (best)")
    target = tmp_path / "digits.safetensors"
    monkeypatch.setattr(exchange, "choose_format_path", lambda parent, fmt, suggested: target)
    messages: list[str] = []
    window.files.message.connect(messages.append)
    window.exchange.actions["export_safetensors"].trigger()
    saved = load_file(str(target))
    assert all(torch.equal(saved[k], trained[k]) for k in trained)
    assert messages and "saved weights (run 7 (best))" in messages[-1]


def test_export_of_a_broken_network_shows_the_problem(window, dialog, monkeypatch, tmp_path):
    window.files.new_project("mlp-digits")
    net = window.session.project.main
    net.remove_node(net.find("flatten_1").id)
    monkeypatch.setattr(exchange, "choose_format_path", lambda parent, fmt, suggested: tmp_path / "m.pt")
    assert not window.exchange.export("torchscript")
    assert dialog.errors and dialog.errors[-1][0] == "Cannot export"
    assert not (tmp_path / "m.pt").exists()


def test_import_opens_the_model_as_an_unsaved_project_with_its_weights(window, monkeypatch):
    asked: list = []

    def answer(parent, last):
        asked.append(last)
        return exchange.ImportRequest(str(MODELS), "LeNet", "1,28,28", "float32")

    monkeypatch.setattr(exchange, "ask_import", answer)
    window.exchange.actions["import_torch"].trigger()
    project = window.session.project
    assert project.name == "LeNet"
    assert {"Conv2d", "MaxPool2d", "Dense"} <= {n.type_id for n in project.main.nodes}
    assert window.session.modified  # it is in no file yet: closing asks to save
    weights, source = window.session.network_weights(project.main.name)
    assert weights is not None and "LeNet" in source
    model = graph.compile_network(project)
    model.load_state_dict(weights, strict=True)


def test_a_failed_import_keeps_the_current_project(window, dialog, monkeypatch):
    window.files.new_project("cnn-digits")
    before = window.session.project
    monkeypatch.setattr(exchange, "ask_import",
                        lambda parent, last: exchange.ImportRequest(str(MODELS), "NumpyStep", "4", "float32"))
    assert not window.exchange.import_model()
    assert window.session.project is before
    assert dialog.errors[-1][0] == "Cannot import the model"
    assert "cannot be traced with torch.fx" in dialog.errors[-1][1]


def test_import_dialog_needs_a_file_and_a_class(qtbot, tmp_path):
    dialog = exchange.ImportDialog()
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled()
    dialog.file_edit.setText("models.py")
    dialog.class_edit.setText("LeNet")
    dialog.shape_edit.setText("1,28,28")
    assert dialog.ok_button.isEnabled()
    assert dialog.request().target == "models.py:LeNet"
    dialog.grab().save(str(tmp_path / "import_dialog.png"))
