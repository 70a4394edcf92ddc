"""Attention, positional encoding and Transformer stacks (batch-first sequences N×L×D)."""

from __future__ import annotations

from graph.layers.spec import (
    Cost,
    LayerSpec,
    ModuleCall,
    PortSpec,
    ShapeError,
    TensorType,
    format_shape,
    need_float,
    need_rank,
)
from graph.params import Bool, Choice, Float, Int
from graph.tensor_type import numel

_SEQ = "sequences shaped N×L×D"
_SEQ_FIX = "put an Embedding (token ids) or a Reshape to N×L×D before it"


def _sequence(t: TensorType) -> None:
    need_float(t)
    need_rank(t, (3,), _SEQ, _SEQ_FIX)


def _heads_divide(d_model: int, heads: int) -> None:
    if d_model % heads:
        raise ShapeError(f"has {heads} heads, which must divide its model width {d_model}: "
                         f"pick a number of heads that divides {d_model}.")


def _attention_infer(p, ins):
    query, key, value = ins
    assert query is not None
    _sequence(query)
    _heads_divide(query.shape[2], p["num_heads"])
    key = key or query
    value = value or key
    for t in (key, value):
        _sequence(t)
    if key.shape[1] != value.shape[1]:
        raise ShapeError(f"needs key and value of the same length but receives {format_shape(key.shape)} "
                         f"and {format_shape(value.shape)}.")
    if p["causal"] and key.shape[1] != query.shape[1]:
        raise ShapeError("is causal, which needs query and key of the same length (self-attention).")
    return query


def _attention_cost(p, ins):
    query = ins[0]
    key = ins[1] or query
    value = ins[2] or key
    e, kd, vd = query.shape[2], key.shape[2], value.shape[2]
    lq, lk = query.shape[1], key.shape[1]
    bias = 4 * e if p["bias"] else 0
    params = e * e + e * kd + e * vd + e * e + bias
    macs = lq * e * e + lk * e * kd + lk * e * vd + 2 * lq * lk * e + lq * e * e
    # the attention weights (heads × Lq × Lk floats per sample) are kept for backward
    return Cost(params, macs, 4 * p["num_heads"] * lq * lk)


ATTENTION = LayerSpec(
    type_id="MultiheadAttention",
    display_name="MultiheadAttention",
    category="Attention",
    description="Multi-head attention. Wire only 'query' for self-attention; wire 'key' (and 'value') "
                "from another sequence for cross-attention.",
    inputs=(PortSpec("query"), PortSpec("key", optional=True, help="defaults to the query"),
            PortSpec("value", optional=True, help="defaults to the key")),
    params=(
        Int("num_heads", 4, "Number of attention heads; must divide the model width.", 1, 256),
        Float("dropout", 0.0, "Dropout on the attention weights.", 0.0, 0.99),
        Bool("bias", True, "Learn biases in the projections."),
        Bool("causal", False, "Each position attends only to itself and earlier ones (language models)."),
    ),
    infer=_attention_infer,
    build=lambda p, ins: ModuleCall("dc.Attention", {
        "embed_dim": ins[0].shape[2], "num_heads": p["num_heads"],
        "kdim": (ins[1] or ins[0]).shape[2], "vdim": (ins[2] or ins[1] or ins[0]).shape[2],
        "dropout": p["dropout"], "bias": p["bias"], "causal": p["causal"]}),
    cost=lambda p, ins, out: _attention_cost(p, ins),
    sample_inputs=(TensorType((None, 5, 8)),),
    examples=({"num_heads": 2, "dropout": 0.0, "bias": False, "causal": True},),
)


def _posenc_infer(p, ins):
    t = ins[0]
    assert t is not None
    _sequence(t)
    if t.shape[1] > p["max_len"]:
        raise ShapeError(f"has max length {p['max_len']} but receives sequences of {t.shape[1]} steps: "
                         f"raise its max length.")
    return t


