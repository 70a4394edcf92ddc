"""What a run reports while it goes: small frozen records of plain values (they cross a process
boundary through a queue, and the GUI reads them on its own thread).

Order of a normal run: ``StatusChanged("starting")`` ... ``RunStarted`` ... many ``StepMetrics`` and
one ``EpochMetrics`` per epoch (recipes that show samples add ``PreviewSamples`` after it) ...
``RunFinished``. A fault adds a ``RunError`` right before
``RunFinished(status="failed")``. ``RunFinished`` is always the last event of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the states a run goes through; the last three are final
STATUSES = ("starting", "loading", "running", "paused", "stopping", "completed", "stopped", "failed")
FINAL_STATUSES = ("completed", "stopped", "failed")


@dataclass(frozen=True)
class Event:
    """Base of every run event; ``time`` is seconds since the run started."""

    time: float


@dataclass(frozen=True)
class StatusChanged(Event):
    status: str
    message: str = ""


@dataclass(frozen=True)
class RunStarted(Event):
    """Everything is loaded and checked; training begins."""

    run_dir: str
    device: str
    dataset: str                         # one line, e.g. "digits: 1437 train / 360 val, ..."
    recipe: str
    epochs: int
    steps_per_epoch: int
    train_samples: int
    val_samples: int
    parameters: int
    #: layer identifier (``state_dict`` prefix, key of ``grad_norms``) -> node id on the canvas
    layers: dict[str, str] = field(default_factory=dict)
    class_names: tuple[str, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepMetrics(Event):
    """Training progress since the previous StepMetrics (sent a few times per second)."""

    step: int                  # global step count so far (1-based: the last step done)
    epoch: int                 # 1-based epoch the step belongs to
    epoch_progress: float      # fraction of that epoch done, 0..1
    loss: float                # mean training loss over the steps since the previous event
    lr: float
    samples_per_sec: float
    #: global gradient norm of the last step, and per layer (identifier -> norm)
    grad_norm: float | None = None
    grad_norms: dict[str, float] = field(default_factory=dict)
    memory_mb: float | None = None   # device memory in use (GPU only)
    #: recipes with several losses (GAN: ``{"g_loss": .., "d_loss": ..}``), means since the previous event
    losses: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EpochMetrics(Event):
    """One finished epoch: ``metrics`` holds ``train_loss``, ``val_loss`` and the recipe's metrics by
    name (``val_accuracy``, ``val_f1``, ``val_confusion``, ``val_r2``, ``lr``, ...)."""

    epoch: int
    step: int
    metrics: dict[str, Any]
    is_best: bool = False


@dataclass(frozen=True)
class PreviewSamples(Event):
    """What the model makes of a few samples right now, sent after each epoch (and at the end) so the
    panel can show it; plain nested lists so it crosses the queue and lands in the run folder as JSON.

    ``kind`` and ``data``:

    - ``"reconstruction"``: ``inputs`` and ``outputs`` (K samples each, nested lists shaped like one
      sample), ``image_shape`` (``[C, H, W]`` when the samples are images, else ``None``).
    - ``"latent"``: ``points`` (K×2), ``labels`` (K class ids or ``None``), ``class_names`` (or ``None``).
    - ``"generated"``: ``samples`` (K samples), ``image_shape`` (or ``None``), ``real`` (K×2 real points
      when the data are 2-D points, else ``None``).
    - ``"text"``: ``samples`` (a few strings sampled from the model), ``prompt`` (the text they start from).
    - ``"forecast"``: ``steps`` (time indices), ``history`` (the inputs seen), ``true`` and ``predicted``
      (the values after them), for one validation series. ``steps`` are the time indices of ``true``
      and ``predicted``; the history sits at indices 0..len(history)-1 (a window forecast one step
      ahead has steps 1..len(history), overlapping the history but for its first value).
    """

    epoch: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LogMessage(Event):
    """A warning or note from the worker (e.g. a data set dropped rows with a missing target)."""

    level: str      # "info" | "warning" | "error"
    message: str


@dataclass(frozen=True)
class RunError(Event):
    """Why the run failed; ``kind`` is one of :data:`engine.errors.ERROR_KINDS`."""

    kind: str
    message: str
    step: int | None = None
    node: str | None = None          # node id at fault, when known
    details: str = ""                # traceback for "internal" errors (for the log, not the dialog)


@dataclass(frozen=True)
class RunFinished(Event):
    """The run is over; ``report`` is what ``report.json`` holds."""

    status: str                      # "completed" | "stopped" | "failed"
    report: dict[str, Any] = field(default_factory=dict)


def event_to_dict(event: Event) -> dict[str, Any]:
    """JSON-friendly form (for logs and tests)."""
    from dataclasses import asdict

    return {"event": type(event).__name__, **asdict(event)}
