"""Canvas speed on large networks: full repaint, pan and zoom steps, and edit-to-refreshed-shapes.

    python bench/canvas_speed.py            # prints ``name: value`` lines, the headline last

Targets (issue 3): a frame under 16 ms at 500 nodes, an edit's shapes refreshed within 50 ms at
1000 nodes. Networks are built as parallel branches of Dense/ReLU/LayerNorm chains joined by a
Concat, so every node has a shape and an edit at the input changes every shape downstream.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPointF, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from graph import Network, Project  # noqa: E402
from graph.layout import apply_layout  # noqa: E402

REPEAT = 15


def make_network(nodes: int, branches: int = 10) -> Network:
    net = Network("main")
    x = net.add_node("Input", {"shape": (64,)}, "x").id
    per_branch = (nodes - 3) // branches
    kinds = ("Dense", "ReLU", "LayerNorm")
    ends = []
    for b in range(branches):
        prev = x
        count = per_branch + (1 if b < (nodes - 3) % branches else 0)
        for i in range(count):
            kind = kinds[i % 3]
            node = net.add_node(kind, {"units": 64} if kind == "Dense" else {}, f"b{b}_{i}")
            net.connect(prev, node.id)
            prev = node.id
        ends.append(prev)
    cat = net.add_node("Concat", {}, "join").id
    for end in ends:
        net.connect(end, cat)
    out = net.add_node("Output", {}, "y").id
    net.connect(cat, out)
    apply_layout(net)
    assert len(net) == nodes, len(net)
    return net


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def timed(fn, repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def bench(app: QApplication, nodes: int) -> dict[str, float]:
    from gui.commands import SetParamCommand
    from gui.main_window import MainWindow
    from gui.settings import AppSettings

    settings = AppSettings(QSettings(os.devnull, QSettings.Format.IniFormat))
    window = MainWindow(settings=settings, restore_layout=False)
    window.files.autosave_timer.stop()
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    net = make_network(nodes)
    t = time.perf_counter()
    window.session.replace_project(Project(name=f"{nodes} nodes", networks=[net]))
    app.processEvents()
    load = time.perf_counter() - t
    view = window.current_view()
    vp = view.viewport()
    out: dict[str, float] = {f"load_{nodes}_ms": ms(load)}

    # all nodes on screen (the worst case for a repaint)
    view.set_zoom(0.05)
    view.centerOn(view.canvas.nodes_rect().center())
    vp.repaint()
    out[f"repaint_all_visible_{nodes}_ms"] = ms(timed(vp.repaint))
    # a working zoom: 100 %, the viewport full of cards
    view.set_zoom(1.0)
    view.centerOn(view.canvas.nodes_rect().center())
    vp.repaint()
    out[f"repaint_100pct_{nodes}_ms"] = ms(timed(vp.repaint))

    def pan() -> None:
        view.pan_by_pixels(40, 0)
        vp.repaint()

    out[f"pan_step_{nodes}_ms"] = ms(timed(pan))
    anchor = QPointF(vp.width() / 2, vp.height() / 2)
    zooms = iter([1.1 ** (i % 6) for i in range(1, 100)])

    def zoom() -> None:
        view.set_zoom(next(zooms), anchor)
        vp.repaint()

    out[f"zoom_step_{nodes}_ms"] = ms(timed(zoom))

    # edit at the input: every shape downstream changes; time until the canvas items hold the new
    # shapes (analysis + item updates + panels), then the repaint that shows them
    x = net.find("x").id
    sizes = iter([65 + i for i in range(100)])
    edit_samples, paint_samples = [], []
    for _ in range(REPEAT):
        size = next(sizes)
        t = time.perf_counter()
        window.session.push(SetParamCommand(net, x, "shape", (size,)))
        edit_samples.append(time.perf_counter() - t)
        assert view.canvas.nodes[net.find("b0_0").id].param_count == size * 64 + 64
        t = time.perf_counter()
        vp.repaint()
        paint_samples.append(time.perf_counter() - t)
    out[f"edit_to_shapes_{nodes}_ms"] = ms(statistics.median(edit_samples))
    out[f"edit_repaint_{nodes}_ms"] = ms(statistics.median(paint_samples))
    window.session.undo_stack.setClean()
    window.close()
    return out


def main() -> int:
    app = QApplication.instance() or QApplication([])
    results: dict[str, float] = {}
    for nodes in (500, 1000):
        results.update(bench(app, nodes))
    frame_500 = max(results["repaint_all_visible_500_ms"], results["repaint_100pct_500_ms"],
                    results["pan_step_500_ms"], results["zoom_step_500_ms"])
    for name, value in results.items():
        print(f"{name}: {value}")
    print(f"worst_frame_500_ms: {frame_500}")
    print(f"edit_to_shapes_1000_ms: {results['edit_to_shapes_1000_ms']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
