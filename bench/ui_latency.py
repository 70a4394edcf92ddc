"""GUI responsiveness while training: the longest the event loop is kept from serving a 5 ms timer.

    python bench/ui_latency.py [--template mlp-digits] [--epochs N] [--repeats R] [--no-floor]

Opens the real window offscreen with a template saved in a temporary folder, shows the training
panel and presses Start (a real run in a worker process, as a person would). From just before the
press until the run has finished (and its last redraws are done), a 5 ms QTimer notes when it fires;
the gap between two ticks is how long the window could not react. Everything the panel does during
a run is inside it: polling, curves, confusion matrix, log, progress, runs list. mlp-digits is the
default because its epochs take milliseconds, so it floods the panel with the most events.

The run is repeated (``--repeats``, in the same window, as a person trains again). Then, unless
``--no-floor``, the same run is polled by a bare QTimer with no window at all: the gaps that
measurement shows come from the machine (the worker competes for its cores), not from the panel.

Target: longest gap under 50 ms. Prints ``name: value`` lines; the headline ``max_tick_gap_ms``
(the longest gap over all repeats) last.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TICK_MS = 5


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def gaps_ms(ticks: list[float], start: float) -> list[float]:
    return [(b - a) * 1000 for a, b in zip(ticks, ticks[1:], strict=False) if a >= start]


class Ticker:
    """A 5 ms precise timer noting when it fires."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> None:
        self.ticks.clear()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def measure_panel_run(app: Any, panel: Any, timeout: float) -> dict[str, Any]:
    from PySide6.QtCore import QTimer

    from engine.events import EpochMetrics, RunStarted

    marks: dict[str, float] = {}
    counts = {"events": 0, "epochs": 0}
    ticker = Ticker()

    def on_events(events: list) -> None:
        counts["events"] += len(events)
        for e in events:
            if isinstance(e, RunStarted):
                marks.setdefault("started", time.perf_counter())
            elif isinstance(e, EpochMetrics):
                counts["epochs"] += 1

    def finished(_result: object) -> None:
        marks["finished"] = time.perf_counter()
        wait_for_redraws()

    def wait_for_redraws() -> None:
        if panel.plots.up_to_date or time.perf_counter() - marks["finished"] > 2:
            QTimer.singleShot(100, app.quit)
        else:
            QTimer.singleShot(20, wait_for_redraws)

    def press_start() -> None:
        marks["press"] = time.perf_counter()
        ok = panel.start()
        marks["start_call"] = time.perf_counter() - marks["press"]
        if not ok:
            app.quit()

    panel.controller.eventsArrived.connect(on_events)
    panel.controller.finished.connect(finished)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(app.quit)
    guard.start(int(timeout * 1000))
    redraws_before = panel.plots.redraw_count
    ticker.start()
    QTimer.singleShot(100, press_start)
    app.exec()
    ticker.stop()
    guard.stop()
    panel.controller.eventsArrived.disconnect(on_events)
    panel.controller.finished.disconnect(finished)
    if "finished" not in marks:
        raise RuntimeError(f"the run did not finish (status {panel.status})")
    gaps = gaps_ms(ticker.ticks, marks["press"] - 0.01)
    training = gaps_ms(ticker.ticks, marks.get("started", marks["press"]))
    return {"status": panel.status, "gaps": gaps, "training_gaps": training,
            "seconds": marks["finished"] - marks["press"], "events": counts["events"],
            "epochs": counts["epochs"], "redraws": panel.plots.redraw_count - redraws_before,
            "start_call_ms": marks["start_call"] * 1000}


def measure_floor(app: Any, project_path: Path, epochs: int, timeout: float) -> list[float]:
    """The same run polled by a bare timer, no window: the machine's own share of the gaps."""
    from PySide6.QtCore import QTimer

    import graph
    from engine.runner import start_run

    handle = start_run(graph.load_project(project_path), project_path=project_path, overrides={"epochs": epochs})
    ticker = Ticker()
    poll = QTimer()
    poll.setInterval(16)

    def do_poll() -> None:
        handle.poll()
        if handle.finished:
            app.quit()

    poll.timeout.connect(do_poll)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(app.quit)
    guard.start(int(timeout * 1000))
    ticker.start()
    poll.start()
    app.exec()
    poll.stop()
    ticker.stop()
    if not handle.finished:
        handle.kill()
    return gaps_ms(ticker.ticks, 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="mlp-digits")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-floor", action="store_true", help="skip the measurement without a window")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a run after this many seconds")
    args = parser.parse_args()

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        os.environ["DEEPCANVAS_RECOVERY_DIR"] = str(scratch / "recovery")
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0]])
        import graph
        from graph.templates import make_template
        from gui.app import create_window
        from gui.settings import AppSettings

        project_path = scratch / f"{args.template}.dcproj"
        graph.save_project(make_template(args.template), project_path)
        window = create_window(AppSettings(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)),
                               restore_layout=False)
        window.persist_layout = False
        window.files.remember_files = False
        window.files.interactive = False
        window.files.autosave_timer.stop()
        if not window.files.open_path(project_path, ask_to_save=False):
            return 1
        window.resize(1600, 1000)
        window.show()
        window.show_training()
        panel = window.training
        panel.overrides = {"epochs": args.epochs}
        # the panel settles first (the data-set list and preview load in the background)
        settle = time.monotonic() + 20
        while time.monotonic() < settle and not panel.picker.ready:
            app.processEvents()
            time.sleep(0.005)
        for _ in range(20):
            app.processEvents()

        runs = []
        for _ in range(max(1, args.repeats)):
            try:
                runs.append(measure_panel_run(app, panel, args.timeout))
            except RuntimeError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
        floor = [] if args.no_floor else measure_floor(app, project_path, args.epochs, args.timeout)
        panel.shutdown()
        window.files.shutdown()
        window.close()

    all_gaps = [g for r in runs for g in r["gaps"]]
    maxima = [max(r["gaps"]) for r in runs]
    seconds = sum(r["seconds"] for r in runs)
    print(f"template: {args.template}")
    print(f"epochs: {args.epochs}")
    print(f"repeats: {len(runs)}")
    print(f"statuses: {','.join(r['status'] for r in runs)}")
    print(f"run_seconds_mean: {seconds / len(runs):.2f}")
    print(f"events_per_run: {statistics.mean(r['events'] for r in runs):.0f}")
    print(f"plot_redraws_per_second: {sum(r['redraws'] for r in runs) / max(seconds, 1e-9):.1f}")
    print(f"start_call_ms_max: {max(r['start_call_ms'] for r in runs):.1f}")
    print(f"ticks: {len(all_gaps)}")
    print(f"tick_gap_median_ms: {statistics.median(all_gaps):.2f}")
    print(f"tick_gap_p99_ms: {percentile(all_gaps, 99):.2f}")
    print(f"max_tick_gap_per_run_ms: {', '.join(f'{m:.1f}' for m in maxima)}")
    print(f"max_tick_gap_while_training_ms: {max(max(r['training_gaps'], default=0.0) for r in runs):.2f}")
    if floor:
        print(f"floor_tick_gap_p99_ms: {percentile(floor, 99):.2f}")
        print(f"floor_max_tick_gap_ms: {max(floor):.2f}")
    print(f"max_tick_gap_ms: {max(maxima):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
