"""The numbers behind the training plots, without Qt: growable series fed by run events (a live run)
or by a run folder's metrics log (a past run). The plots only read from here.

x is in epochs everywhere: per-step values sit at ``epoch - 1 + epoch_progress`` and per-epoch values
at ``epoch``, so step and epoch curves share one axis and runs with different batch counts compare.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.events import EpochMetrics, Event, RunStarted, StepMetrics

#: the per-step training loss (noisy; drawn thin under the per-epoch curves)
STEP_SERIES = "train (steps)"
#: plot groups, in the order they are laid out
GROUPS = ("loss", "metric", "lr", "grad")
#: at most this many per-layer gradient-norm curves (plus the global norm); big networks would
#: otherwise draw an unreadable tangle of hundreds of lines
MAX_LAYER_CURVES = 8

#: the headline metric per recipe / monitored metric: (epoch key of the validation value, title,
#: epoch key of the training value or None)
METRICS: dict[str, tuple[str, str, str | None]] = {
    "val_accuracy": ("val_accuracy", "Accuracy", "train_accuracy"),
    "val_f1": ("val_f1", "F1 (macro)", None),
    "val_r2": ("val_r2", "R²", None),
    "val_mae": ("val_mae", "Mean absolute error", None),
}
#: what each recipe's second plot shows when the monitored metric is the loss; a recipe not named
#: here (or a metric its runs do not report) gets the first metric its epochs do report
RECIPE_METRICS: dict[str, str] = {
    "classification": "val_accuracy",
    "regression": "val_r2",
    "autoencoder": "val_reconstruction_error",
    "gan": "val_quality",
    "language_model": "val_accuracy",
}
#: epoch keys that are never a headline metric (bookkeeping, or drawn elsewhere)
NOT_METRICS = frozenset({"type", "epoch", "step", "time", "is_best", "lr", "elapsed", "elapsed_seconds",
                         "samples_per_sec", "memory_mb", "grad_norm"})
#: named losses of several-loss recipes, as the legend calls them
LOSS_LABELS = {"g_loss": "generator", "d_loss": "discriminator"}
#: per-step curves of a named loss are called "<name> (steps)"
STEP_SUFFIX = " (steps)"
_ACRONYMS = {"mse": "MSE", "mae": "MAE", "rmse": "RMSE", "f1": "F1", "r2": "R²", "fid": "FID", "kl": "KL",
             "bce": "BCE", "psnr": "PSNR", "ssim": "SSIM"}


def main_metric(recipe: str | None, monitor: str | None = None) -> str:
    """Which metric the second plot shows: the monitored one when it is not the loss, else the
    recipe's usual headline (accuracy for classification, R² for regression, ...)."""
    if monitor and isinstance(monitor, str) and not is_loss(monitor):
        return monitor
    return RECIPE_METRICS.get(recipe or "", "val_accuracy")


def is_loss(key: str) -> bool:
    return key == "loss" or key.endswith("_loss")


def metric_title(key: str) -> str:
    """A plot title for any metric name: the known ones by their usual name, the others spelled out
    from the key (``val_reconstruction_error`` -> "Reconstruction error")."""
    if key in METRICS:
        return METRICS[key][1]
    words = key.removeprefix("val_").split("_")
    text = " ".join(_ACRONYMS.get(w.lower(), w) for w in words if w)
    return text[:1].upper() + text[1:] if text else key


def headline_candidates(metrics: Mapping[str, Any]) -> list[str]:
    """Epoch keys that could head the metric plot (numbers that are not losses or bookkeeping),
    validation metrics first."""
    keys = [k for k, v in metrics.items() if isinstance(k, str) and k not in NOT_METRICS and not is_loss(k)
            and not k.startswith("train_") and _number(v) is not None]
    return sorted(keys, key=lambda k: not k.startswith("val_"))


def loss_label(name: str) -> str:
    """Legend text of a loss-plot series (``g_loss`` -> "generator", ``g_loss (steps)`` -> "generator (steps)")."""
    base, steps = (name[:-len(STEP_SUFFIX)], STEP_SUFFIX) if name.endswith(STEP_SUFFIX) else (name, "")
    return LOSS_LABELS.get(base, base) + steps


