"""The values a conversion passes around, and how an imported op's call is recorded as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from graph.import_torch.fx_calls import describe
from graph.import_torch.report import TorchImportError
from graph.layers.opaque import MAX_TEXT, format_in_shapes
from graph.tensor_type import TensorType


@dataclass
class Source:
    """A traced tensor as the drawn network holds it. The drawn network is batch-first; the model's
    own value is ``drawn.movedim(0, batch_dim)``, then ``.flatten(0, batch_dim)`` when ``merged``
    (a sequence-first model's ``view(-1, features)``)."""
    node_id: str
    type: TensorType
    #: the output port of the node it leaves (nodes with several outputs: a stateful LSTM's h_n)
    port: str = "out"
    batch_dim: int = 0
    merged: bool = False

    @property
    def canonical(self) -> bool:
        """Whether the model's value is the drawn one (batch first, nothing merged)."""
        return self.batch_dim == 0 and not self.merged


@dataclass
class TupleValue:
    """A traced value that is a tuple (an RNN's (output, state), torch.max's (values, indices)):
    what it becomes is decided by the getitem that reads it."""
    fx_node: Any
    path: tuple[int, ...] = ()


def single_pick(pick: int | tuple[int, ...], n: Any) -> int:
    if isinstance(pick, int):
        return pick
    if len(pick) != 1:
        raise TorchImportError(f"step '{n.name}' reads a value nested inside a tuple; DeepCanvas can keep one "
                               f"element of a tuple result")
    return pick[0]


def opaque_params(n: Any, op: str, args: Any, kwargs: Any, init: Any, pick: int, inputs: list[Source],
                   out: TensorType, param_count: int) -> dict[str, Any]:
    params = {"op": op, "args": json_text(args, n), "kwargs": json_text(kwargs, n), "init": json_text(init, n),
              "pick": pick, "in_shapes": format_in_shapes([s.type for s in inputs]),
              "out_shape": tuple(out.shape[1:]) if out.shape[:1] == (None,) else tuple(out.shape),
              "out_dtype": out.dtype, "batched": out.shape[:1] == (None,), "param_count": param_count}
    if len(params["in_shapes"]) > MAX_TEXT:
        raise TorchImportError(f"step '{n.name}' ({describe(n)}) reads too many tensors to be recorded")
    if len(params["out_shape"]) > 8:
        raise TorchImportError(f"step '{n.name}' makes a tensor of more than 8 dimensions")
    return params


def json_text(value: Any, n: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_TEXT:
        raise TorchImportError(f"step '{n.name}' ({describe(n)}) has arguments too long to record "
                               f"({len(text)} characters, at most {MAX_TEXT})")
    return text


def to_json(value: Any) -> Any:
    """An ImportedOp's decoded arguments back to their JSON form."""
    if isinstance(value, tuple):
        return [to_json(v) for v in value]
    if isinstance(value, slice):
        return {"$slice": [to_json(value.start), to_json(value.stop), to_json(value.step)]}
    if value is Ellipsis:
        return "$..."
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