POSITIONAL_ENCODING = LayerSpec(
    type_id="PositionalEncoding",
    display_name="PositionalEncoding",
    category="Attention",
    description="Add position information to a sequence so attention can tell the order of tokens.",
    params=(
        Choice("kind", "sinusoidal", ("sinusoidal", "learned"), "Fixed sinusoids or a learned table."),
        Int("max_len", 512, "Longest sequence it accepts.", 1, 1_000_000),
        Float("dropout", 0.0, "Dropout after adding the encoding.", 0.0, 0.99),
    ),
    infer=_posenc_infer,
    build=lambda p, ins: ModuleCall("dc.PositionalEncoding", {
        "d_model": ins[0].shape[2], "max_len": p["max_len"], "kind": p["kind"], "dropout": p["dropout"]}),
    cost=lambda p, ins, out: Cost(p["max_len"] * ins[0].shape[2] if p["kind"] == "learned" else 0, 0),
    sample_inputs=(TensorType((None, 6, 7)),),
    examples=({"kind": "learned", "max_len": 10, "dropout": 0.1},),
)


def _stack_params(causal_default: bool) -> tuple:
    return (
        Int("num_layers", 2, "Number of stacked layers.", 1, 128),
        Int("num_heads", 4, "Attention heads per layer; must divide the model width.", 1, 256),
        Int("dim_feedforward", 128, "Width of the feed-forward sub-layer.", 1, 1_000_000),
        Float("dropout", 0.1, "Dropout inside each layer.", 0.0, 0.99),
        Choice("activation", "relu", ("relu", "gelu"), "Activation of the feed-forward sub-layer."),
        Bool("norm_first", False, "Pre-norm layers (often train more stably when deep)."),
        Bool("causal", causal_default, "Each position sees only itself and earlier ones."),
    )


def _layer_params(d: int, ff: int, attn_blocks: int) -> int:
    """Parameters of one layer: attention blocks, the feed-forward pair, one LayerNorm per sub-layer."""
    return attn_blocks * (4 * d * d + 4 * d) + (2 * d * ff + ff + d) + (attn_blocks + 1) * 2 * d


def _stack_kwargs(p, d_model: int) -> dict:
    return {"d_model": d_model, "num_heads": p["num_heads"], "num_layers": p["num_layers"],
            "dim_feedforward": p["dim_feedforward"], "dropout": p["dropout"], "activation": p["activation"],
            "norm_first": p["norm_first"], "causal": p["causal"]}


def _encoder_infer(p, ins):
    t = ins[0]
    assert t is not None
    _sequence(t)
    _heads_divide(t.shape[2], p["num_heads"])
    return t


def _encoder_cost(p, ins, out):
    d, length = ins[0].shape[2], ins[0].shape[1]
    per = _layer_params(d, p["dim_feedforward"], 1)
    macs = length * (4 * d * d + 2 * d * p["dim_feedforward"]) + 2 * length * length * d
    # kept for backward in every layer, at least: the attention weights and the feed-forward hidden
    kept = 4 * (p["num_heads"] * length * length + length * p["dim_feedforward"])
    return Cost(per * p["num_layers"], macs * p["num_layers"], kept * p["num_layers"])


TRANSFORMER_ENCODER = LayerSpec(
    type_id="TransformerEncoder",
    display_name="TransformerEncoder",
    category="Attention",
    description="A stack of Transformer encoder layers (self-attention + feed-forward) over N×L×D.",
    params=_stack_params(False),
    infer=_encoder_infer,
    build=lambda p, ins: ModuleCall("dc.TransformerEncoderStack", _stack_kwargs(p, ins[0].shape[2])),
    cost=_encoder_cost,
    sample_inputs=(TensorType((None, 5, 8)),),
    examples=({"num_layers": 1, "num_heads": 2, "dim_feedforward": 16, "dropout": 0.0, "activation": "gelu",
               "norm_first": True, "causal": True},),
)