class Series:
    """x/y float arrays that double their capacity when full, so appending is amortised O(1) and
    the plots get views (no copies) of what is there."""

    __slots__ = ("_x", "_y", "n", "version")

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0
        #: bumped on every change; the plots redraw a curve only when it moved on
        self.version = 0

    def __len__(self) -> int:
        return self.n

    @property
    def capacity(self) -> int:
        return len(self._x)

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._grow(self.n + 1)
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1
        self.version += 1

    def extend(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        xa = np.asarray(list(xs), dtype=np.float64)
        ya = np.asarray(list(ys), dtype=np.float64)
        if len(xa) != len(ya):
            raise ValueError("x and y differ in length")
        if not len(xa):
            return
        end = self.n + len(xa)
        if end > len(self._x):
            self._grow(end)
        self._x[self.n:end] = xa
        self._y[self.n:end] = ya
        self.n = end
        self.version += 1

    def _grow(self, needed: int) -> None:
        capacity = max(len(self._x), 1)
        while capacity < needed:
            capacity *= 2
        for name in ("_x", "_y"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=np.float64)
            new[:self.n] = old[:self.n]
            setattr(self, name, new)

    @property
    def x(self) -> np.ndarray:
        return self._x[:self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self.n]

    def last(self) -> tuple[float, float] | None:
        return (float(self._x[self.n - 1]), float(self._y[self.n - 1])) if self.n else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class RunCurves:
    """Every curve of one run, by plot group and series name."""

    recipe: str | None = None
    metric: str = "val_accuracy"
    #: layer identifier -> label shown in the legend (the node's name when known)
    layer_labels: dict[str, str] = field(default_factory=dict)
    class_names: list[str] | None = None
    confusion: np.ndarray | None = None
    confusion_epoch: int | None = None
    groups: dict[str, dict[str, Series]] = field(default_factory=lambda: {g: {} for g in GROUPS})
    #: bumped whenever anything changes (curves, confusion matrix)
    version: int = 0
    epochs_done: int = 0
    best_epoch: int | None = None
    #: epochs the run was set up for (the x axis spans them while it grows)
    planned_epochs: int | None = None

    # -- access -------------------------------------------------------------------------------------
    def series(self, group: str, name: str) -> Series:
        bucket = self.groups[group]
        if name not in bucket:
            bucket[name] = Series()
        return bucket[name]

    #: the metric was chosen by the person (monitored): it stays even before it has values
    metric_fixed: bool = False

    @property
    def metric_title(self) -> str:
        return metric_title(self.metric)

    @property
    def metric_series_names(self) -> tuple[str, str]:
        """(training, validation) series names of the metric plot: a metric measured on the
        validation data is drawn as "validation"; one of the model as such (modes covered by a
        GAN) under its own name."""
        return "train", ("validation" if self.metric.startswith("val_") else metric_title(self.metric).lower())

    def point_count(self) -> int:
        return sum(len(s) for bucket in self.groups.values() for s in bucket.values())

    def is_empty(self) -> bool:
        return self.point_count() == 0

    # -- live events ----------------------------------------------------------------------------------
    def apply(self, event: Event, node_names: Mapping[str, str] | None = None) -> bool:
        """Take in one run event; True when a curve or the confusion matrix changed.

        ``node_names`` maps node ids to their names, for the gradient-norm legend."""
        if isinstance(event, StepMetrics):
            self._add_step(event.epoch, event.epoch_progress, event.loss, event.lr, event.grad_norm,
                           event.grad_norms, getattr(event, "losses", None))
            return True
        if isinstance(event, EpochMetrics):
            self._add_epoch(event.epoch, event.metrics, event.is_best)
            return True
        if isinstance(event, RunStarted):
            self.recipe = event.recipe
            self.planned_epochs = event.epochs
            monitor = event.options.get("monitor")
            self.metric = main_metric(event.recipe, monitor)
            self.metric_fixed = self.metric == monitor
            self.class_names = list(event.class_names) if event.class_names else None
            names = node_names or {}
            for ident, node_id in event.layers.items():
                self.layer_labels[ident] = names.get(node_id, ident)
            self.version += 1
            return True
        return False

    def _add_step(self, epoch: int, progress: float, loss: Any, lr: Any, grad_norm: Any,
                  grad_norms: Mapping[str, Any] | None, losses: Mapping[str, Any] | None = None) -> None:
        x = epoch - 1 + float(progress)
        named = [(str(k), v) for k, v in (losses or {}).items() if _number(v) is not None] \
            if isinstance(losses, Mapping) else []
        if named:
            # several losses (a GAN): each gets its own curve; their sum or mean would hide which
            # side is winning, so the single loss is left out
            for name, value in named:
                self.series("loss", name + STEP_SUFFIX).append(x, float(value))
        elif (v := _number(loss)) is not None:
            self.series("loss", STEP_SERIES).append(x, v)
        if (v := _number(lr)) is not None:
            self.series("lr", "learning rate").append(x, v)
        if (v := _number(grad_norm)) is not None:
            self.series("grad", "global").append(x, v)
        for ident, value in (grad_norms or {}).items():
            v = _number(value)
            if v is None:
                continue
            bucket = self.groups["grad"]
            if ident not in bucket and len(bucket) > MAX_LAYER_CURVES:   # "global" counts once
                continue
            self.series("grad", ident).append(x, v)
        self.version += 1

    def _add_epoch(self, epoch: int, metrics: Mapping[str, Any], is_best: bool = False) -> None:
        x = float(epoch)
        named = [(k, v) for k, value in metrics.items() if isinstance(k, str) and is_loss(k)
                 and k not in ("train_loss", "val_loss") and (v := _number(value)) is not None]
        for key, name in (("train_loss", "train"), ("val_loss", "validation")):
            if key == "train_loss" and named:
                continue      # several losses (a GAN): their sum says less than each of them
            if (v := _number(metrics.get(key))) is not None:
                self.series("loss", name).append(x, v)
        for key, v in named:
            self.series("loss", key).append(x, v)
        self._choose_metric(metrics)
        val_key, _title, train_key = METRICS.get(self.metric, (self.metric, self.metric, None))
        if train_key is None and self.metric.startswith("val_"):
            train_key = "train_" + self.metric[len("val_"):]
        train_name, val_name = self.metric_series_names
        if train_key and (v := _number(metrics.get(train_key))) is not None:
            self.series("metric", train_name).append(x, v)
        if (v := _number(metrics.get(val_key))) is not None:
            self.series("metric", val_name).append(x, v)
        matrix = metrics.get("val_confusion")
        if isinstance(matrix, list | tuple | np.ndarray) and len(matrix):
            cm = np.asarray(matrix, dtype=np.int64)
            if cm.ndim == 2 and cm.shape[0] == cm.shape[1]:
                self.confusion = cm
                self.confusion_epoch = epoch
        self.epochs_done = max(self.epochs_done, epoch)
        if is_best:
            self.best_epoch = epoch
        self.version += 1

    def _choose_metric(self, metrics: Mapping[str, Any]) -> None:
        """Until the metric plot has its first point, follow what the epochs really report: a
        recipe's usual headline may be missing (a GAN on images reports no modes), and recipes
        this panel has never heard of still get their metric drawn."""
        if self.metric_fixed or self.groups["metric"] or _number(metrics.get(self.metric)) is not None:
            return
        candidates = headline_candidates(metrics)
        if candidates:
            self.metric = candidates[0]

    # -- a past run -----------------------------------------------------------------------------------
    @classmethod
    def from_record(cls, record: Any) -> RunCurves:
        """Rebuild the curves of a run folder read with ``engine.runs.load_run``."""
        settings = record.settings or {}
        training = settings.get("training") or {}
        recipe = training.get("recipe") if isinstance(training, dict) else None
        monitor = training.get("monitor") if isinstance(training, dict) else None
        names = settings.get("class_names")
        metric = main_metric(recipe, monitor)
        curves = cls(recipe=recipe, metric=metric, metric_fixed=metric == monitor,
                     class_names=[str(n) for n in names] if isinstance(names, list) else None)
        for step in record.steps:
            if not isinstance(step.get("epoch"), int | float):
                continue
            curves._add_step(int(step["epoch"]), float(step.get("epoch_progress", 1.0) or 0.0), step.get("loss"),
                             step.get("lr"), step.get("grad_norm"), step.get("grad_norms"), step.get("losses"))
        for line in record.epochs:
            if isinstance(line.get("epoch"), int | float):
                curves._add_epoch(int(line["epoch"]), line, bool(line.get("is_best")))
        report = record.report or {}
        if isinstance(report.get("best_epoch"), int):
            curves.best_epoch = report["best_epoch"]
        return curves
