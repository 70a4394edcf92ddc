"""torch.fx tracing and the recorded runs (ShapeProp-like) that give every traced value its shape.

The model runs on batches of two sizes (:data:`BATCHES`), so a value that follows the batch size
can be told from one that only happens to equal it.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

from graph.import_torch.report import TorchImportError

#: the two batch sizes the model runs with; a value equal to them in both runs is the batch size
BATCHES = (3, 5)
#: graph.torch_modules classes that exported scripts copy; they map back to their layers
OUR_CLASSES = ("Reshape", "GlobalAvgPool", "SequencePool", "RecurrentLayer", "Attention", "PositionalEncoding",
                "TransformerEncoderStack", "TransformerDecoderStack", "Add", "Multiply", "Concat", "ImportedOp")


def our_class(module: Any) -> str | None:
    """The graph.torch_modules class a module is (or a verbatim copy of, as exported scripts hold)."""
    from graph import torch_modules

    cls = type(module)
    name = cls.__name__
    if name not in OUR_CLASSES:
        return None
    ours = getattr(torch_modules, name)
    if cls is ours:
        return name
    try:
        same = _normalised(inspect.getsource(cls)) == _normalised(inspect.getsource(ours))
    except (OSError, TypeError):
        return None
    return name if same else None


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in textwrap.dedent(source).strip().splitlines())


def trace(model: Any) -> Any:
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return our_class(m) is not None or super().is_leaf_module(m, qualname)

    tracer = Tracer()
    try:
        graph = tracer.trace(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TorchImportError(
            f"{type(model).__name__} cannot be traced with torch.fx ({type(exc).__name__}: {first}). torch.fx "
            f"records the forward once with symbolic tensors, so it cannot follow Python decisions on tensor "
            f"values (`if x.sum() > 0`), loops over a tensor, or calls into numpy; move such code out of "
            f"forward.") from None
    gm = torch.fx.GraphModule(tracer.root, graph)
    # unpacking leaves unused steps (`_, (h, _) = self.lstm(x)`); only what reaches the output counts
    gm.graph.eliminate_dead_code()
    gm.recompile()
    return gm


def rebatch(tensor: Any, size: int) -> Any:
    import torch

    return tensor[torch.arange(size) % tensor.shape[0]]


def run_recorded(gm: Any, inputs: list[Any]) -> dict[Any, Any]:
    import torch
    import torch.fx

    values: dict[Any, Any] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            result = super().run_node(n)
            values[n] = result
            return result

    with torch.no_grad():
        try:
            Recorder(gm).run(*inputs)
        except Exception as exc:
            raise TorchImportError(f"the model fails on the example input: {type(exc).__name__}: {exc}. "
                                   f"Check --input-shape (per sample, without the batch).") from None
    return values
