"""What one layer type declaration holds, and the small helpers its shape rules share.

A :class:`LayerSpec` is data: the palette, inspector, shape inference, compiler, exporter and
docs read the same object, so adding a layer means writing one declaration. Shape rules and costs
are plain Python (no torch) so inference stays cheap enough to rerun on every edit and the window
can show shapes before torch has even been imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from graph.errors import ShapeError
from graph.params import ParamSpec
from graph.tensor_type import FLOAT, LONG, TensorType, format_shape

Params = Mapping[str, Any]
Inputs = list[TensorType | None]
Role = Literal["layer", "input", "output"]


@dataclass(frozen=True)
class PortSpec:
    name: str
    #: a merge port takes any number of edges (Add, Concat, Multiply)
    multi: bool = False
    optional: bool = False
    help: str = ""


@dataclass(frozen=True)
class ModuleCall:
    """A torch module to build: ``cls`` is ``"nn.Name"`` (torch.nn) or ``"dc.Name"``
    (:mod:`graph.torch_modules`); ``kwargs`` hold only literals, so the exporter can write the
    very same call with ``repr`` and the compiler can make it without executing any text."""

    cls: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Cost:
    params: int = 0
    mult_adds: int = 0
    #: bytes per sample a layer keeps for backward besides its output (attention weights, a
    #: block's inside); the memory estimate adds its output itself
    activation_bytes: int = 0


InferFn = Callable[[Params, Inputs], TensorType]
#: for a node with several output ports (a block with several Output nodes): the type of each
PortsInferFn = Callable[[Params, Inputs], dict[str, TensorType]]
BuildFn = Callable[[Params, list[TensorType]], ModuleCall]
CostFn = Callable[[Params, list[TensorType], TensorType], Cost]


def _no_cost(params: Params, ins: list[TensorType], out: TensorType) -> Cost:
    return Cost()


@dataclass(frozen=True)
class LayerSpec:
    type_id: str
    display_name: str
    category: str
    description: str
    infer: InferFn
    build: BuildFn | None
    params: tuple[ParamSpec, ...] = ()
    inputs: tuple[PortSpec, ...] = (PortSpec("in"),)
    outputs: tuple[str, ...] = ("out",)
    cost: CostFn = _no_cost
    role: Role = "layer"
    version: int = 1
    #: ids under which older files stored this type; they still load
    legacy_ids: tuple[str, ...] = ()
    #: example params for the registry-wide tests and the docs (besides the defaults)
    examples: tuple[dict[str, Any], ...] = ()
    #: a per-sample input that fits the defaults, for tests, docs and the palette's preview
    sample_inputs: tuple[TensorType, ...] = ()
    tags: tuple[str, ...] = field(default_factory=tuple)
    #: set when ``outputs`` has several ports: the type leaving each (``infer`` gives the first's)
    infer_ports: PortsInferFn | None = None

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def input_port(self, name: str) -> PortSpec | None:
        for p in self.inputs:
            if p.name == name:
                return p
        return None

    @property
    def is_merge(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].multi


# ---------------------------------------------------------------------------------------------
# helpers for shape rules: each raises ShapeError with the second half of a sentence whose first
# half ("Dense 'fc1' ") inference adds, and says what to change.

def first(ins: Inputs) -> TensorType:
    t = ins[0]
    assert t is not None  # inference never calls a rule with a required input missing
    return t


def need_float(t: TensorType, hint: str = "") -> None:
    if t.dtype != FLOAT:
        raise ShapeError(
            f"receives token ids ({t.dtype}) but needs real-valued features: "
            f"{hint or 'put an Embedding before it'}."
        )


def need_rank(t: TensorType, ranks: tuple[int, ...], layout: str, fix: str) -> None:
    if t.rank not in ranks:
        raise ShapeError(f"expects {layout} but receives {format_shape(t.shape)}: {fix}.")


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def spatial_out(t: TensorType, kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...],
                dilation: tuple[int, ...] | None = None) -> tuple[int, ...]:
    dims = t.shape[2:]
    dilation = dilation or (1,) * len(dims)
    out = []
    for size, k, s, p, d in zip(dims, kernel, stride, padding, dilation, strict=True):
        assert size is not None
        o = conv_out(size, k, s, p, d)
        if o < 1:
            raise ShapeError(
                f"would produce an empty output: its input {format_shape(tuple(dims))} is smaller than "
                f"the kernel {format_shape(kernel)} (with padding {format_shape(padding)}); use a smaller "
                f"kernel, more padding, or fewer down-sampling layers before it."
            )
        out.append(o)
    return tuple(out)


def same_shapes(ins: list[TensorType], what: str) -> TensorType:
    shapes = {t.shape for t in ins}
    if len(shapes) > 1:
        listed = ", ".join(format_shape(t.shape) for t in ins)
        raise ShapeError(f"{what} tensors of one shape but receives {listed}: make the branches agree.")
    dtypes = {t.dtype for t in ins}
    if len(dtypes) > 1:
        raise ShapeError(f"{what} tensors of one dtype but receives {', '.join(sorted(dtypes))}.")
    return ins[0]


def check_dim(t: TensorType, dim: int, what: str) -> int:
    """Normalise a user-given dim against a tensor, refusing the batch dimension."""
    d = dim if dim >= 0 else t.rank + dim
    if d < 1 or d >= t.rank:
        raise ShapeError(
            f"has {what} {dim}, which is not a feature dimension of a {format_shape(t.shape)} tensor "
            f"(valid: 1..{t.rank - 1} or -1..-{t.rank - 1})."
        )
    return d


__all__ = [
    "FLOAT", "LONG", "Cost", "LayerSpec", "ModuleCall", "Params", "Inputs", "PortSpec",
    "TensorType", "ShapeError", "first", "need_float", "need_rank", "conv_out", "spatial_out",
    "same_shapes", "check_dim", "format_shape",
]
