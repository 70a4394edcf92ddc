"""Starting points a person can open and train right away. Each template is written with the
builder API (so it is checked like any user graph) and carries the data set and training settings
it was designed for in ``project.settings``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graph.builder import NetworkBuilder
from graph.document import Project
from graph.errors import GraphError


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    make: Callable[[], Project]


def _mlp_digits() -> Project:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    h = b.chain(x, "Flatten", ("Dense", {"units": 128}), "ReLU", ("Dropout", {"p": 0.2}),
                ("Dense", {"units": 64}), "ReLU", ("Dense", {"units": 10}))
    b.output(h, name="logits")
    return b.project("MLP on digits", {
        "dataset": {"kind": "digits"},
        "training": {"recipe": "classification", "epochs": 30, "batch_size": 64, "optimizer": "adam", "lr": 1e-3},
    })


def _cnn_digits() -> Project:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    h = b.chain(x, ("Conv2d", {"filters": 32}), ("BatchNorm2d", {}), "ReLU",
                ("Conv2d", {"filters": 64}), ("BatchNorm2d", {}), "ReLU", ("MaxPool2d", {}),
                ("Conv2d", {"filters": 64}), "ReLU", "GlobalAvgPool", ("Dropout", {"p": 0.2}),
                ("Dense", {"units": 10}))
    b.output(h, name="logits")
    return b.project("CNN on digits", {
        "dataset": {"kind": "digits"},
        "training": {"recipe": "classification", "epochs": 20, "batch_size": 64, "optimizer": "adam", "lr": 2e-3},
    })


def _lstm_sequence() -> Project:
    b = NetworkBuilder()
    x = b.input((20,), dtype="int64", name="tokens")
    h = b.chain(x, ("Embedding", {"num_embeddings": 8, "embedding_dim": 16}),
                ("LSTM", {"hidden_size": 48, "output": "last"}), ("Dense", {"units": 8}))
    b.output(h, name="logits")
    return b.project("LSTM sequence classifier", {
        "dataset": {"kind": "sequence_majority", "options": {"seq_len": 20, "vocab_size": 8}},
        "training": {"recipe": "classification", "epochs": 15, "batch_size": 64, "optimizer": "adam", "lr": 3e-3},
    })


def _transformer_sequence() -> Project:
    b = NetworkBuilder()
    x = b.input((20,), dtype="int64", name="tokens")
    h = b.chain(x, ("Embedding", {"num_embeddings": 8, "embedding_dim": 32}), ("PositionalEncoding", {}),
                ("TransformerEncoder", {"num_layers": 2, "num_heads": 4, "dim_feedforward": 64, "dropout": 0.1}),
                ("SequencePool", {"mode": "mean"}), ("Dense", {"units": 8}))
    b.output(h, name="logits")
    return b.project("Transformer sequence classifier", {
        "dataset": {"kind": "sequence_majority", "options": {"seq_len": 20, "vocab_size": 8}},
        "training": {"recipe": "classification", "epochs": 15, "batch_size": 64, "optimizer": "adamw", "lr": 1e-3},
    })


def _recurrent_sequence(kind: str, hidden: int, lr: float, epochs: int) -> Project:
    b = NetworkBuilder()
    x = b.input((20,), dtype="int64", name="tokens")
    h = b.chain(x, ("Embedding", {"num_embeddings": 8, "embedding_dim": 16}),
                (kind, {"hidden_size": hidden, "output": "last"}), ("Dense", {"units": 8}))
    b.output(h, name="logits")
    return b.project(f"{kind} sequence classifier", {
        "dataset": {"kind": "sequence_majority", "options": {"seq_len": 20, "vocab_size": 8}},
        "training": {"recipe": "classification", "epochs": epochs, "batch_size": 64, "optimizer": "adam",
                     "lr": lr},
    })


def _rnn_sequence() -> Project:
    return _recurrent_sequence("RNN", 64, 2e-3, 25)


def _gru_sequence() -> Project:
    return _recurrent_sequence("GRU", 48, 3e-3, 15)


def _seq2seq_reverse() -> Project:
    """Encoder: token embeddings with positions through self-attention. Decoder: one query per output
    position (the memory re-projected, with positions of its own) attending to the encoder's memory."""
    b = NetworkBuilder()
    x = b.input((8,), dtype="int64", name="tokens")
    memory = b.chain(x, ("Embedding", {"num_embeddings": 8, "embedding_dim": 32}), ("PositionalEncoding", {}),
                     ("TransformerEncoder", {"num_layers": 1, "num_heads": 4, "dim_feedforward": 64,
                                             "dropout": 0.0}))
    b.network.rename_node(memory, "encoder")
    queries = b.chain(memory, ("Dense", {"units": 32}), ("PositionalEncoding", {"kind": "learned", "max_len": 8}))
    decoded = b.add("TransformerDecoder", queries, memory, name="decoder", num_layers=1, num_heads=4,
                    dim_feedforward=64, dropout=0.0, causal=False)
    h = b.add("Dense", decoded, units=8)
    b.output(h, name="tokens_out")
    return b.project("Attention encoder-decoder reversing sequences", {
        "dataset": {"kind": "sequence_reverse", "options": {"seq_len": 8, "vocab_size": 8, "n_samples": 3000}},
        "training": {"recipe": "classification", "epochs": 12, "batch_size": 64, "optimizer": "adamw", "lr": 2e-3},
    })


