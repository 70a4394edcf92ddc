"""An existing PyTorch ``nn.Module`` -> a DeepCanvas project with its weights.

The model is traced with ``torch.fx`` and run twice on example batches of two sizes, which gives
every value's shape and tells which values follow the batch size. Each traced step then becomes:

- a registry layer with its params, when the module or function is one DeepCanvas draws (nn.Linear
  -> Dense, torch.cat -> Concat, view/reshape -> Reshape, ``x[:, -1]`` -> SequencePool, our own
  exported scripts' helper classes -> their layers, ...);
- nothing, when it only computes sizes (``x.size(0)``): the sizes become literals, the batch size
  the marker ``$N``;
- otherwise an ``ImportedOp`` node (graph/layers/opaque.py) that records the call by name with its
  literal arguments and traced shapes, clearly marked as imported code.

The result is checked before it is returned: the imported network must compile, take the model's
weights without a missing or extra tensor, and compute the same outputs on the example batch.
Submodules become nested blocks (hierarchy), or one flat network on request. torch is imported only when this package is used.

Modules: report (ImportReport, TorchImportError), target (MODULE:CLASS and example inputs), tracing
(torch.fx and the recorded runs), export_path
(torch.export, for models fx cannot trace: the branches the example takes), converter (the walk), module_table and function_table (what maps to
which layer), fx_calls and records (reading and recording traced calls), assembly (import_model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph.import_torch.assembly import import_model
from graph.import_torch.report import ImportReport, TorchImportError
from graph.import_torch.target import example_inputs, load_target, parse_shapes


def import_torch(target: str, input_shapes: Sequence[tuple[int, ...]] | None = None,
                 dtypes: Sequence[str] | None = None, kwargs: dict[str, Any] | None = None,
                 name: str | None = None, flatten: bool = False) -> ImportReport:
    """``MODULE:CLASS`` -> an ImportReport (project, weights, summary); submodules become nested
    blocks unless ``flatten``."""
    model, pymod = load_target(target, kwargs)
    class_name = target.rpartition(":")[2]
    inputs = example_inputs(pymod, input_shapes, dtypes, getattr(pymod, class_name, None))
    return import_model(model, inputs, name=name or class_name, source=target, flatten=flatten)


__all__ = ["ImportReport", "TorchImportError", "example_inputs", "import_model", "import_torch", "load_target",
           "parse_shapes"]
