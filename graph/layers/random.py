"""Layers that draw random numbers: noise like a tensor, a VAE's reparameterised sample, and
stochastic depth.

Imported models draw them inline (``eps = torch.randn_like(std)``; ``torchvision.ops.
stochastic_depth``); as layers they stay drawn nodes. What they draw follows PyTorch's global
generator, so a model and its import draw the same numbers under the same seed and in the same
order. RandnLike and Sampling draw in evaluation too (a VAE samples when it generates);
StochasticDepth, like Dropout, is the identity in evaluation.
"""

from __future__ import annotations

from graph.layers.spec import (
    Cost,
    LayerSpec,
    ModuleCall,
    PortSpec,
    ShapeError,
    TensorType,
    first,
    format_shape,
    need_float,
)
from graph.params import Choice, Float
from graph.tensor_type import numel


def _same_float(p, ins):
    t = first(ins)
    need_float(t, "noise is drawn for real-valued features; put an Embedding before it")
    return t


RANDN_LIKE = LayerSpec(
    type_id="RandnLike",
    display_name="Random normal",
    category="Math",
    description="Standard normal noise of its input's shape (torch.randn_like): the input gives only the "
                "shape. Drawn on every call, in training and in evaluation.",
    infer=_same_float,
    build=lambda p, ins: ModuleCall("dc.RandnLike", {}),
    sample_inputs=(TensorType((None, 8)),),
)


def _sampling_infer(p, ins):
    mu, logvar = ins
    assert mu is not None and logvar is not None
    for t in (mu, logvar):
        need_float(t, "mean and log-variance are real-valued features")
    if mu.shape != logvar.shape:
        raise ShapeError(f"needs a mean and a log-variance of one shape but receives {format_shape(mu.shape)} "
                         f"and {format_shape(logvar.shape)}: give both heads the same size.")
    return mu


SAMPLING = LayerSpec(
    type_id="Sampling",
    display_name="Sampling",
    category="Math",
    description="A VAE's reparameterised sample: mu + ε·exp(logvar / 2) with standard normal ε, so "
                "gradients reach the mean and the log-variance. It samples in evaluation too; for the mean "
                "alone, wire mu past it.",
    inputs=(PortSpec("mu", help="the mean"), PortSpec("logvar", help="the log-variance, same shape")),
    infer=_sampling_infer,
    build=lambda p, ins: ModuleCall("dc.Sampling", {}),
    cost=lambda p, ins, out: Cost(0, 3 * numel(out.shape[1:])),
    sample_inputs=(TensorType((None, 8)), TensorType((None, 8))),
)

STOCHASTIC_DEPTH = LayerSpec(
    type_id="StochasticDepth",
    display_name="Stochastic depth",
    category="Regularization",
    description="While training, drops a residual branch for a random share of the samples (mode row) or "
                "for the whole batch (mode batch) and scales the kept ones by 1 / (1 - p); the identity in "
                "evaluation. Put it on the branch, before the Add.",
    params=(
        Float("p", 0.2, "Probability of dropping the branch.", 0.0, 1.0),
        Choice("mode", "row", ("row", "batch"), "row: per sample; batch: the whole batch at once."),
    ),
    infer=_same_float,
    build=lambda p, ins: ModuleCall("dc.StochasticDepth", {"p": p["p"], "mode": p["mode"]}),
    sample_inputs=(TensorType((None, 8, 4, 4)),),
    examples=({"p": 0.5, "mode": "batch"}, {"p": 0.0, "mode": "row"}),
)

LAYERS = (RANDN_LIKE, SAMPLING, STOCHASTIC_DEPTH)