def _decoder_infer(p, ins):
    tgt, memory = ins
    assert tgt is not None and memory is not None
    _sequence(tgt)
    _sequence(memory)
    _heads_divide(tgt.shape[2], p["num_heads"])
    if memory.shape[2] != tgt.shape[2]:
        raise ShapeError(f"needs memory of width {tgt.shape[2]} like its target, but the memory is "
                         f"{format_shape(memory.shape)}: add a Dense to {tgt.shape[2]} units on the memory.")
    return tgt


def _decoder_cost(p, ins, out):
    d, lt, lm = ins[0].shape[2], ins[0].shape[1], ins[1].shape[1]
    per = _layer_params(d, p["dim_feedforward"], 2)
    macs = (lt * (6 * d * d + 2 * d * p["dim_feedforward"]) + lm * 2 * d * d
            + 2 * lt * lt * d + 2 * lt * lm * d)
    kept = 4 * (p["num_heads"] * (lt * lt + lt * lm) + lt * p["dim_feedforward"])
    return Cost(per * p["num_layers"], macs * p["num_layers"], kept * p["num_layers"])


TRANSFORMER_DECODER = LayerSpec(
    type_id="TransformerDecoder",
    display_name="TransformerDecoder",
    category="Attention",
    description="A stack of Transformer decoder layers: self-attention over the target, "
                "cross-attention to the encoder's memory, feed-forward.",
    inputs=(PortSpec("tgt", help="the sequence being decoded"), PortSpec("memory", help="the encoder output")),
    params=_stack_params(True),
    infer=_decoder_infer,
    build=lambda p, ins: ModuleCall("dc.TransformerDecoderStack", _stack_kwargs(p, ins[0].shape[2])),
    cost=_decoder_cost,
    sample_inputs=(TensorType((None, 5, 8)), TensorType((None, 7, 8))),
    examples=({"num_layers": 1, "num_heads": 2, "dim_feedforward": 16, "dropout": 0.0, "activation": "relu",
               "norm_first": False, "causal": False},),
)

def _class_token_infer(p, ins):
    t = ins[0]
    assert t is not None
    _sequence(t)
    return TensorType((None, t.shape[1] + 1, t.shape[2]))


CLASS_TOKEN = LayerSpec(
    type_id="ClassToken",
    display_name="ClassToken",
    category="Attention",
    description="Put a learned token in front of each sequence (N×L×D -> N×(L+1)×D); after the encoder, "
                "that first position summarises the sequence (ViT's class token).",
    infer=_class_token_infer,
    build=lambda p, ins: ModuleCall("dc.ClassToken", {"d_model": ins[0].shape[2]}),
    cost=lambda p, ins, out: Cost(ins[0].shape[2], 0),
    sample_inputs=(TensorType((None, 5, 8)),),
)


def _pos_embedding_infer(p, ins):
    t = ins[0]
    assert t is not None
    _sequence(t)
    return t


POSITIONAL_EMBEDDING = LayerSpec(
    type_id="PositionalEmbedding",
    display_name="PositionalEmbedding",
    category="Attention",
    description="Add a learned vector per position to sequences of one fixed length (ViT's position "
                "embedding); its table has exactly the input's length.",
    infer=_pos_embedding_infer,
    build=lambda p, ins: ModuleCall("dc.PositionalEmbedding", {"length": ins[0].shape[1], "d_model": ins[0].shape[2]}),
    cost=lambda p, ins, out: Cost(ins[0].shape[1] * ins[0].shape[2], numel(ins[0].shape[1:])),
    sample_inputs=(TensorType((None, 6, 4)),),
)

LAYERS = (ATTENTION, POSITIONAL_ENCODING, TRANSFORMER_ENCODER, TRANSFORMER_DECODER, CLASS_TOKEN,
          POSITIONAL_EMBEDDING)
