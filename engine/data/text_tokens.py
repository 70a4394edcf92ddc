"""Word and subword vocabularies learned with the `tokenizers` library, and texts turned into
fixed-length rows of token ids for an Embedding.

The vocabulary is fitted on the texts it is given and nothing else: callers pass the training
split only, so a word seen only in validation maps to [UNK], as it would for a new text after
training. Id 0 is always [PAD] and id 1 always [UNK].
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data.errors import DatasetError

logger = logging.getLogger(__name__)

PAD = "[PAD]"
UNK = "[UNK]"
SPECIAL_TOKENS = (PAD, UNK)
#: "word": whole words (and punctuation marks) seen in training; "subword": byte-pair-encoding pieces,
#: so an unseen word is spelled from known pieces instead of becoming [UNK]
TOKENIZERS = ("word", "subword")


@dataclass(frozen=True)
class TextEncoder:
    """A fitted tokenizer with its vocabulary (index = token id) and the fixed row length."""

    tokenizer: Any          # tokenizers.Tokenizer, padding and truncation set to max_length
    vocab: list[str]
    max_length: int

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """(N×max_length int64 ids, how many texts were longer than max_length and cut)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.zeros((len(encodings), self.max_length), dtype=np.int64)
        cut = 0
        for row, encoding in enumerate(encodings):
            ids[row] = encoding.ids
            cut += bool(encoding.overflowing)
        return ids, cut


def fit_text_encoder(texts: Sequence[str], *, kind: str, vocab_size: int, max_length: int,
                     lowercase: bool = True, min_frequency: int = 1) -> TextEncoder:
    """Learn a vocabulary of at most `vocab_size` tokens (the two special ones included) from `texts`.

    The same texts always give the same vocabulary and ids, so a data set spec replays exactly. For
    subwords the starting alphabet is chosen here (most frequent characters first, ties by character)
    rather than left to the trainer, whose own cut of a large alphabet is not reproducible.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    if kind not in TOKENIZERS:
        raise DatasetError(f"Unknown tokenizer {kind!r}: use one of {', '.join(repr(t) for t in TOKENIZERS)}.")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise DatasetError(f"A vocabulary of {vocab_size} tokens has no room beside {PAD} and {UNK}: raise the "
                           f"'vocab_size' option.")
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    normalizer = normalizers.Sequence(steps)
    if kind == "word":
        tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    else:
        tokenizer = Tokenizer(models.BPE(unk_token=UNK))
        alphabet = _alphabet(texts, normalizer, vocab_size - len(SPECIAL_TOKENS))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                      initial_alphabet=alphabet, limit_alphabet=len(alphabet))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(list(texts), trainer)
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    vocab = [token for token, _ in by_id]
    if [i for _, i in by_id] != list(range(len(vocab))) or tuple(vocab[:2]) != SPECIAL_TOKENS:
        # the library's contract; checked because every id in the data set relies on it
        raise DatasetError("The tokenizer gave an unexpected vocabulary layout; please report this as a bug.")
    tokenizer.enable_padding(pad_id=0, pad_token=PAD, length=max_length)
    tokenizer.enable_truncation(max_length=max_length)
    logger.info("Learned a %s vocabulary of %d tokens from %d texts", kind, len(vocab), len(texts))
    return TextEncoder(tokenizer, vocab, max_length)


def _alphabet(texts: Sequence[str], normalizer: Any, size: int) -> list[str]:
    """The `size` most frequent non-space characters after normalisation, in a reproducible order."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(normalizer.normalize_str(text))
    chars = [ch for ch, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if not ch.isspace()]
    return chars[:size]