def _forecast_sine() -> Project:
    b = NetworkBuilder()
    x = b.input((32, 1), name="series")
    h = b.chain(x, ("LSTM", {"hidden_size": 32, "output": "sequence"}), ("Dense", {"units": 1}))
    b.output(h, name="next_values")
    return b.project("LSTM forecasting sine waves", {
        "dataset": {"kind": "sine_forecast"},
        "training": {"recipe": "regression", "epochs": 30, "batch_size": 32, "optimizer": "adam", "lr": 5e-3},
    })


#: characters of the built-in story (the text data set's default); a text of your own may need another
#: vocabulary size in the Embedding and the last Dense (training says so)
_STORY_CHARACTERS = 41


def _char_lm() -> Project:
    b = NetworkBuilder()
    x = b.input((64,), dtype="int64", name="characters")
    h = b.chain(x, ("Embedding", {"num_embeddings": _STORY_CHARACTERS, "embedding_dim": 32}),
                ("LSTM", {"hidden_size": 96, "output": "sequence"}), ("Dropout", {"p": 0.3}),
                ("Dense", {"units": _STORY_CHARACTERS}))
    b.output(h, name="next_character")
    return b.project("Character language model", {
        "dataset": {"kind": "text", "options": {"seq_len": 64, "stride": 2}},
        "training": {"recipe": "language_model", "epochs": 12, "batch_size": 64, "optimizer": "adam", "lr": 5e-3,
                     "grad_clip": 1.0, "early_stopping": 2},
    })


#: the text data sets' default vocabulary cap and text length (engine.data.text_table); a CSV of your own
#: with another 'vocab_size' or 'max_length' needs the same numbers in the Embedding and the Input
_TEXT_VOCAB = 2000
_TEXT_LENGTH = 32


def _text_classifier() -> Project:
    """Token ids -> word vectors -> a bidirectional LSTM reading the sentence both ways (so "not" can
    flip the word after it) -> the strongest signal of each feature wherever it appears in the sentence
    (max pooling, so where the padding starts matters little) -> classes."""
    b = NetworkBuilder()
    x = b.input((_TEXT_LENGTH,), dtype="int64", name="tokens")
    h = b.chain(x, ("Embedding", {"num_embeddings": _TEXT_VOCAB, "embedding_dim": 32}),
                ("LSTM", {"hidden_size": 48, "bidirectional": True, "output": "sequence"}),
                ("SequencePool", {"mode": "max"}), ("Dropout", {"p": 0.2}), ("Dense", {"units": 2}))
    b.output(h, name="logits")
    return b.project("Text classifier", {
        "dataset": {"kind": "sentiment"},
        "training": {"recipe": "classification", "epochs": 8, "batch_size": 32, "optimizer": "adam", "lr": 5e-3},
    })


