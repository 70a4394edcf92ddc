"""Time a full shape-inference pass over a 1000-node network (target: under 50 ms).

Prints `name: value` lines; the headline (median full pass in ms) is last.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graph  # noqa: E402
from graph.shapes import analyze  # noqa: E402


def big_network(target_nodes: int = 1000) -> graph.Network:
    """A deep residual MLP with a convolutional stem: merges, branches and many layer kinds."""
    b = graph.NetworkBuilder("big")
    x = b.input((3, 32, 32))
    h = b.chain(x, ("Conv2d", {"filters": 16}), ("BatchNorm2d", {}), "ReLU", ("MaxPool2d", {}),
                "GlobalAvgPool", ("Dense", {"units": 64}))
    while len(b.network) < target_nodes - 6:
        branch = b.chain(h, ("Dense", {"units": 64}), ("LayerNorm", {}), "GELU", ("Dropout", {"p": 0.1}),
                         ("Dense", {"units": 64}))
        h = b.add("Add", h, branch)
    h = b.chain(h, ("Dense", {"units": 10}))
    while len(b.network) < target_nodes - 1:
        h = b.add("ReLU", h)
    b.output(h)
    return b.network


def main() -> None:
    net = big_network()
    assert len(net) == 1000, len(net)
    probe = net.find("dense_1").id
    times = []
    for _ in range(30):
        net.set_param(probe, "units", 65)  # invalidates the cache like a user edit does
        net.set_param(probe, "units", 64)
        start = time.perf_counter()
        result = analyze(net)
        times.append((time.perf_counter() - start) * 1000)
    assert result.ok, result.problems[:3]
    print(f"nodes: {len(net)}")
    print(f"edges: {len(net.edges)}")
    print(f"best_full_pass_ms: {min(times):.2f}")
    print("target_ms: 50")
    print(f"median_full_pass_ms: {statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
