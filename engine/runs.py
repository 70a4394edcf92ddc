"""Run folders: every run is kept, so it can be reopened, compared and its weights reused.

Layout (``runs/`` beside the project file)::

    runs/20260122-101530-mlp-on-digits/
        settings.json      what was trained: the whole project as JSON, options, data set, versions
        metrics.jsonl      one JSON object per line: {"type": "step", ...} and {"type": "epoch", ...}
        last.safetensors   weights at the end (or of the last good epoch after a fault)
        best.safetensors   weights of the best epoch (by the monitored metric), written as soon as
                           an epoch improves on it
        previews.json      the latest preview of each kind (reconstructions, generated samples,
                           sampled text, a forecast): {"<kind>": {"epoch": E, "data": {...}}}
        report.json        how it ended: status, error, best epoch, final metrics, timings

Epoch lines carry ``epoch``, ``train_loss``, ``val_loss`` and the recipe's metrics by name
(``val_accuracy``, ``val_f1``, ``val_r2``, ...). Weight files hold the compiled network's
``state_dict`` (keys like ``dense_1.weight``), which the exported script's model loads as is.
JSON files are written atomically; the metrics log is appended and flushed line by line, and a
reader skips a last line cut short by a crash. Each weights file says in its safetensors metadata
which epoch (and step, monitored metric and value) it holds, so after a crash the files speak for
themselves (:func:`saved_weights`) and loaders name that epoch rather than the one the metrics
call best. A full disk becomes a :class:`TrainingError` of kind ``"disk"`` that names the folder and
the space needed (see docs/run-folder.md). Importing this module does not import torch.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import platform
import re
import shutil
import struct
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.errors import TrainingError

log = logging.getLogger(__name__)

RUNS_DIRNAME = "runs"
SETTINGS = "settings.json"
METRICS = "metrics.jsonl"
REPORT = "report.json"
PREVIEWS = "previews.json"
WEIGHTS = {"last": "last.safetensors", "best": "best.safetensors"}
RUN_FORMAT = "deepcanvas-run"
RUN_FORMAT_VERSION = 1


# -- locations ------------------------------------------------------------------------------------
def runs_root(project_path: str | os.PathLike[str]) -> Path:
    """The runs folder of a project: ``runs/`` in the project file's folder (or in a folder given)."""
    path = Path(project_path)
    return (path if path.is_dir() else path.parent) / RUNS_DIRNAME


def _slug(name: str) -> str:
    slug = re.sub(r"[^0-9a-zA-Z]+", "-", name.encode("ascii", "ignore").decode()).strip("-").lower()
    return slug[:40] or "run"


