"""Token embeddings, recurrent layers and sequence pooling (batch-first: N×L×features)."""

from __future__ import annotations

from graph.layers.spec import (
    LONG,
    Cost,
    LayerSpec,
    ModuleCall,
    PortSpec,
    ShapeError,
    TensorType,
    first,
    format_shape,
    need_float,
    need_rank,
)
from graph.params import Bool, Choice, Float, Int


def _embedding_infer(p, ins):
    t = first(ins)
    if t.dtype != LONG:
        raise ShapeError("takes token ids (int64) but receives float32 values: set the Input's dtype to int64.")
    return TensorType((*t.shape, p["embedding_dim"]))


EMBEDDING = LayerSpec(
    type_id="Embedding",
    display_name="Embedding",
    category="Sequence",
    description="Look up a learned vector for each token id: N×L ids -> N×L×D.",
    params=(
        Int("num_embeddings", 100, "Vocabulary size: token ids run from 0 to this minus 1.", 1, 10_000_000),
        Int("embedding_dim", 32, "Length of each token's vector.", 1, 65536),
    ),
    infer=_embedding_infer,
    build=lambda p, ins: ModuleCall("nn.Embedding", {"num_embeddings": p["num_embeddings"],
                                                     "embedding_dim": p["embedding_dim"]}),
    cost=lambda p, ins, out: Cost(p["num_embeddings"] * p["embedding_dim"], 0),
    sample_inputs=(TensorType((None, 9), LONG),),
)

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _recurrent_cost(kind: str):
    gates = _GATES[kind]

    def cost(p, ins, out):
        hidden, dirs = p["hidden_size"], 2 if p["bidirectional"] else 1
        steps = ins[0].shape[1]
        params = macs = 0
        size_in = ins[0].shape[2]
        for _ in range(p["num_layers"]):
            per_dir = gates * hidden * (size_in + hidden)
            params += dirs * (per_dir + 2 * gates * hidden)
            macs += dirs * per_dir * steps
            size_in = hidden * dirs
        return Cost(params, macs)

    return cost


def _recurrent(kind: str) -> LayerSpec:

    def infer(p, ins):
        t = first(ins)
        need_float(t)
        need_rank(t, (3,), "sequences shaped N×L×features",
                  "add a Reshape to L×1 for a single series, or an Embedding for token ids")
        width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        if p["output"] == "sequence":
            return TensorType((None, t.shape[1], width))
        return TensorType((None, width))

    return LayerSpec(
        type_id=kind,
        display_name=kind,
        category="Sequence",
        description=f"{kind} over a sequence N×L×F; outputs every step (N×L×H) or the final step (N×H).",
        params=(
            Int("hidden_size", 64, "Size of the hidden state.", 1, 65536),
            Int("num_layers", 1, "Stacked recurrent layers.", 1, 32),
            Bool("bidirectional", False, "Also read the sequence backwards (doubles the output width)."),
            Float("dropout", 0.0, "Dropout between stacked layers (needs 2+ layers).", 0.0, 0.99),
            Choice("output", "last", ("last", "sequence"), "'last' for classifying a whole sequence, "
                   "'sequence' to feed further sequence layers or predict every step."),
        ),
        infer=infer,
        build=lambda p, ins: ModuleCall("dc.RecurrentLayer", {
            "kind": kind.lower(), "input_size": ins[0].shape[2], "hidden_size": p["hidden_size"],
            "num_layers": p["num_layers"], "bidirectional": p["bidirectional"], "dropout": p["dropout"],
            "return_sequence": p["output"] == "sequence"}),
        cost=_recurrent_cost(kind),
        sample_inputs=(TensorType((None, 7, 5)),),
        examples=({"hidden_size": 6, "num_layers": 2, "bidirectional": True, "dropout": 0.0, "output": "last"},
                  {"hidden_size": 4, "num_layers": 1, "bidirectional": True, "dropout": 0.0,
                   "output": "sequence"}),
    )


