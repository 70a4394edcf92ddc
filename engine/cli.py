"""``python main.py train PROJECT``: the same engine and run folder as the window, with a progress
bar on the terminal. It trains in this process (no worker needed without a window to protect);
Ctrl-C stops cleanly at the next step (weights and report saved), a second Ctrl-C aborts."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.options import DEVICES

#: metrics shown on each epoch line, in this order, when present
EPOCH_COLUMNS = ("train_loss", "g_loss", "d_loss", "val_loss", "train_accuracy", "val_accuracy", "val_f1",
                 "val_perplexity", "val_mse", "val_mae", "val_r2", "val_reconstruction_error", "modes_covered",
                 "high_quality_fraction", "classes_covered", "confident_fraction", "precision", "recall")
#: metrics repeated on the closing line when the run measured them
FINAL_COLUMNS = ("val_accuracy", "val_perplexity", "val_mse", "val_r2", "val_reconstruction_error",
                 "modes_covered", "classes_covered", "val_quality")
#: counts shown out of their total ("modes_covered 7/8")
_OUT_OF = {"modes_covered": "modes_total", "classes_covered": "classes_total"}


def add_commands(subparsers: argparse._SubParsersAction, commands: dict[str, Callable[[argparse.Namespace], int]]
                 ) -> None:
    p = subparsers.add_parser("train", help="train with the project's data set and options",
                              description="Train the project's network with its data set and training options; "
                                          "writes a run folder (settings, metrics.jsonl, weights, report).")
    p.add_argument("project", help="project file (.dcproj)")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the project's)")
    p.add_argument("--device", choices=DEVICES, help="where to train (default: the project's, usually auto)")
    p.add_argument("--run-dir", metavar="DIR", help="run folder to write (default: runs/<time>-<name>/ beside "
                                                    "the project)")
    p.add_argument("--batch-size", type=int, help="samples per step (default: the project's)")
    p.add_argument("--lr", type=float, help="learning rate (default: the project's)")
    p.add_argument("--seed", type=int, help="seed of the weights and batch order (default: the project's)")
    p.add_argument("--network", help="network to train (default: the first)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines; only the result")
    p.add_argument("--json", action="store_true", help="print the final report as JSON")
    commands["train"] = cmd_train


class _Progress:
    """Epoch lines on stdout; a live bar on stderr when it is a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and not quiet
        self.epochs = 0
        self.bar_shown = False

    def __call__(self, event: Any) -> None:
        from engine.events import EpochMetrics, RunError, RunStarted, StatusChanged, StepMetrics

        if isinstance(event, RunStarted):
            self.epochs = event.epochs
            if not self.quiet:
                print(f"training on {event.device}: {event.dataset}; {event.parameters:,} parameters, "
                      f"{event.steps_per_epoch} steps per epoch", flush=True)
        elif isinstance(event, StepMetrics) and self.tty:
            width = 24
            done = int(event.epoch_progress * width)
            sys.stderr.write(f"\r epoch {event.epoch}/{self.epochs} [{'#' * done}{'.' * (width - done)}] "
                             f"loss {event.loss:.4f}  {event.samples_per_sec:,.0f} samples/s ")
            sys.stderr.flush()
            self.bar_shown = True
        elif isinstance(event, EpochMetrics) and not self.quiet:
            self._clear()
            m = event.metrics
            cols = "  ".join(f"{k} {_shown(m, k)}" for k in EPOCH_COLUMNS if k in m)
            mark = " *" if event.is_best else ""
            print(f"epoch {event.epoch}/{self.epochs}  {cols}  ({m.get('epoch_time', 0):.1f} s){mark}", flush=True)
        elif isinstance(event, StatusChanged) and event.status == "stopping":
            self._clear()
            print("stopping at the end of this step (Ctrl-C again to abort)", file=sys.stderr, flush=True)
        elif isinstance(event, RunError):
            self._clear()

    def _clear(self) -> None:
        if self.bar_shown:
            sys.stderr.write("\r" + " " * 78 + "\r")
            sys.stderr.flush()
            self.bar_shown = False


def _shown(metrics: dict[str, Any], key: str) -> str:
    total = _OUT_OF.get(key)
    if total and total in metrics:
        return f"{metrics[key]}/{metrics[total]}"
    return _fmt(metrics[key])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)


def cmd_train(args: argparse.Namespace) -> int:
    import json

    import graph
    from engine.control import STOP, Control
    from engine.errors import TrainingError
    from engine.runner import make_request
    from engine.runs import runs_root
    from engine.session import execute_run

    path = Path(args.project)
    project = graph.load_project(path)
    from graph.memory import TooBigError, check_fits

    try:  # before the run folder is made: a network that cannot fit is refused with its reason
        check_fits(project.network(args.network), batch_size=args.batch_size, device=args.device)
    except TooBigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    overrides = {"epochs": args.epochs, "device": args.device, "batch_size": args.batch_size, "lr": args.lr,
                 "seed": args.seed}
    try:
        request = make_request(project, args.run_dir, project_path=path, network=args.network,
                               overrides={k: v for k, v in overrides.items() if v is not None})
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:           # the run folder cannot be made (a full disk, no permission)
        from engine.runs import disk_error

        where = Path(exc.filename or args.run_dir or runs_root(path)) / "settings.json"
        print(f"error: {disk_error(exc, where, None)}", file=sys.stderr)
        return 1
    control = Control()
    progress = _Progress(args.quiet or args.json)
    errors: list[Any] = []

    def emit(event: Any) -> None:
        from engine.events import RunError

        if isinstance(event, RunError):
            errors.append(event)
        progress(event)

    def on_interrupt(signum: int, frame: Any) -> None:
        if control.value == STOP:
            raise KeyboardInterrupt
        control.stop()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    started = time.monotonic()
    try:
        report = execute_run(request, emit, control)
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        print(json.dumps({**report, "run_dir": request.run_dir}, indent=2))
    status = report["status"]
    diverged = report.get("diverged") or {}
    for warning in report.get("warnings", []):
        if warning != diverged.get("message"):      # that one was logged while training
            print(f"warning: {warning}", file=sys.stderr)
    if report.get("report_written") is False:
        print(f"warning: {request.run_dir}/report.json could not be written; the metrics so far are kept",
              file=sys.stderr)
    if status == "failed":
        message = errors[-1].message if errors else report.get("error", {}).get("message", "training failed")
        print(f"error: {message}", file=sys.stderr)
        print(f"run folder: {request.run_dir}", file=sys.stderr)
        return 1
    if not args.json:
        best = report.get("best_epoch")
        monitor = report.get("monitor", "val_loss")
        final = report.get("final_metrics", {})
        parts = [f"{status} after {report.get('epochs_done', 0)} epoch(s) in {time.monotonic() - started:.1f} s"]
        if report.get("reason") == "early_stopping":
            parts.append("early stopping")
        if diverged:
            parts.append(f"DIVERGED from epoch {diverged.get('since_epoch')} (lower the learning rate)")
        if best is not None:
            parts.append(f"best epoch {best} ({monitor} {_fmt(report.get('best_value'))})")
        for key in FINAL_COLUMNS:
            if key in final:
                parts.append(f"last {key} {_shown(final, key)}")
        print("; ".join(parts))
        print(f"run folder: {request.run_dir}")
    return 130 if status == "stopped" and report.get("reason") == "user" else 0
