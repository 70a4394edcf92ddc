"""Template quality: train every template with its own defaults, the way `python main.py train`
does (a saved project, a run folder, the engine in this process), and check each against the bar
the README states for it.

    python bench/template_quality.py [--only NAME ...] [--threads N]

Figures come from the last epoch, except for the GANs, whose kept weights are the best epoch's (by
val_quality: GAN training oscillates, and best.safetensors is what a person takes away). Prints
`name: value` lines per template (its figure, the bar, pass/fail, the training time), then the
headline `templates_meeting_bar: K/N` last.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graph  # noqa: E402
from engine.control import Control  # noqa: E402
from engine.runner import make_request  # noqa: E402
from engine.runs import load_run  # noqa: E402
from engine.session import execute_run  # noqa: E402
from graph.templates import list_templates, make_template  # noqa: E402


@dataclass(frozen=True)
class Bar:
    """The figure a template is judged by: its name in the output, how it is read from an epoch's
    metrics, and the bar it must reach (at least ``minimum`` or at most ``maximum``)."""

    figure: str
    read: Callable[[dict[str, Any]], float]
    minimum: float | None = None
    maximum: float | None = None
    shown: Callable[[dict[str, Any]], str] | None = None

    def passes(self, value: float) -> bool:
        if self.minimum is not None and not value >= self.minimum:
            return False
        return not (self.maximum is not None and not value <= self.maximum)

    def text(self) -> str:
        return f">= {self.minimum:g}" if self.minimum is not None else f"<= {self.maximum:g}"


def _metric(name: str) -> Callable[[dict[str, Any]], float]:
    return lambda m: float(m.get(name, float("nan")))


def _modes(m: dict[str, Any]) -> str:
    return f"{m.get('modes_covered')}/{m.get('modes_total')}"


def _classes(m: dict[str, Any]) -> str:
    return f"{m.get('classes_covered')}/{m.get('classes_total')}"


#: the bar each template must reach (the README's table states the same)
BARS: dict[str, list[Bar]] = {
    "mlp-digits": [Bar("val_accuracy", _metric("val_accuracy"), minimum=0.95)],
    "cnn-digits": [Bar("val_accuracy", _metric("val_accuracy"), minimum=0.97)],
    "lstm-sequence": [Bar("val_accuracy", _metric("val_accuracy"), minimum=0.93)],
    "transformer-sequence": [Bar("val_accuracy", _metric("val_accuracy"), minimum=0.93)],
    "rnn-sequence": [Bar("val_accuracy", _metric("val_accuracy"), minimum=0.85)],
    "gru-sequence": [Bar("val_accuracy", _metric("val_accuracy"), minimum=0.93)],
    "seq2seq-reverse": [Bar("token_accuracy", _metric("val_accuracy"), minimum=0.95)],
    "forecast-sine": [Bar("val_mse", _metric("val_mse"), maximum=0.01)],
    "char-lm": [Bar("char_accuracy", _metric("val_accuracy"), minimum=0.5)],
    "text-classifier": [Bar("val_accuracy", _metric("val_accuracy"), minimum=0.95)],
    "autoencoder-digits": [Bar("reconstruction_mse", _metric("val_reconstruction_error"), maximum=10.0)],
    "gan-mixture": [Bar("modes_covered", _metric("modes_covered"), minimum=8, shown=_modes),
                    Bar("high_quality_fraction", _metric("high_quality_fraction"), minimum=0.8)],
    "gan-digits": [Bar("classes_covered", _metric("classes_covered"), minimum=9, shown=_classes),
                   Bar("confident_fraction", _metric("confident_fraction"), minimum=0.6)],
}


def train(name: str, folder: Path) -> tuple[dict[str, Any], dict[str, Any], float]:
    """(the epoch line the figures come from, the report, seconds) for one template's default run."""
    project = make_template(name)
    path = folder / f"{name}.dcproj"
    graph.save_project(project, path)
    project = graph.load_project(path)
    request = make_request(project, folder / f"run-{name}", project_path=path)
    started = time.perf_counter()
    report = execute_run(request, lambda event: None, Control())
    seconds = time.perf_counter() - started
    if report["status"] != "completed":
        raise SystemExit(f"{name}: the run {report['status']}: {report.get('error')}")
    record = load_run(request.run_dir)
    line = record.epochs[-1]
    if project.settings["training"].get("recipe") == "gan" and report.get("best_epoch"):
        line = next(e for e in record.epochs if e["epoch"] == report["best_epoch"])
    return line, report, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="template names (default: all)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's choice)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.only or [t.name for t in list_templates()]
    unknown = [n for n in names if n not in BARS]
    if unknown:
        raise SystemExit(f"no bar for {', '.join(unknown)}: add it to BARS")
    print(f"threads: {torch.get_num_threads()}")
    met, total, figures = 0, 0, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            line, report, seconds = train(name, Path(tmp))
            ok = True
            for bar in BARS[name]:
                value = bar.read(line)
                passed = bar.passes(value)
                ok &= passed
                shown = bar.shown(line) if bar.shown else f"{value:.4g}"
                print(f"{name} {bar.figure}: {shown} (bar {bar.text()}: {'pass' if passed else 'FAIL'})")
                figures.setdefault(name, {})[bar.figure] = value
            print(f"{name} epochs: {report['epochs_done']} (figures of epoch {line['epoch']})")
            print(f"{name} train_s: {seconds:.1f}")
            figures[name]["seconds"] = round(seconds, 1)
            figures[name]["pass"] = ok
            met += ok
            total += 1
            sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    print(f"templates_meeting_bar: {met}/{total}")


if __name__ == "__main__":
    main()