def _stateful(kind: str) -> LayerSpec:
    """The recurrent layer a language model carries its state through: it takes an initial state
    and gives the final one besides the output sequence (torch's ``output, hidden = rnn(x, hidden)``)."""
    states = ("h0", "c0") if kind == "LSTM" else ("h0",)

    def ports(p, ins):
        t = first(ins)
        need_float(t)
        need_rank(t, (3,), "sequences shaped N×L×features",
                  "add a Reshape to L×1 for a single series, or an Embedding for token ids")
        dirs = 2 if p["bidirectional"] else 1
        state = TensorType((None, p["num_layers"] * dirs, p["hidden_size"]))
        for name, given in zip(states, ins[1:], strict=False):
            if given is not None and tuple(given.shape) != state.shape:
                raise ShapeError(f"needs its initial state '{name}' shaped {format_shape(state.shape)} "
                                 f"(layers·directions × hidden) but receives {format_shape(given.shape)}.")
        out = {"out": TensorType((None, t.shape[1], p["hidden_size"] * dirs)), "h_n": state}
        if kind == "LSTM":
            out["c_n"] = state
        return out

    return LayerSpec(
        type_id=f"Stateful{kind}",
        display_name=f"Stateful{kind}",
        category="Sequence",
        description=f"{kind} that starts from a given state and also passes on its final state: "
                    f"sequence N×L×F -> every step N×L×H plus the state N×layers×H (language models "
                    f"that carry the state from batch to batch). An unwired state starts from zeros.",
        inputs=(PortSpec("in"), *(PortSpec(name, optional=True, help="initial state N×layers×hidden "
                                           "(zeros when unwired)") for name in states)),
        outputs=("out", "h_n", "c_n") if kind == "LSTM" else ("out", "h_n"),
        params=(
            Int("hidden_size", 64, "Size of the hidden state.", 1, 65536),
            Int("num_layers", 1, "Stacked recurrent layers.", 1, 32),
            Bool("bidirectional", False, "Also read the sequence backwards (doubles the output width)."),
            Float("dropout", 0.0, "Dropout between stacked layers (needs 2+ layers).", 0.0, 0.99),
        ),
        infer=lambda p, ins: ports(p, ins)["out"],
        infer_ports=ports,
        build=lambda p, ins: ModuleCall("dc.StatefulRecurrent", {
            "kind": kind.lower(), "input_size": ins[0].shape[2], "hidden_size": p["hidden_size"],
            "num_layers": p["num_layers"], "bidirectional": p["bidirectional"], "dropout": p["dropout"]}),
        cost=_recurrent_cost(kind),
        sample_inputs=(TensorType((None, 7, 5)),),
        examples=({"hidden_size": 6, "num_layers": 2, "bidirectional": True, "dropout": 0.0},),
    )


def _sequence_pool_infer(p, ins):
    t = first(ins)
    need_float(t)
    if t.rank != 3:
        raise ShapeError(
            f"expects sequences shaped N×L×D but receives {format_shape(t.shape)}: "
            f"for images use GlobalAvgPool; a vector needs no pooling."
        )
    return TensorType((None, t.shape[2]))


SEQUENCE_POOL = LayerSpec(
    type_id="SequencePool",
    display_name="SequencePool",
    category="Sequence",
    description="Reduce a sequence N×L×D to one vector N×D (mean, max, first or last step).",
    params=(Choice("mode", "mean", ("mean", "max", "first", "last"), "How to combine the steps."),),
    infer=_sequence_pool_infer,
    build=lambda p, ins: ModuleCall("dc.SequencePool", {"mode": p["mode"]}),
    sample_inputs=(TensorType((None, 6, 4)),),
    examples=({"mode": "max"}, {"mode": "last"}),
)

LAYERS = (EMBEDDING, _recurrent("RNN"), _recurrent("GRU"), _recurrent("LSTM"), SEQUENCE_POOL, _stateful("RNN"),
          _stateful("GRU"), _stateful("LSTM"))
