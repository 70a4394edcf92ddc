"""A torchinfo-like summary of a network: per node output shape, parameters and multiply-adds."""

from __future__ import annotations

from dataclasses import dataclass

from graph.document import Network, Project
from graph.shapes import analyze


@dataclass(frozen=True)
class SummaryRow:
    id: str
    name: str
    type: str
    output_shape: str
    params: int
    mult_adds: int
    error: str | None


@dataclass(frozen=True)
class Summary:
    network: str
    rows: tuple[SummaryRow, ...]
    total_params: int
    total_mult_adds: int
    errors: tuple[str, ...]

    def to_json(self) -> dict:
        return {
            "network": self.network,
            "nodes": [{"id": r.id, "name": r.name, "type": r.type, "output_shape": r.output_shape,
                       "params": r.params, "mult_adds": r.mult_adds} for r in self.rows],
            "total_params": self.total_params,
            "total_mult_adds": self.total_mult_adds,
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
        if self.errors:
            out += ["", f"{len(self.errors)} problem(s):", *(f"  - {e}" for e in self.errors)]
        return "\n".join(out)


def summarize(target: Project | Network, network: str | None = None) -> Summary:
    net = target if isinstance(target, Network) else target.network(network)
    analysis = analyze(net)
    rows = []
    for node in net.topological_order():
        info = analysis.nodes[node.id]
        kind = f"Block:{node.params['block']}" if node.is_block else node.type_id
        rows.append(SummaryRow(node.id, node.name, kind, str(info.output) if info.output else "?",
                               info.cost.params, info.cost.mult_adds, info.error))
    return Summary(net.name, tuple(rows), analysis.total_params, analysis.total_mult_adds,
                   tuple(p.message for p in analysis.problems))
