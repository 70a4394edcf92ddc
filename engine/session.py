"""One whole run, start to end: read the project, load and check the data, compile, train, record.

``execute_run`` is what the worker process runs, and what the CLI and tests call in-process; all
of them get the same run folder. It never raises for a training problem: every fault becomes a
``RunError`` event (with the step or node when known) and ``RunFinished(status="failed")``, and the
run folder keeps the settings, the metrics so far and the last good weights.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import TrainingError
from engine.events import (
    Event,
    LogMessage,
    RunError,
    RunFinished,
    RunStarted,
    StatusChanged,
)
from engine.options import DATASET_KEY, TRAINING_KEY, TrainingOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """What a run needs, all plain data (it is sent to the worker process as is)."""

    project: dict[str, Any]                 # graph.project_to_dict(project)
    run_dir: str
    network: str | None = None              # default: the project's first network
    overrides: dict[str, Any] | None = None # training options that replace the project's (CLI flags)
    base_dir: str | None = None             # folder relative data set paths are read from
    report_interval: float = 0.25
    checkpoint_interval: float = 10.0


def dataset_spec(settings: dict[str, Any], base_dir: str | None = None) -> Any:
    """The project's data set spec, with a relative path read from ``base_dir``."""
    from engine.data import DatasetSpec

    raw = settings.get(DATASET_KEY)
    if not raw:
        raise TrainingError("The project has no data set: choose one before training.", "data")
    spec = DatasetSpec.from_dict(raw)
    if spec.path and base_dir and not Path(spec.path).expanduser().is_absolute():
        from dataclasses import replace

        spec = replace(spec, path=str(Path(base_dir) / spec.path))
    return spec


class _LogForwarder(logging.Handler):
    """Warnings logged by the data loaders and the engine during a run become LogMessage events."""

    def __init__(self, emit: Callable[[Event], None], t0: float) -> None:
        super().__init__(logging.WARNING)
        self._emit, self._t0 = emit, t0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(LogMessage(time.monotonic() - self._t0, record.levelname.lower(), record.getMessage()))
        except Exception:  # logging must never break training
            pass


def execute_run(request: RunRequest, emit: Callable[[Event], None], control: Any = None) -> dict[str, Any]:
    """Run to the end and return the report (also written to ``report.json``)."""
    from engine.runs import RunRecorder

    t0 = time.monotonic()
    try:
        recorder = RunRecorder(request.run_dir)
    except TrainingError as exc:     # the run folder cannot be written at all (a full disk, say)
        return _unrecorded_failure(exc, emit, time.monotonic() - t0)
    trainer = None
    error: TrainingError | None = None
    details = ""
    result = None
    dataset = None
    device = None

    def tee(event: Event) -> None:
        recorder.on_event(event)
        emit(event)

    def now() -> float:
        return time.monotonic() - t0

    forwarder = _LogForwarder(emit, t0)
    watched = [logging.getLogger(name) for name in ("engine", "graph")]
    for logger in watched:
        logger.addHandler(forwarder)
    settings_raw = request.project.get("settings") or {}
    try:
        recorder.start({"project": request.project, "project_name": request.project.get("name", ""),
                        "network": request.network, "training": settings_raw.get(TRAINING_KEY),
                        "dataset": settings_raw.get(DATASET_KEY), "overrides": request.overrides or {},
                        "base_dir": request.base_dir})
    except TrainingError as exc:
        for logger in watched:
            logger.removeHandler(forwarder)
        recorder.close()
        return _unrecorded_failure(exc, emit, now())
    try:
        emit(StatusChanged(now(), "loading", "reading the project"))
        options, project, network = _read_project(request)
        recorder.update_settings(training=options.to_dict(), network=network.name)
        emit(StatusChanged(now(), "loading", "loading the data set"))
        dataset = _load_dataset(settings_raw, request.base_dir)
        from engine.recipes import make_recipe

        recipe = make_recipe(options, dataset, network)
        for warning in recipe.warnings:
            log.warning("%s", warning)     # forwarded as a LogMessage event
        emit(StatusChanged(now(), "loading", "building the network"))
        import torch

        from engine.devices import describe_device, resolve_device

        device = resolve_device(options.device)
        torch.manual_seed(options.seed)
        model = _compile(project, network.name, options.seed)
        trainer = recipe.make_trainer(model, dataset, options, recipe, device, tee, control, recorder,
                                      report_interval=request.report_interval,
                                      checkpoint_interval=request.checkpoint_interval, t0=t0)
        layers = {ident: node_id for node_id, ident in model.node_names.items()
                  if ident in trainer.grad_norms.groups}
        recorder.update_settings(device=describe_device(device), dataset_description=dataset.describe(),
                                 normalization=dataset.normalization, class_names=dataset.class_names)
        emit(RunStarted(now(), str(request.run_dir), describe_device(device), dataset.describe(), recipe.name,
                        options.epochs, trainer.steps_per_epoch, len(dataset.x_train), len(dataset.x_val),
                        trainer.parameter_count, layers,
                        tuple(dataset.class_names) if dataset.class_names else None, options.to_dict()))
        emit(StatusChanged(now(), "running", f"training on {describe_device(device)}"))
        result = trainer.run()
    except TrainingError as exc:
        error = exc
    except Exception as exc:  # every fault ends as a message, never as a crash
        error = _classify(exc, trainer, device, request.run_dir)
        if error.kind == "internal":
            details = traceback.format_exc()
    finally:
        for logger in watched:
            logger.removeHandler(forwarder)
    if details:
        log.error("training failed: %s", details)
    if error is not None and trainer is not None:
        try:
            trainer.save_after_failure(error)
        except Exception:  # pragma: no cover - a second fault while saving must not hide the first
            log.exception("could not save the weights after a failure")
    report = _report(request, result, error, trainer, dataset, now())
    try:
        report = recorder.finish(report)
    except TrainingError as exc:     # no room even for the report: say so, keep the metrics so far
        if error is None:
            error = exc
            report["status"] = "failed"
            report["error"] = {"kind": exc.kind, "message": exc.message, "step": None, "node": None}
        else:
            emit(LogMessage(now(), "warning", f"The report could not be written: {exc.message}"))
        report["report_written"] = False
    if error is not None:
        emit(RunError(now(), error.kind, error.message, error.step, error.node, details))
    emit(RunFinished(now(), report["status"], report))
    return report


