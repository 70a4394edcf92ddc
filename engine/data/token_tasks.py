"""Synthetic token-sequence tasks that LSTMs, GRUs and Transformers learn within seconds on a CPU."""

from __future__ import annotations

import numpy as np

from engine.data.assemble import build_dataset
from engine.data.dataset import Dataset
from engine.data.errors import DatasetError
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec


def _vocab(size: int) -> list[str]:
    return [str(i) for i in range(size)]


def load_sequence_majority(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Classify a sequence by its most frequent token: needs memory of counts, not just the last step."""
    n = opts.get_int("n_samples", 2000, minimum=10, maximum=500_000)
    seq_len = opts.get_int("seq_len", 16, minimum=1, maximum=1000)
    vocab_size = opts.get_int("vocab_size", 4, minimum=2, maximum=100)
    rng = np.random.default_rng(spec.seed)
    x = np.empty((n, seq_len), dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    todo = np.arange(n)
    # Plant extra copies of a random token so the majority is clear, then redraw rows that still tie.
    for _ in range(1000):
        if len(todo) == 0:
            break
        rows = rng.integers(0, vocab_size, (len(todo), seq_len))
        planted = rng.integers(0, vocab_size, len(todo))
        mask = rng.random((len(todo), seq_len)) < 0.3
        rows = np.where(mask, planted[:, None], rows)
        counts = (rows[:, :, None] == np.arange(vocab_size)).sum(axis=1)
        top = counts.max(axis=1)
        unique_top = (counts == top[:, None]).sum(axis=1) == 1
        done = todo[unique_top]
        x[done] = rows[unique_top]
        labels[done] = counts[unique_top].argmax(axis=1)
        todo = todo[~unique_top]
    if len(todo):
        raise DatasetError(
            "Could not generate sequences with a clear majority token: use a longer 'seq_len' or a smaller 'vocab_size'."
        )
    vocab = _vocab(vocab_size)
    return build_dataset(
        name="sequence_majority",
        task="classification",
        x=x,
        y=labels,
        spec=spec,
        input_norm=None,
        class_names=vocab,
        vocab=vocab,
    )


def _seq2seq(name: str, spec: DatasetSpec, opts: OptionReader, reverse: bool) -> Dataset:
    n = opts.get_int("n_samples", 2000, minimum=10, maximum=500_000)
    seq_len = opts.get_int("seq_len", 8, minimum=1, maximum=1000)
    vocab_size = opts.get_int("vocab_size", 8, minimum=2, maximum=1000)
    rng = np.random.default_rng(spec.seed)
    x = rng.integers(0, vocab_size, (n, seq_len)).astype(np.int64)
    y = x[:, ::-1].copy() if reverse else x.copy()
    return build_dataset(
        name=name, task="sequence", x=x, y=y, spec=spec, input_norm=None, vocab=_vocab(vocab_size)
    )


def load_sequence_copy(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Output equals input: the sanity check that a seq2seq model can carry tokens through."""
    return _seq2seq("sequence_copy", spec, opts, reverse=False)


def load_sequence_reverse(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """Output is the input reversed: impossible without mixing information across time steps."""
    return _seq2seq("sequence_reverse", spec, opts, reverse=True)
