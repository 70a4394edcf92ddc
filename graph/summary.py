"""A torchinfo-like summary of a network: per node output shape, parameters and multiply-adds, and
the memory training needs (per node and in all) against the memory there is."""

from __future__ import annotations

from dataclasses import dataclass

from graph.document import Network, Project
from graph.memory import format_bytes
from graph.shapes import NodeInfo, analyze


@dataclass(frozen=True)
class SummaryRow:
    id: str
    name: str
    type: str
    output_shape: str
    params: int
    mult_adds: int
    error: str | None
    #: bytes the node keeps alive while training with the project's batch size (graph.memory)
    memory: int = 0


@dataclass(frozen=True)
class Summary:
    network: str
    rows: tuple[SummaryRow, ...]
    total_params: int
    total_mult_adds: int
    errors: tuple[str, ...]
    batch_size: int = 0
    #: bytes training needs in all, and how much there is (None: unknown)
    memory_needed: int = 0
    memory_limit: int | None = None
    memory_where: str = ""
    #: why the network cannot fit that memory (also one of ``errors``); None when it fits
    memory_error: str | None = None

    @property
    def too_big(self) -> bool:
        return self.memory_error is not None

    def to_json(self) -> dict:
        return {
            "network": self.network,
            "nodes": [{"id": r.id, "name": r.name, "type": r.type, "output_shape": r.output_shape,
                       "params": r.params, "mult_adds": r.mult_adds, "memory_bytes": r.memory} for r in self.rows],
            "total_params": self.total_params,
            "total_mult_adds": self.total_mult_adds,
            "memory": {"batch_size": self.batch_size, "needed_bytes": self.memory_needed,
                       "limit_bytes": self.memory_limit, "fits": not self.too_big},
            "errors": list(self.errors),
        }

    def format_table(self) -> str:
        headers = ("Node", "Type", "Output shape", "Params", "Mult-adds")
        body = [(r.name, r.type, r.output_shape, f"{r.params:,}", f"{r.mult_adds:,}") for r in self.rows]
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(headers)]
        widths[0] = min(widths[0], 40)

        def line(cells: tuple[str, ...]) -> str:
            left = [c[: widths[i]].ljust(widths[i]) for i, c in enumerate(cells[:3])]
            right = [c.rjust(widths[i + 3]) for i, c in enumerate(cells[3:])]
            return "  ".join(left + right).rstrip()

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        out = [f"Network: {self.network}", rule, line(headers), rule, *(line(row) for row in body), rule,
               f"Total params: {self.total_params:,}", f"Total mult-adds (per sample): {self.total_mult_adds:,}"]
        if self.batch_size:
            there = f"; {self.memory_where}" if self.memory_where else ""
            out.append(f"Training memory (batch of {self.batch_size}): at least {format_bytes(self.memory_needed)}"
                       f"{there}{' -- TOO BIG' if self.too_big else ''}")
        if self.errors:
            out += ["", f"{len(self.errors)} problem(s):", *(f"  - {e}" for e in self.errors)]
        return "\n".join(out)


def summarize(target: Project | Network, network: str | None = None) -> Summary:
    net = target if isinstance(target, Network) else target.network(network)
    analysis = analyze(net)
    budget = analysis.budget
    rows = []
    for node in net.topological_order():
        info = analysis.nodes[node.id]
        kind = f"Block:{node.params['block']}" if node.is_block else node.type_id
        need = info.memory.need(budget) if budget is not None else 0
        rows.append(SummaryRow(node.id, node.name, kind, _shape_text(info),
                               info.cost.params, info.cost.mult_adds, info.error, need))
    limit = budget.limit if budget is not None else None
    return Summary(net.name, tuple(rows), analysis.total_params, analysis.total_mult_adds,
                   tuple(p.message for p in analysis.problems), budget.batch_size if budget is not None else 0,
                   sum(r.memory for r in rows), limit.bytes if limit is not None else None,
                   limit.describe() if limit is not None else "",
                   next((p.message for p in analysis.problems if p.kind == "memory"), None))


def _shape_text(info: NodeInfo) -> str:
    """The output shape; for a node with several outputs, each port's (``mean N×2, logvar N×2``)."""
    if info.ports:
        return ", ".join(f"{port} {t}" for port, t in info.ports.items())
    return str(info.output) if info.output else "?"