def _autoencoder_digits() -> Project:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    code = b.block("encoder", x, name="encoder", hidden_1=128, hidden_2=32, latent=2)
    h = b.block("decoder", code, name="decoder", hidden_1=32, hidden_2=128, out_features=64, out_shape=(1, 8, 8))
    b.output(h, name="reconstruction")
    return b.project("Autoencoder on digits", {
        "dataset": {"kind": "digits"},
        "training": {"recipe": "autoencoder", "epochs": 60, "batch_size": 64, "optimizer": "adam", "lr": 2e-3},
    })


def _gan(name: str, sample: tuple[int, ...], noise: int, width: int, dataset: dict, training: dict) -> Project:
    """A Generator block (noise -> sample) and a Discriminator block (sample -> one score), side by side."""
    b = NetworkBuilder()
    size = 1
    for d in sample:
        size *= d
    z = b.input((noise,), name="noise")
    g = b.block("generator", z, name="generator", hidden_1=width, hidden_2=width, out_features=size)
    if len(sample) > 1:
        g = b.add("Reshape", g, shape=sample)
    b.output(g, name="fake")
    s = b.input(sample, name="sample")
    d = b.block("discriminator", s, name="discriminator", hidden_1=width, hidden_2=width)
    b.output(d, name="score")
    return b.project(name, {"dataset": dataset, "training": {"recipe": "gan", "monitor": "val_quality",
                                                             "optimizer": "adam", **training}})


def _gan_mixture() -> Project:
    return _gan("GAN on a ring of Gaussians", (2,), 8, 128, {"kind": "gaussian_mixture"},
                {"epochs": 120, "batch_size": 64, "lr": 1e-3})


def _gan_digits() -> Project:
    return _gan("GAN on digits", (1, 8, 8), 32, 256, {"kind": "digits"},
                {"epochs": 200, "batch_size": 64, "lr": 5e-4})


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("mlp-digits", "Multi-layer perceptron classifying 8×8 handwritten digits", _mlp_digits),
    Template("cnn-digits", "Small convolutional network classifying 8×8 handwritten digits", _cnn_digits),
    Template("lstm-sequence", "LSTM classifying token sequences by their most frequent token",
             _lstm_sequence),
    Template("transformer-sequence", "Transformer encoder classifying token sequences", _transformer_sequence),
    Template("rnn-sequence", "Plain RNN classifying token sequences by their most frequent token", _rnn_sequence),
    Template("gru-sequence", "GRU classifying token sequences by their most frequent token", _gru_sequence),
    Template("seq2seq-reverse", "Attention encoder-decoder writing token sequences backwards", _seq2seq_reverse),
    Template("forecast-sine", "LSTM forecasting sine waves one step ahead at every position", _forecast_sine),
    Template("char-lm", "Character-level LSTM language model of a short story (or your text)", _char_lm),
    Template("text-classifier", "Embedding, LSTM and pooling classifying short reviews as positive or "
             "negative (or the texts of your CSV)", _text_classifier),
    Template("autoencoder-digits", "Autoencoder squeezing 8×8 digits through a 2-D latent code",
             _autoencoder_digits),
    Template("gan-mixture", "GAN learning a ring of 8 Gaussian blobs in 2-D", _gan_mixture),
    Template("gan-digits", "GAN generating 8×8 handwritten digits", _gan_digits),
)}


def list_templates() -> list[Template]:
    return list(TEMPLATES.values())


def make_template(name: str) -> Project:
    try:
        return TEMPLATES[name].make()
    except KeyError:
        raise GraphError(f"no template named {name!r}; available: {', '.join(TEMPLATES)}") from None
