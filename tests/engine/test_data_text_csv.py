"""Text classification data: a CSV (or the generated sentiment reviews) becomes padded rows of token
ids whose vocabulary is learned from the training split alone, and bad tables are refused with a
message naming the column or rows at fault."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data import DatasetError, DatasetSpec, load_dataset
from engine.data.sentiment import generate_sentiment
from engine.data.text_tokens import PAD, UNK, fit_text_encoder


def write_csv(path: Path, texts: list[str], labels: list[object], text: str = "text", label: str = "label",
              **extra: list[object]) -> Path:
    pd.DataFrame({text: texts, label: labels, **extra}).to_csv(path, index=False)
    return path


def load(path: Path, val_fraction: float = 0.2, **options: object):
    return load_dataset(DatasetSpec("text_csv", path=str(path), options=options, val_fraction=val_fraction))


def words_of(dataset, row: np.ndarray) -> list[str]:
    return [dataset.vocab[i] for i in row.tolist() if i != 0]


def test_vocabulary_comes_from_the_training_split_only(tmp_path):
    # every row has one word of its own: those of validation rows must not be in the vocabulary
    texts = [f"shared words here uniq{i}" for i in range(100)]
    path = write_csv(tmp_path / "t.csv", texts, ["pos", "neg"] * 50)
    data = load(path, max_length=6)
    assert data.task == "classification" and data.input_dtype == "int64" and data.input_shape == (6,)
    assert data.vocab[:2] == [PAD, UNK] and data.class_names == ["neg", "pos"]
    assert len(data.x_train) == 80 and len(data.x_val) == 20
    vocab = set(data.vocab)
    train_uniques = {w for row in data.x_train for w in words_of(data, row) if w.startswith("uniq")}
    assert len(train_uniques) == 80 and train_uniques <= vocab
    for row in data.x_val:
        words = words_of(data, row)
        assert words[:3] == ["shared", "words", "here"] and words[3] == UNK
    assert not any(w.startswith("uniq") and w not in train_uniques for w in vocab)


def test_texts_are_padded_and_cut_to_max_length(tmp_path):
    texts = ["one two", "one two three four five six seven"] * 10
    path = write_csv(tmp_path / "t.csv", texts, ["a", "b"] * 10)
    data = load(path, max_length=4)
    rows = {tuple(words_of(data, r)) for r in np.concatenate([data.x_train, data.x_val])}
    assert rows == {("one", "two"), ("one", "two", "three", "four")}
    short = next(r for r in data.x_train if len(words_of(data, r)) == 2)
    assert short.tolist()[2:] == [0, 0]        # [PAD] is id 0, at the end


def test_vocab_size_caps_the_vocabulary_and_rare_words_become_unknown(tmp_path):
    texts = ["common common common rare1", "common word rare2"] * 10 + ["common word"] * 10
    path = write_csv(tmp_path / "t.csv", texts, ["x", "y", "z"] * 10)
    data = load(path, vocab_size=4)
    assert data.vocab == [PAD, UNK, "common", "word"]
    assert UNK in {w for r in data.x_train for w in words_of(data, r)}


def test_subwords_spell_an_unseen_word_from_known_pieces():
    texts = ["playing played player plays", "walking walked walker walks"] * 20
    encoder = fit_text_encoder(texts, kind="subword", vocab_size=40, max_length=8)
    assert encoder.vocab[:2] == [PAD, UNK] and len(encoder.vocab) <= 40
    ids, cut = encoder.encode(["walkplay", "zzz"])
    pieces = [encoder.vocab[i] for i in ids[0] if i != 0]
    assert "".join(pieces) == "walkplay" and UNK not in pieces and cut == 0
    assert [encoder.vocab[i] for i in ids[1] if i != 0] == [UNK] * 3    # 'z' was never seen
    words = fit_text_encoder(texts, kind="word", vocab_size=40, max_length=8)
    assert [words.vocab[i] for i in words.encode(["walkplay"])[0][0] if i != 0] == [UNK]


@pytest.mark.parametrize("tokenizer", ["word", "subword"])
def test_same_spec_gives_the_same_arrays(tmp_path, tokenizer):
    texts, labels = generate_sentiment(300, seed=3)
    path = write_csv(tmp_path / "s.csv", texts, labels)
    a = load(path, tokenizer=tokenizer, vocab_size=80)
    b = load(path, tokenizer=tokenizer, vocab_size=80)
    assert a.vocab == b.vocab
    for x, y in ((a.x_train, b.x_train), (a.x_val, b.x_val), (a.y_train, b.y_train)):
        np.testing.assert_array_equal(x, y)


def test_numeric_labels_sort_as_numbers_and_other_columns_are_ignored(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["good stuff", "bad stuff", "meh"] * 6, [10, 2, 2] * 6,
                     text="review", label="stars", id=list(range(18)))
    data = load(path, text_column="review", label_column="stars")
    assert data.class_names == ["2", "10"]


def test_columns_match_ignoring_case_and_tab_separated_files_work(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("Text\tLabel\n" + "nice, very nice\t1\nawful\t0\n" * 5, encoding="utf-8")
    data = load(path)
    assert data.num_classes == 2 and "," in data.vocab


@pytest.mark.parametrize("content, options, expected", [
    ("review,label\nnice,1\nbad,0\n", {}, ["no column 'text'", "'review'", "'text_column'"]),
    ("text,sentiment\nnice,1\nbad,0\n", {}, ["no column 'label'", "'sentiment'", "'label_column'"]),
    ("text,label\nnice,1\n ,0\ngood,1\n,0\n", {}, ["empty on 2 row(s)", "(2, 4,", "fill in"]),
    ("text,label\nnice,1\nbad,\ngood,1\n", {}, ["label column 'label'", "empty on 1 row(s) (2,"]),
    ("text,label\nnice,pos\nbad,pos\ngood,pos\n", {}, ["only one class ('pos')", "'label_column'"]),
    ("text,label\nnice,1\nbad,0\n", {"label_column": "text"}, ["both the texts and the labels"]),
    ("text,label\n", {}, ["has no rows"]),
    ("", {}, ["is empty"]),
    ("text,label\nnice,1\nbad,0\n", {"tokenizer": "chars"}, ["'tokenizer'", "'word', 'subword'"]),
    ("text,label\nnice,1\nbad,0\n", {"delimiter": "ab"}, ["'delimiter'", "one character"]),
    ("text,label\nnice,1\nbad,0\n", {"vocab_size": 2}, ["'vocab_size'", "from 3 to"]),
])
def test_bad_tables_are_refused_with_a_clear_message(tmp_path, content, options, expected):
    path = tmp_path / "t.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load(path, **options)
    for part in expected:
        assert part in str(info.value), str(info.value)


def test_a_label_column_of_free_text_is_refused(tmp_path):
    texts = [f"text number {i}" for i in range(60)]
    path = write_csv(tmp_path / "t.csv", texts, [f"note {i}" for i in range(60)])
    with pytest.raises(DatasetError, match="looks like text or ids rather than classes"):
        load(path)


def test_missing_file_and_unknown_option(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load(tmp_path / "nope.csv")
    with pytest.raises(DatasetError, match="has no option 'max_len'"):
        load(tmp_path / "nope.csv", max_len=4)
    with pytest.raises(DatasetError, match="choose a file"):
        load_dataset(DatasetSpec("text_csv"))


def test_sentiment_reviews_are_seeded_balanced_and_follow_negation():
    texts, labels = generate_sentiment(400, seed=1)
    assert (texts, labels) == generate_sentiment(400, seed=1)
    assert generate_sentiment(50, seed=2)[0] != texts[:50]
    assert 0.4 < labels.count("positive") / len(labels) < 0.6
    single = [(t.split(), lab) for t, lab in zip(texts, labels, strict=True) if " but " not in t]
    praise, blame = {"good", "great", "superb", "lovely"}, {"bad", "awful", "boring", "dull"}
    seen = set()
    for words, label in single:
        for opinion, plain in ((praise, "positive"), (blame, "negative")):
            if opinion & set(words):
                flipped = "not" in words
                assert label == (plain if not flipped else ({"positive", "negative"} - {plain}).pop()), words
                seen.add((plain, flipped))
    assert len(seen) == 4       # plain and negated opinions of both kinds were generated


def test_builtin_sentiment_data_set():
    data = load_dataset(DatasetSpec("sentiment", options={"n_samples": 200, "max_length": 24}))
    assert data.describe() == "sentiment: 160 train / 40 val, input 24 int64, 2 classes"
    assert data.class_names == ["negative", "positive"] and data.vocab[:2] == [PAD, UNK]
    assert set(data.y_val.tolist()) == {0, 1} and set(data.y_train.tolist()) == {0, 1}


def test_unreadable_tables_say_what_to_check(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,label\nnice,1\nbad,0,extra,cells\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"not a valid table .*'delimiter' option"):
        load(ragged)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\ncaf\xe9 cr\xe8me,1\nbad,0\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not valid UTF-8 text .*save it as UTF-8"):
        load(latin)
    with pytest.raises(DatasetError, match="is a folder"):
        load(tmp_path)
