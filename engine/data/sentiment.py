"""A small sentiment task generated from word lists, so text classification can be tried offline.

Sentences are short reviews ("the plot was not very good", "i loved the soundtrack", "the acting
was dull but the ending was superb"). The label follows rules a person would use: the opinion word,
flipped by "not" or "did not", and after "but" the second clause wins. A bag of words therefore is
not enough for every sentence; order matters, which is what a sequence model is for.
"""

from __future__ import annotations

import numpy as np

from engine.data.dataset import Dataset
from engine.data.options import OptionReader
from engine.data.spec import DatasetSpec
from engine.data.text_table import TOKEN_OPTIONS, text_classification

OPTIONS = TOKEN_OPTIONS | {"n_samples"}
CLASS_NAMES = ("negative", "positive")

_SUBJECTS = ("the movie", "this film", "the plot", "the acting", "the soundtrack", "the ending", "the story",
             "the dialogue", "the cast", "the camera work", "this book", "the meal", "the service", "the hotel",
             "the show", "the album", "the game", "the sequel")
_LINKS = ("was", "is", "felt", "seemed", "looked")
_INTENSIFIERS = ("", "", "", "really", "very", "quite", "truly", "rather", "so", "pretty")
_POSITIVE = ("good", "great", "wonderful", "excellent", "delightful", "charming", "brilliant", "enjoyable", "fun",
             "beautiful", "clever", "moving", "superb", "pleasant", "lovely", "fantastic", "gripping", "fresh")
_NEGATIVE = ("bad", "terrible", "awful", "boring", "dull", "poor", "weak", "clumsy", "tedious", "disappointing",
             "bland", "messy", "annoying", "forgettable", "dreadful", "stale", "painful", "shallow")
#: (past tense, base form): "i loved the plot", "i did not love the plot"
_LOVE = (("loved", "love"), ("liked", "like"), ("enjoyed", "enjoy"), ("adored", "adore"), ("admired", "admire"),
         ("recommended", "recommend"))
_HATE = (("hated", "hate"), ("disliked", "dislike"), ("regretted", "regret"), ("loathed", "loathe"),
         ("resented", "resent"), ("avoided", "avoid"))
_OPENERS = ("", "", "", "", "honestly", "overall", "in short", "to be fair", "frankly", "well")
_CLOSERS = ("", "", "", "", "i think", "in the end", "for me", "to be honest", "at times", "overall")


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[int(rng.integers(len(words)))]


def _clause(rng: np.random.Generator) -> tuple[str, int]:
    """One opinion and its polarity (1 positive, 0 negative)."""
    positive = bool(rng.integers(2))
    negated = rng.random() < 0.3
    if rng.random() < 0.7:
        adjective = _pick(rng, _POSITIVE if positive else _NEGATIVE)
        words = [_pick(rng, _SUBJECTS), _pick(rng, _LINKS), "not" if negated else "",
                 _pick(rng, _INTENSIFIERS), adjective]
    else:
        verbs = _LOVE if positive else _HATE
        past, base = verbs[int(rng.integers(len(verbs)))]
        words = ["i", "did", "not", base] if negated else ["i", past]
        words.append(_pick(rng, _SUBJECTS))
    return " ".join(w for w in words if w), int(positive != negated)


def generate_sentiment(n: int, seed: int) -> tuple[list[str], list[str]]:
    """`n` review sentences and their labels ("negative" / "positive"); the same seed gives the same ones."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[str] = []
    for _ in range(n):
        text, label = _clause(rng)
        if rng.random() < 0.3:
            second, label = _clause(rng)
            text = f"{text} but {second}"
        opener, closer = _pick(rng, _OPENERS), _pick(rng, _CLOSERS)
        texts.append(" ".join(p for p in (opener, text, closer) if p))
        labels.append(CLASS_NAMES[label])
    return texts, labels


def load_sentiment(spec: DatasetSpec, opts: OptionReader) -> Dataset:
    """The generated reviews as a text-classification data set (seeded by the spec's seed)."""
    n = opts.get_int("n_samples", 3000, minimum=10, maximum=1_000_000)
    texts, labels = generate_sentiment(n, spec.seed)
    return text_classification("sentiment", texts, labels, spec, opts, source="The generated sentiment texts",
                               label_source="The generated sentiment labels")
