"""User text quoted in messages is cut to a bounded length, keeping its start and end and saying how
much was left out, whichever error carries it (a 5 MB name once made a 5 MB dialog)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graph.errors import GraphError, ProjectFileError
from graph.quoting import MESSAGE_LIMIT, QUOTE_LIMIT, cut, cut_message, quote

HUGE = 5_000_000


def test_short_text_is_left_as_it_is() -> None:
    assert cut("age") == "age" and quote("age") == "'age'"
    assert cut("x" * QUOTE_LIMIT) == "x" * QUOTE_LIMIT
    assert cut_message("Column 'age' is empty.") == "Column 'age' is empty."


def test_long_text_keeps_start_and_end_and_counts_what_was_cut() -> None:
    text = "start-" + "m" * HUGE + "-end"
    out = cut(text)
    assert out.startswith("start-") and out.endswith("-end")
    assert len(out) < 2 * QUOTE_LIMIT
    kept = len(out) - len(f"…[{len(text) - len(out) + len('…[] characters cut]…'):,} characters cut]…")
    assert f"{len(text) - (len(out) - len(out[out.index('…'):out.rindex('…') + 1])):,} characters cut" in out
    assert kept > 0


def test_a_message_cuts_each_long_run_and_keeps_its_advice() -> None:
    message = f"The CSV file /data/{'a' * HUGE}.csv does not exist: choose an existing file."
    out = cut_message(message)
    assert len(out) < 300
    assert out.startswith("The CSV file /data/aaa") and out.endswith(".csv does not exist: choose an existing file.")
    spaced = "word " * HUGE      # no long run to cut: the whole message is bounded instead
    assert len(cut_message(spaced)) <= MESSAGE_LIMIT + 40


@pytest.mark.parametrize("error", [GraphError, ProjectFileError])
def test_graph_errors_are_bounded(error: type[GraphError]) -> None:
    exc = error(f"unknown layer type {'Z' * HUGE}")
    assert len(str(exc)) < 300 and "characters cut" in str(exc)


def test_training_and_data_errors_are_bounded() -> None:
    from engine.data import DatasetError
    from engine.errors import TrainingError

    for exc in (TrainingError("x " + "y" * HUGE, "data"), DatasetError("x " + "y" * HUGE)):
        assert len(str(exc)) < 300
    assert len(TrainingError("z" * HUGE).message) < 300


def test_a_project_file_with_a_huge_type_name_gives_a_short_message(tmp_path: Path) -> None:
    from graph import load_project

    path = tmp_path / "big.dcproj"
    data = {"format_version": 1, "format": "deepcanvas-project", "name": "p",
            "networks": [{"name": "main", "nodes": [{"id": "n1", "type": "T" * HUGE, "params": {}}], "edges": []}]}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(GraphError) as info:
        load_project(path)
    assert len(str(info.value)) < 400


def test_a_huge_csv_path_and_column_name_give_short_messages(tmp_path: Path) -> None:
    from engine.data import DatasetError, DatasetSpec, load_dataset

    with pytest.raises(DatasetError) as info:
        load_dataset(DatasetSpec("csv", path=str(tmp_path / ("p" * HUGE + ".csv")), options={"target": "y"}))
    assert len(str(info.value)) < 400 and str(info.value).endswith(": choose an existing file.")

    wide = tmp_path / "wide.csv"
    wide.write_text(f"{'c' * 100_000},y\n1,2\n3,4\n", encoding="utf-8")   # under the csv module's field limit
    with pytest.raises(DatasetError) as info:
        load_dataset(DatasetSpec("csv", path=str(wide), options={"target": "k" * HUGE}))
    assert len(str(info.value)) < 400 and "characters cut" in str(info.value)


def test_a_huge_weights_path_gives_a_short_message(tmp_path: Path) -> None:
    from engine.transfer import TransferError, read_weights

    with pytest.raises(TransferError) as info:
        read_weights(tmp_path / ("w" * HUGE + ".pt"))
    assert len(str(info.value)) < 400