def _unrecorded_failure(error: TrainingError, emit: Callable[[Event], None], elapsed: float) -> dict[str, Any]:
    """The report of a run whose folder could not be written (so it is only returned and sent)."""
    report = {"status": "failed", "error": {"kind": error.kind, "message": error.message, "step": None,
                                            "node": None},
              "elapsed_seconds": round(elapsed, 3), "report_written": False}
    emit(RunError(elapsed, error.kind, error.message))
    emit(RunFinished(elapsed, "failed", report))
    return report


def _read_project(request: RunRequest) -> tuple[TrainingOptions, Any, Any]:
    from graph.errors import GraphError
    from graph.project_file import project_from_dict

    try:
        project = project_from_dict(request.project)
        network = project.network(request.network)
    except GraphError as exc:
        raise TrainingError(f"The project cannot be read: {exc}", "network") from None
    options = TrainingOptions.from_dict(project.settings.get(TRAINING_KEY))
    if request.overrides:
        options = options.with_changes(**request.overrides)
    from graph.shapes import analyze

    problems = analyze(network).problems
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise TrainingError(f"The network '{network.name}' has problems to fix before training: "
                            f"{first.message}{more}", "network", node=first.node_id)
    return options, project, network


def _load_dataset(settings: dict[str, Any], base_dir: str | None) -> Any:
    from engine.data import DatasetError, load_dataset

    try:
        return load_dataset(dataset_spec(settings, base_dir))
    except DatasetError as exc:
        raise TrainingError(str(exc), "data") from None


def _compile(project: Any, network: str, seed: int) -> Any:
    from graph import compile_network
    from graph.errors import GraphError

    try:
        return compile_network(project, network, seed=seed)
    except GraphError as exc:
        raise TrainingError(f"The network cannot be built: {exc}", "network") from None


def _classify(exc: Exception, trainer: Any, device: Any, run_dir: str | None = None) -> TrainingError:
    from engine.devices import is_device_error, is_out_of_memory

    step = trainer.step + 1 if trainer is not None else None
    if isinstance(exc, OSError) and run_dir is not None and isinstance(exc.filename, str | os.PathLike) \
            and Path(exc.filename).resolve().is_relative_to(Path(run_dir).resolve()):
        from engine.runs import disk_error

        return disk_error(exc, Path(exc.filename), None)
    if is_out_of_memory(exc) or isinstance(exc, MemoryError):
        bs = trainer.batch_size if trainer is not None else None
        hint = f"lower the batch size (e.g. to {max(1, bs // 2)})" if bs else "lower the batch size"
        where = device.type.upper() if device is not None else "computer"
        return TrainingError(f"The {where} ran out of memory: {hint} or use a smaller network.", "oom", step=step)
    if is_device_error(exc):
        return TrainingError(f"The device failed: {str(exc).splitlines()[0]}. Try again, or train on the CPU.",
                             "device", step=step)
    return TrainingError(f"Training failed unexpectedly: {type(exc).__name__}: {exc}", "internal", step=step)


def _report(request: RunRequest, result: Any, error: TrainingError | None, trainer: Any, dataset: Any,
            elapsed: float) -> dict[str, Any]:
    report: dict[str, Any] = {"status": "failed" if error else (result.status if result else "failed")}
    if result is not None:
        report.update({"reason": result.reason, "epochs_done": result.epochs_done, "steps": result.steps,
                       "best_epoch": result.best_epoch, "best_value": result.best_value,
                       "final_metrics": _summary(result.last_metrics),
                       "train_seconds": round(result.train_seconds, 3)})
    elif trainer is not None:
        report.update({"epochs_done": getattr(trainer, "epochs_done", max(0, trainer.epoch - 1)),
                       "steps": trainer.step, "best_epoch": trainer.best_epoch, "best_value": trainer.best_value})
    if trainer is not None:
        report["monitor"] = trainer.options.resolved_monitor
        report["device"] = trainer.device.type
        diverged = getattr(trainer, "diverged", None)
        if diverged:
            report["diverged"] = diverged
            report["warnings"] = [*report.get("warnings", []), diverged["message"]]
    if error is not None:
        report["error"] = {"kind": error.kind, "message": error.message, "step": error.step, "node": error.node}
    if dataset is not None:
        report["dataset"] = dataset.describe()
    feed = getattr(trainer, "feed", None)
    if feed is not None:            # image sets: memory/cache/stream, why, and the unreadable files
        report["images"] = feed.summary()
    report["elapsed_seconds"] = round(elapsed, 3)
    return report


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The last epoch's scalar metrics (no confusion matrix or per-layer norms)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
