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

    def format(self) -> str:
        lines = [f"imported {self.source}: {len(self.mapped)} layer node(s), {len(self.opaque)} imported op(s)"]
        counts: dict[str, int] = {}
        for _, type_id in self.mapped:
            counts[type_id] = counts.get(type_id, 0) + 1
        if counts:
            lines.append("  layers: " + ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in counts.items()))
        for name, why in self.opaque:
            lines.append(f"  imported op '{name}': {why}")
        lines.append(f"  parameters: {self.params_imported:,} (model: {self.params_source:,})")
        lines.append(f"  outputs match the model's (largest difference {self.max_difference:.2g})")
        lines += [f"  note: {w}" for w in self.warnings]
        return "\n".join(lines)
