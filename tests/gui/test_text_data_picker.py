"""Text classification from the window: the data-set picker lists the generated sentiment reviews and
the CSV-of-texts kind with their options, the text and label columns are chosen as options, and the
preview shows the texts as the model reads them (padding left out)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import graph
from engine.data.sentiment import generate_sentiment
from graph.templates import make_template
from gui.main_window import MainWindow


def open_text_template(window: MainWindow, tmp_path: Path):
    path = tmp_path / "text.dcproj"
    graph.save_project(make_template("text-classifier"), path)
    assert window.files.open_path(path, ask_to_save=False)
    window.show_training()
    window.training.ensure_built()
    return window.training.picker


def test_text_kinds_their_options_and_columns_from_the_picker(qtbot, window: MainWindow, tmp_path: Path) -> None:
    picker = open_text_template(window, tmp_path)
    qtbot.waitUntil(lambda: picker.ready and picker.dataset is not None, timeout=30_000)
    assert picker.kind_combo.currentData() == "sentiment"
    assert picker.kind_combo.findData("text_csv") >= 0
    assert set(picker.option_edits) == {"n_samples", "tokenizer", "vocab_size", "max_length", "lowercase",
                                        "min_frequency"}
    assert "sentiment: 2400 train / 600 val, input 32 int64, 2 classes" in picker.summary.text()
    assert "Fits Input 'tokens'" in picker.compat.text()
    preview = picker.preview.preview
    assert preview.kind == "tokens" and preview.targets[0] in ("negative", "positive")
    assert "[PAD]" not in preview.tokens[0] and len(preview.tokens[0].split()) >= 3

    texts, labels = generate_sentiment(120, seed=4)
    pd.DataFrame({"review": texts, "mood": labels}).to_csv(tmp_path / "reviews.csv", index=False)
    picker.choose_kind("text_csv")
    assert picker.path_row.isVisibleTo(picker)
    assert {"text_column", "label_column", "delimiter", "tokenizer", "vocab_size", "max_length"} <= set(
        picker.option_edits)
    picker.set_path(str(tmp_path / "reviews.csv"))
    qtbot.waitUntil(lambda: picker.ready and bool(picker.error), timeout=10_000)
    assert "no column 'text'" in picker.error and "'review'" in picker.error   # says which columns exist
    for name, column in (("text_column", "review"), ("label_column", "mood")):
        picker.option_edits[name].setText(column)
        picker.option_edits[name].editingFinished.emit()
    assert window.project.settings["dataset"] == {"kind": "text_csv", "path": "reviews.csv",
                                                  "options": {"text_column": "review", "label_column": "mood"}}
    qtbot.waitUntil(lambda: picker.ready and picker.dataset is not None, timeout=10_000)
    assert not picker.error
    assert "reviews.csv: 96 train / 24 val, input 32 int64, 2 classes" in picker.summary.text()
    assert picker.dataset.vocab[:2] == ["[PAD]", "[UNK]"]
