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


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("mlp-digits", "Multi-layer perceptron classifying 8×8 handwritten digits", _mlp_digits),
    Template("cnn-digits", "Small convolutional network classifying 8×8 handwritten digits", _cnn_digits),
    Template("lstm-sequence", "LSTM classifying token sequences by their most frequent token",
             _lstm_sequence),
    Template("transformer-sequence", "Transformer encoder classifying token sequences", _transformer_sequence),
)}


def list_templates() -> list[Template]:
    return list(TEMPLATES.values())


def make_template(name: str) -> Project:
    try:
        return TEMPLATES[name].make()
    except KeyError:
        raise GraphError(f"no template named {name!r}; available: {', '.join(TEMPLATES)}") from None