def new_run_dir(root: str | os.PathLike[str], name: str = "run", now: datetime | None = None) -> Path:
    """Create and return ``root/<YYYYmmdd-HHMMSS>-<name>/`` (numbered if that exists already)."""
    root = Path(root)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(name)}"
    for k in range(1, 10_000):
        path = root / (base if k == 1 else f"{base}-{k}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise TrainingError(f"Cannot create a run folder in {root}: too many runs with the same name and time.")


def prepare_run_dir(path: str | os.PathLike[str]) -> Path:
    """Use ``path`` as a run folder: created when missing; an existing run is never overwritten."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise TrainingError(f"{path} is a file, not a folder: choose a folder for the run.", "options")
    if path.is_dir() and any((path / name).exists() for name in (SETTINGS, METRICS, REPORT)):
        raise TrainingError(f"{path} already holds a run; choose a new folder so that run is kept.", "options")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_json(path: Path, data: Any) -> None:
    from graph.project_file import atomic_write

    text = json.dumps(_json_safe(data), indent=2, ensure_ascii=False, allow_nan=False)
    data_bytes = (text + "\n").encode("utf-8")
    try:
        atomic_write(path, data_bytes)
    except OSError as exc:
        raise disk_error(exc, path, len(data_bytes)) from None


#: errno values that mean "no room": a full disk, or a quota used up
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _size(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def disk_error(exc: OSError, file: Path, needed: int | None) -> TrainingError:
    """A failed write in a run folder as a sentence naming the folder and what to do: a full disk
    (or quota) says how much space the write needed and how much is free."""
    folder = Path(file).parent
    if exc.errno in _NO_SPACE:
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            free = None
        short = needed - free if needed is not None and free is not None and needed > free else needed
        left = f" ({_size(free)} free)" if free is not None else ""
        what = (f"writing {Path(file).name} needs {_size(needed)}. Free at least {_size(short)} there"
                if needed is not None else f"{Path(file).name} could not be written. Free some space there")
        return TrainingError(f"The disk holding the run folder {folder} is full{left}: {what}, or train into a run "
                             "folder on another disk (train --run-dir DIR).", "disk")
    return TrainingError(f"Cannot write {Path(file).name} in the run folder {folder}: {exc.strerror or exc}. Check "
                         "that the folder is writable, or train into another run folder (train --run-dir DIR).",
                         "disk")


def _json_safe(value: Any) -> Any:
    """NaN/inf become null (JSON has no such numbers); numpy scalars become Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _json_safe(value.item())
    return value


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        pass
    return info


# -- writing a run --------------------------------------------------------------------------------
class RunRecorder:
    """Writes one run folder as the run goes. Used inside the worker (and by the CLI in-process)."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # unbuffered: a line is either all on disk or (after a failed write) cut off again
            self._log = (self.path / METRICS).open("ab", buffering=0)
        except OSError as exc:
            raise disk_error(exc, self.path / METRICS, None) from None
        #: epoch of each weights file written by this recorder (the checkpoint writer thread adds)
        self.weights: dict[str, int] = {}
        self.previews: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def start(self, settings: dict[str, Any]) -> None:
        data = {"format": RUN_FORMAT, "format_version": RUN_FORMAT_VERSION,
                "started": datetime.now().isoformat(timespec="seconds"), "environment": environment(), **settings}
        _write_json(self.path / SETTINGS, data)

    def update_settings(self, **changes: Any) -> None:
        path = self.path / SETTINGS
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        data.update(changes)
        _write_json(path, data)

    def line(self, record: dict[str, Any]) -> None:
        try:
            text = json.dumps(record, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):      # NaN/inf or numpy scalars: the slow, careful way
            text = json.dumps(_json_safe(record), ensure_ascii=False, allow_nan=False)
        data = (text + "\n").encode("utf-8")
        with self._lock:
            if self._log.closed:
                return
            start = self._log.tell()
            try:
                written = 0
                while written < len(data):
                    written += self._log.write(data[written:]) or 0
            except OSError as exc:
                # take back the part that got written, so the next line does not join a torn one
                with contextlib.suppress(OSError):
                    os.ftruncate(self._log.fileno(), start)
                    self._log.seek(start)
                raise disk_error(exc, self.path / METRICS, len(data)) from None

    def on_event(self, event: Any) -> None:
        """Log the metric events (the runner tees every event through here)."""
        from engine.events import EpochMetrics, PreviewSamples, RunStarted, StepMetrics

        if isinstance(event, RunStarted):
            # a reopened run labels its per-layer curves with the canvas nodes they belong to
            self.update_settings(layers=event.layers)
        elif isinstance(event, StepMetrics):
            self.line({"type": "step", "step": event.step, "epoch": event.epoch,
                       "epoch_progress": round(event.epoch_progress, 4), "time": round(event.time, 3),
                       "loss": event.loss, "lr": event.lr, "samples_per_sec": event.samples_per_sec,
                       "grad_norm": event.grad_norm, "grad_norms": event.grad_norms,
                       **({"memory_mb": event.memory_mb} if event.memory_mb is not None else {}),
                       **event.losses})
        elif isinstance(event, EpochMetrics):
            self.line({"type": "epoch", **event.metrics, "time": round(event.time, 3), "is_best": event.is_best})
        elif isinstance(event, PreviewSamples):
            # the latest of each kind, rewritten whole (atomically) once per epoch: a reopened run
            # shows what the model made last
            self.previews[event.kind] = {"epoch": event.epoch, "time": round(event.time, 3), "data": event.data}
            try:
                _write_json(self.path / PREVIEWS, self.previews)
            except (TrainingError, ValueError) as exc:  # a preview must never stop a run
                log.warning("could not save the previews: %s", exc)

    def save(self, which: str, state: dict[str, Any], epoch: int, info: dict[str, Any] | None = None) -> None:
        """Write ``last`` or ``best`` weights (safetensors, atomic): the old file stays whole until
        the new one is complete. The metadata names the epoch, plus what ``info`` adds (``step``,
        ``monitor``, ``value``, ``complete``). A failed write raises a TrainingError of kind "disk"."""
        from safetensors.torch import save

        from graph.project_file import atomic_write

        tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        meta = {"format": "deepcanvas-weights", "which": which, "epoch": str(epoch)}
        meta.update({str(k): str(v) for k, v in (info or {}).items() if v is not None})
        data = save(tensors, metadata=meta)
        file = self.path / WEIGHTS[which]
        try:
            atomic_write(file, data)
        except OSError as exc:
            raise disk_error(exc, file, len(data)) from None
        self.weights[which] = epoch

    def finish(self, report: dict[str, Any]) -> dict[str, Any]:
        """Write ``report.json`` (with the epoch each weights file holds) and close the log; returns
        the report as written. When the best epoch's weights never reached the disk, the report says
        so in ``warnings``."""
        try:
            report = {**report, "finished": datetime.now().isoformat(timespec="seconds"),
                      "weights": {k: {"file": WEIGHTS[k], "epoch": e} for k, e in self.weights.items()}}
            note = best_weights_note(report.get("best_epoch"), self.weights.get("best"),
                                     self.weights.get("last"))
            if note:
                report["warnings"] = [*report.get("warnings", []), note]
            _write_json(self.path / REPORT, report)
            return report
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            if not self._log.closed:
                with contextlib.suppress(OSError):
                    self._log.close()


def best_weights_note(best_epoch: Any, best_saved: int | None, last_saved: int | None) -> str | None:
    """A warning when the best epoch's weights are not on disk (the run ended before they could be
    written, or the disk was full), saying which epoch the weights files hold instead."""
    if not isinstance(best_epoch, int) or best_saved == best_epoch or last_saved == best_epoch:
        return None
    held = [f"{WEIGHTS[k]} holds epoch {e}" for k, e in (("best", best_saved), ("last", last_saved))
            if e is not None]
    return (f"The weights of the best epoch ({best_epoch}) were not saved; "
            + ("; ".join(held) if held else "no weights were saved") + ".")


def write_report_if_missing(run_dir: str | os.PathLike[str], report: dict[str, Any]) -> bool:
    """Used by the parent process when a worker died before writing its own report."""
    path = Path(run_dir) / REPORT
    if path.exists():
        return False
    weights = {which: {"file": info["file"], "epoch": info.get("epoch")}
               for which, info in saved_weights(run_dir).items()}
    report = {**report, "finished": datetime.now().isoformat(timespec="seconds"), "weights": weights}
    best = best_epoch_in_metrics(run_dir)
    if best is not None:
        report.setdefault("best_epoch", best[0])
        note = best_weights_note(best[0], (weights.get("best") or {}).get("epoch"),
                                 (weights.get("last") or {}).get("epoch"))
        if note:
            report["warnings"] = [*report.get("warnings", []), note]
    _write_json(path, report)
    return True


# -- what the weights files hold --------------------------------------------------------------------
def weights_metadata(file: str | os.PathLike[str]) -> dict[str, str] | None:
    """The ``__metadata__`` of a safetensors file, read from its header alone (no tensor is loaded,
    torch is not imported); None when the file is missing or not safetensors."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                return None
            (size,) = struct.unpack("<Q", head)
            if size > 100_000_000:
                return None
            header = json.loads(fh.read(size))
    except (OSError, ValueError):
        return None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def _int(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def saved_weights(run_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """What each weights file of a run holds, from the files themselves: ``{"best": {"file":
    "best.safetensors", "epoch": 3, "step": 120, "monitor": "val_loss", "value": 0.37, "complete":
    True}}``. Files written before the epoch was recorded in them have ``epoch`` None."""
    out: dict[str, dict[str, Any]] = {}
    for which, name in WEIGHTS.items():
        meta = weights_metadata(Path(run_dir) / name)
        if meta is None:
            continue
        info: dict[str, Any] = {"file": name, "epoch": _int(meta.get("epoch")), "step": _int(meta.get("step"))}
        if meta.get("monitor"):
            info["monitor"] = meta["monitor"]
        try:
            info["value"] = float(meta["value"])
        except (KeyError, ValueError):
            pass
        info["complete"] = meta.get("complete", "true") != "false"
        out[which] = info
    return out


def best_epoch_in_metrics(run_dir: str | os.PathLike[str]) -> tuple[int, dict[str, Any]] | None:
    """The last epoch the metrics log marks as best, with its line (None when there is none)."""
    epochs, _ = read_metrics(Path(run_dir) / METRICS)
    best = [line for line in epochs if line.get("is_best") and isinstance(line.get("epoch"), int)]
    return (best[-1]["epoch"], best[-1]) if best else None


def describe_run_weights(run_dir: str | os.PathLike[str], which: str = "best") -> tuple[str, int | None, list[str]]:
    """(the file used: "best" or "last", the epoch it holds, warnings) for loading ``which`` from a
    run. The epoch comes from the file itself; a warning says when the run's best epoch (by its
    report, else its metrics log) is not the one on disk, or when "best" fell back to "last"."""
    run_dir = Path(run_dir)
    saved = saved_weights(run_dir)
    used = which if which in saved else "last"
    info = saved.get(used) or {}
    epoch = info.get("epoch")
    warnings: list[str] = []
    if epoch is None:   # a file from before epochs were recorded in it: trust the report
        entry = ((_read_json(run_dir / REPORT) or {}).get("weights") or {}).get(used) or {}
        epoch = entry.get("epoch") if isinstance(entry.get("epoch"), int) else None
    if which == "best":
        report = _read_json(run_dir / REPORT) or {}
        best_epoch = report.get("best_epoch")
        line: dict[str, Any] = {}
        if not isinstance(best_epoch, int):
            found = best_epoch_in_metrics(run_dir)
            best_epoch, line = found if found else (None, {})
        if used != "best" and best_epoch is not None:
            warnings.append(f"The run kept no best weights; these are its last weights"
                            f"{f' (epoch {epoch})' if epoch is not None else ''}, not those of its best epoch "
                            f"{best_epoch}.")
        elif isinstance(best_epoch, int) and epoch is not None and best_epoch != epoch:
            monitor = info.get("monitor") or report.get("monitor") or "val_loss"
            theirs = line.get(monitor, report.get("best_value") if report else None)
            ours = info.get("value")
            warnings.append(
                f"The run's best epoch was {best_epoch}{_metric(monitor, theirs)}, but the run ended before its "
                f"weights were saved: {WEIGHTS['best']} holds epoch {epoch}{_metric(monitor, ours)}.")
    return used, epoch, warnings


def _metric(name: str, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f" ({name} {value:.4g})"
    return ""


# -- reading runs ---------------------------------------------------------------------------------
@dataclass
class RunInfo:
    """One line of the run list (read from settings.json and report.json only)."""

    path: Path
    name: str
    started: str
    status: str               # completed | stopped | failed | incomplete (no report: running or crashed)
    project: str
    network: str
    dataset: str
    epochs_done: int
    best_epoch: int | None
    summary: dict[str, Any] = field(default_factory=dict)   # final metrics (losses, accuracy, ...)
    error: str | None = None


@dataclass
class RunRecord:
    """A whole run read back: its settings, report and every logged metric."""

    path: Path
    settings: dict[str, Any]
    report: dict[str, Any] | None
    epochs: list[dict[str, Any]]
    steps: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return (self.report or {}).get("status", "incomplete")

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for line in self.epochs:
            for key, value in line.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and key not in ("type", "epoch"):
                    names[key] = None
        return list(names)

    def curve(self, metric: str) -> tuple[list[float], list[float]]:
        """(x, y) for a metric: per epoch for epoch metrics; ``"loss"`` and ``"step_lr"`` per step
        (x in fractional epochs, so step and epoch curves share an axis)."""
        if metric in ("loss", "step_lr", "samples_per_sec_step"):
            key = {"step_lr": "lr", "samples_per_sec_step": "samples_per_sec"}.get(metric, metric)
            pts = [(s["epoch"] - 1 + s.get("epoch_progress", 1.0), s.get(key)) for s in self.steps]
        else:
            pts = [(e["epoch"], e.get(metric)) for e in self.epochs]
        pts = [(x, y) for x, y in pts if isinstance(y, int | float) and not isinstance(y, bool)]
        return [float(x) for x, _ in pts], [float(y) for _, y in pts]

    def project(self) -> Any:
        """The project exactly as it was trained (network, data set and options)."""
        from graph.project_file import project_from_dict

        return project_from_dict(self.settings["project"])

    def weights(self, which: str = "best") -> dict[str, Any]:
        return load_run_weights(self.path, which)

    def previews(self) -> dict[str, dict[str, Any]]:
        """The latest preview of each kind the run recorded: ``{kind: {"epoch": E, "data": {...}}}``
        with ``data`` as in :class:`engine.events.PreviewSamples` (empty for recipes without any)."""
        return load_previews(self.path)


def load_previews(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The previews a run folder holds (see :meth:`RunRecord.previews`); {} when it has none."""
    data = _read_json(Path(path) / PREVIEWS) or {}
    return {str(kind): entry for kind, entry in data.items()
            if isinstance(entry, dict) and isinstance(entry.get("data"), dict)}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def read_metrics(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(epoch lines, step lines) of a metrics log; unreadable lines (a crash mid-write) are skipped."""
    epochs: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return epochs, steps
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            log.warning("%s line %d is not JSON (cut short?); skipped", path, number)
            continue
        if not isinstance(record, dict):
            continue
        (epochs if record.get("type") == "epoch" else steps).append(record)
    return epochs, steps


def load_run(path: str | os.PathLike[str]) -> RunRecord:
    path = Path(path)
    settings = _read_json(path / SETTINGS)
    if settings is None:
        raise TrainingError(f"{path} is not a run folder (it has no readable {SETTINGS}).", "data")
    epochs, steps = read_metrics(path / METRICS)
    return RunRecord(path, settings, _read_json(path / REPORT), epochs, steps)


def _info(path: Path) -> RunInfo | None:
    settings = _read_json(path / SETTINGS)
    if settings is None or settings.get("format") != RUN_FORMAT:
        return None
    report = _read_json(path / REPORT) or {}
    dataset = settings.get("dataset") or {}
    error = report.get("error") or {}
    return RunInfo(
        path=path, name=path.name, started=str(settings.get("started", "")),
        status=str(report.get("status", "incomplete")), project=str(settings.get("project_name", "")),
        network=str(settings.get("network", "")),
        dataset=str(dataset.get("kind", "")) if isinstance(dataset, dict) else "",
        epochs_done=int(report.get("epochs_done", 0) or 0), best_epoch=report.get("best_epoch"),
        summary=dict(report.get("final_metrics") or {}),
        error=error.get("message") if isinstance(error, dict) else None)


def list_runs(project_dir: str | os.PathLike[str], project: str | None = None) -> list[RunInfo]:
    """Runs of a project folder (or a project file's folder), newest first; ``project`` keeps only
    the runs of the project with that name (several projects may share a folder)."""
    root = runs_root(project_dir)
    if Path(project_dir).name == RUNS_DIRNAME and Path(project_dir).is_dir():
        root = Path(project_dir)
    if not root.is_dir():
        return []
    runs = [info for child in root.iterdir() if child.is_dir() and (info := _info(child)) is not None]
    if project is not None:
        runs = [r for r in runs if r.project == project]
    return sorted(runs, key=lambda r: (r.started, r.name), reverse=True)


def load_run_weights(path: str | os.PathLike[str], which: str = "best") -> dict[str, Any]:
    """The state dict saved by a run (``which``: "best" or "last"; "best" falls back to "last" when
    the run kept no best weights). Raises TrainingError with a readable message otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if which not in WEIGHTS:
        raise TrainingError(f"Unknown weights {which!r}: use best or last.", "options")
    path = Path(path)
    file = path / WEIGHTS[which]
    if not file.exists() and which == "best":
        file = path / WEIGHTS["last"]
    if not file.exists():
        raise TrainingError(f"The run {path.name} saved no weights (it ended before its first epoch).", "data")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise TrainingError(f"The weights file {file} is damaged and cannot be read ({exc}).", "data") from None


def load_weights_into(model: Any, state: dict[str, Any]) -> None:
    """Load a run's weights into a compiled network, with a message that says what does not match
    (the network was edited since the run) instead of PyTorch's key dump."""
    from graph.state_fit import compare_state

    own = model.state_dict()
    mismatch = compare_state(own, state)
    missing, unexpected, wrong = mismatch.missing, mismatch.unexpected, mismatch.wrong_shape
    problems = []
    if missing:
        problems.append(f"the network has weights the run does not ({_layers(missing)})")
    if unexpected:
        problems.append(f"the run has weights for layers no longer in the network ({_layers(unexpected)})")
    if wrong:
        detail = ", ".join(f"{k} {tuple(state[k].shape)} -> {tuple(own[k].shape)}" for k in wrong[:3])
        problems.append(f"some layers changed size ({detail})")
    if problems:
        raise TrainingError("The weights do not fit the network as it is now: " + "; ".join(problems)
                            + ". Open the run's own network, or train again.", "shape")
    model.load_state_dict(state, strict=True)


def _layers(keys: list[str]) -> str:
    names = sorted({k.split(".", 1)[0] for k in keys})
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
