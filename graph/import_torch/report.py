"""What an import gives back (project, weights, summary) and the one error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph.document import Project
from graph.errors import GraphError


class TorchImportError(GraphError):
    """The model cannot be imported; the message says which part and why."""


@dataclass
class ImportReport:
    project: Project
    #: the network's state dict, keyed like the compiled network's
    weights: dict[str, Any]
    source: str
    mapped: list[tuple[str, str]] = field(default_factory=list)       # (node name, layer type)
    opaque: list[tuple[str, str]] = field(default_factory=list)       # (node name, why)
    warnings: list[str] = field(default_factory=list)
    params_source: int = 0
    params_imported: int = 0
    max_difference: float = 0.0
    #: which tracer recorded the model (torch.fx with DeepCanvas's tracer)
    tracer: str = ""
    #: where the batch is in each of the model's input tensors (tuples such as (h, c) flattened);
    #: the network's Input nodes take them batch-first
    input_axes: list[int] = field(default_factory=list)
    #: per network output: the batch dimension in the model's tensor, and whether the model
    #: flattens the dimensions up to it into one (a sequence-first ``view(-1, k)``)
    output_layouts: list[tuple[int, bool]] = field(default_factory=list)

    def network_inputs(self, model_inputs: list[Any]) -> list[Any]:
        """The model's inputs (tuples flattened) as the imported network takes them: batch first."""
        flat = flatten_tensors(model_inputs)
        axes = self.input_axes or [0] * len(flat)
        return [t.movedim(axis, 0) if axis else t for t, axis in zip(flat, axes, strict=True)]

    def model_outputs(self, network_outputs: Any) -> list[Any]:
        """The network's outputs laid out as the model returns them (tuples flattened)."""
        flat = flatten_tensors(network_outputs)
        layouts = self.output_layouts or [(0, False)] * len(flat)
        return [to_model_layout(t, axis, merged) for t, (axis, merged) in zip(flat, layouts, strict=True)]

    def format(self) -> str:
        lines = [f"imported {self.source}: {len(self.mapped)} layer node(s), {len(self.opaque)} imported op(s)"]
        if self.tracer:
            lines.append(f"  traced with {self.tracer}")
        counts: dict[str, int] = {}
        for _, type_id in self.mapped:
            counts[type_id] = counts.get(type_id, 0) + 1
        if counts:
            lines.append("  layers: " + ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in counts.items()))
        for name, why in self.opaque:
            lines.append(f"  imported op '{name}': {why}")
        moved = [f"input {i + 1}: dimension {axis}" for i, axis in enumerate(self.input_axes) if axis]
        moved += [f"output {i + 1}: dimension {axis}{' (flattened with those before it)' if merged else ''}"
                  for i, (axis, merged) in enumerate(self.output_layouts) if axis or merged]
        if moved:
            lines.append("  batch-first network; the model's batch is at " + ", ".join(moved))
        lines.append(f"  parameters: {self.params_imported:,} (model: {self.params_source:,})")
        lines.append(f"  outputs match the model's (largest difference {self.max_difference:.2g})")
        lines += [f"  note: {w}" for w in self.warnings]
        return "\n".join(lines)


def flatten_tensors(value: Any) -> list[Any]:
    """Tensors in order, with tuples and lists (an LSTM's (h, c)) flattened."""
    if isinstance(value, tuple | list):
        return [t for v in value for t in flatten_tensors(v)]
    return [value]


def to_model_layout(tensor: Any, batch_dim: int, merged: bool) -> Any:
    """A batch-first network value as the model holds it: the batch moved to ``batch_dim``, then
    the dimensions up to it flattened into one when ``merged``."""
    if batch_dim:
        tensor = tensor.movedim(0, batch_dim)
    return tensor.flatten(0, batch_dim) if merged else tensor
