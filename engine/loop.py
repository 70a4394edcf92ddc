"""The training hot loop. It runs wherever it is called (the worker process, the CLI, tests, the
benchmark) and talks to the outside only through an ``emit(event)`` callback and a ``control``
object whose ``value`` is read at step boundaries (0 run, 1 pause, 2 stop).

Speed rules (see DESIGN.md): the data set lives on the device as whole tensors and batches are
gathered with a per-epoch permutation; gradients are set to None; per-step losses go into a
preallocated device buffer and the training accuracy into a device counter, both read only at the
reporting cadence (a few times per second) or at the end of an epoch, so there is no host-device
synchronisation per step. AMP and ``cudnn.benchmark`` on CUDA.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from engine.control import PAUSE, RUN, STOP, Control
from engine.devices import memory_mb, peak_memory_mb
from engine.errors import TrainingError
from engine.events import EpochMetrics, Event, PreviewSamples, StatusChanged, StepMetrics
from engine.metrics import GradNorms
from engine.options import TrainingOptions
from engine.recipes import Recipe

log = logging.getLogger(__name__)

#: most steps between two reads of the loss buffer
LOSS_BUFFER = 1024
#: gradient norms beyond these are reported as exploding (whole network) or vanishing (one layer)
EXPLODING_GRADIENT = 1e4
VANISHING_GRADIENT = 1e-7
#: a run has diverged when its epoch training loss stays this many times above the loss of its first
#: step (and above it by DIVERGENCE_MARGIN) for DIVERGENCE_EPOCHS epochs in a row
DIVERGENCE_FACTOR = 10.0
DIVERGENCE_MARGIN = 1e-3
DIVERGENCE_EPOCHS = 3
#: usual learning rates per optimizer, suggested when a run diverges
TYPICAL_LR = {"adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2}


@dataclass
class LoopResult:
    status: str                              # "completed" | "stopped"
    reason: str                              # "finished" | "early_stopping" | "user"
    epochs_done: int
    steps: int
    best_epoch: int | None
    best_value: float | None
    last_metrics: dict[str, Any]
    train_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


class Checkpoints:
    """Where weights go; the run recorder implements it (tests may pass None). ``info`` holds what
    the file should say about itself besides its epoch (step, monitored metric and value)."""

    def save(self, which: str, state: dict[str, Any], epoch: int,
             info: dict[str, Any] | None = None) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights on the host (a run's last/best weights must survive later steps)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class Trainer:
    def __init__(self, model: torch.nn.Module, dataset: Any, options: TrainingOptions, recipe: Recipe,
                 device: torch.device, emit: Callable[[Event], None], control: Any = None,
                 checkpoints: Checkpoints | None = None, *, report_interval: float = 0.25,
                 checkpoint_interval: float = 10.0, t0: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.dataset = dataset
        self.options = options
        self.recipe = recipe
        self.device = device
        self.emit = emit
        self.control = control if control is not None else Control()
        self.checkpoints = checkpoints
        self.report_interval = report_interval
        self.checkpoint_interval = checkpoint_interval
        self.clock = clock
        self.t0 = clock() if t0 is None else t0
        self.step = 0
        self.epoch = 0
        self.last_good: dict[str, torch.Tensor] | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch: int | None = None
        self.best_value: float | None = None
        self._saved_at = -math.inf    # the first epoch's weights are written at once
        self._last_grads: tuple[float | None, dict[str, float]] = (None, {})
        self._last_emit = self.t0
        self._interval_loss = 0.0
        self._interval_samples = 0
        self._writer: Any = None      # a CheckpointWriter, made on the first write
        self._gradient_warnings: set[str] = set()
        self._dirty = False           # last_good is newer than last.safetensors
        self._best_dirty = False      # best_state is newer than best.safetensors
        self._last_info: dict[str, Any] = {}
        self._best_info: dict[str, Any] = {}
        self.epochs_done = 0
        #: loss of the first step (what "far above its start" compares with) and the divergence found
        self.start_loss: float | None = None
        self.diverged: dict[str, Any] | None = None
        self._epochs_above_start = 0
        self._setup()

    # -- set-up -----------------------------------------------------------------------------------
    def _setup(self) -> None:
        opts, device, ds = self.options, self.device, self.dataset
        self.is_cuda = device.type == "cuda"
        if self.is_cuda:
            torch.backends.cudnn.benchmark = True
        self.model.to(device)
        self.frozen = apply_frozen_nodes(self.model, opts.frozen_nodes)
        self.frozen_norms = frozen_norm_layers(self.model, self.frozen)
        self.gen = torch.Generator().manual_seed(opts.seed)
        # small data sets live on the device; one that would crowd a GPU stays in host memory and
        # goes over batch by batch
        # image sets feed uint8 pixels (held or decoded by workers), normalised per batch: engine/image_feed.py
        self.feed = None
        if getattr(ds, "image_source", None) is not None:
            from engine.image_feed import ImageFeed

            self.feed = feed = ImageFeed(ds, device, opts, self.recipe)
            self.host_data = feed.host_data
            self.x_train, self.x_val = feed.x_train, feed.x_val
            self.y_train, self.m_train, self.y_val, self.m_val = feed.y_train, feed.m_train, feed.y_val, feed.m_val
        else:
            self.host_data = not fits_on_device(device, ds)
            if self.host_data:
                log.info("the data set stays in host memory (too big for %s)", device)
            self.x_train = self._to_device(ds.x_train)
            self.x_val = self._to_device(ds.x_val)
            self.y_train, self.m_train = self.recipe.split_targets(self.x_train, self._to_device(ds.y_train))
            self.y_val, self.m_val = self.recipe.split_targets(self.x_val, self._to_device(ds.y_val))
        self.n_train = len(self.x_train)
        if self.n_train == 0 or len(self.x_val) == 0:
            raise TrainingError(f"The data set '{ds.name}' needs training and validation samples.", "data")
        bs = min(opts.batch_size, self.n_train)
        self.batch_size = bs
        steps = math.ceil(self.n_train / bs)
        # a last batch of one sample breaks BatchNorm in training mode: fold it away
        if steps > 1 and self.n_train % bs == 1:
            steps -= 1
        self.steps_per_epoch = steps
        self.samples_per_epoch = min(self.n_train, steps * bs)
        self.loss_fn = self.recipe.loss_fn()
        self.predict_into = self.recipe.predict_into_fn()
        self._setup_optimizers()
        self.grad_norms = GradNorms(self.model)
        params = [p for g in self.grad_norms.groups.values() for p in g]
        self.params = params
        self.autocast: Callable[[], Any] = contextlib.nullcontext
        self.scaler = None
        if self.is_cuda and opts.mixed_precision:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            self.autocast = lambda: torch.autocast("cuda", dtype=dtype)
            if dtype == torch.float16:
                self.scaler = torch.amp.GradScaler("cuda")
        self.loss_buf = torch.zeros(LOSS_BUFFER, dtype=torch.float32, device=device)
        self.loss_slots = list(self.loss_buf.unbind())
        #: recipes with several losses (GAN) write each step's parts into a row of ``parts_buf``
        self.loss_names: tuple[str, ...] = tuple(getattr(self.recipe, "loss_names", ()))
        self.parts_buf = (torch.zeros((LOSS_BUFFER, len(self.loss_names)), dtype=torch.float32, device=device)
                          if self.loss_names else None)
        self.parts_slots = list(self.parts_buf.unbind()) if self.parts_buf is not None else []
        self._interval_parts = np.zeros(len(self.loss_names))
        self._epoch_parts = np.zeros(len(self.loss_names))
        # each sample's predicted class this epoch, compared with the targets at the end of the epoch
        self.predictions = (torch.zeros((self.samples_per_epoch, *self.m_train.shape[1:]), dtype=torch.long,
                                        device=device) if self.predict_into is not None else None)

    def _setup_optimizers(self) -> None:
        """One optimizer and schedule for the whole network (the GAN trainer makes one per part)."""
        self.optimizer = make_optimizer(self.model, self.options, frozen=bool(self.frozen))
        self.scheduler, self.per_step_schedule = make_scheduler(self.optimizer, self.options, self.steps_per_epoch)
        #: further schedulers stepped at the same times as ``scheduler``
        self.extra_schedulers: list[Any] = []

    def _make_step(self) -> Callable[[torch.Tensor, torch.Tensor, int, int], None]:
        """The work of one batch as a closure over what it needs (so the loop reads no attributes):
        ``step(xb, yb, b, k)`` trains on batch number ``b`` and writes its loss into slot ``k``."""
        model, opt, loss_fn, predict_into = self.model, self.optimizer, self.loss_fn, self.predict_into
        scaler, clip, params = self.scaler, self.options.grad_clip, self.params
        scheduler = self.scheduler if self.per_step_schedule else None
        autocast, slots, predictions, bs = self.autocast, self.loss_slots, self.predictions, self.batch_size

        def step(xb: torch.Tensor, yb: torch.Tensor, b: int, k: int) -> None:
            with autocast():
                out = model(xb)
                loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                if clip:
                    torch.nn.utils.clip_grad_norm_(params, clip)
                opt.step()
            else:
                scaler.scale(loss).backward()
                if clip:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(params, clip)
                scaler.step(opt)
                scaler.update()
            if scheduler is not None:
                scheduler.step()
            slots[k].copy_(loss.detach())
            if predict_into is not None:
                predict_into(out, predictions[b * bs: b * bs + len(xb)])
        return step

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type == "cpu":
            return tensor
        if self.host_data:
            try:
                return tensor.pin_memory()
            except RuntimeError:
                return tensor
        return tensor.to(self.device, non_blocking=True)

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> LoopResult:
        opts = self.options
        history: list[dict[str, Any]] = []
        wait = 0
        reason = "finished"
        status = "completed"
        started = self._last_emit = self.clock()
        self.paused_time = 0.0
        for epoch in range(1, opts.epochs + 1):
            self.epoch = epoch
            if self.control.value == STOP:     # stopped while the run was loading
                self.emit(StatusChanged(self._now(), "stopping", "stopping before training"))
                stopped = True
            else:
                stopped = self._train_epoch(epoch)
            if stopped:
                status, reason = "stopped", "user"
                break
            metrics = self._end_epoch(epoch, started)
            history.append(metrics)
            improved = metrics.pop("_improved")
            if opts.early_stopping:
                wait = 0 if improved else wait + 1
                if wait >= opts.early_stopping:
                    reason = "early_stopping"
                    log.info("early stopping after epoch %d", epoch)
                    break
            if self.control.value == STOP:     # arrived while the epoch was being evaluated
                self.emit(StatusChanged(self._now(), "stopping", "stopping after this epoch"))
                status, reason = "stopped", "user"
                break
        self._flush_checkpoints(final=True)
        return LoopResult(status, reason, len(history), self.step, self.best_epoch, self.best_value,
                          history[-1] if history else {}, self.clock() - started - self.paused_time, history)

    def _train_epoch(self, epoch: int) -> bool:
        """One pass over the training data; True when stopped by the user."""
        x, y = self.x_train, self.y_train
        bs, steps = self.batch_size, self.steps_per_epoch
        host, device = self.host_data, self.device
        control, clock = self.control, self.clock
        train_step = self._make_step()
        same = y is x                    # an autoencoder's targets are its inputs: gather them once
        self.model.train()
        for module in self.frozen_norms:
            module.eval()                # a frozen node keeps its BatchNorm statistics
        perm = torch.randperm(self.n_train, generator=self.gen)[: self.samples_per_epoch]
        if self.device.type != "cpu" and not host:
            perm = perm.to(self.device, non_blocking=True)
        self._perm = perm
        self._epoch_loss = 0.0
        self._epoch_parts[:] = 0.0
        self._epoch_samples = 0
        self._pending = 0
        self._pending_sizes: list[int] = []
        self._epoch_start = clock()
        self._epoch_paused = 0.0
        next_report = self._epoch_start + self.report_interval
        k = 0
        xb = None
        try:
            batches = self.feed.train_batches(perm, bs, steps, epoch) if self.feed is not None else None
            for b in range(steps):
                if batches is not None:
                    xb, yb = next(batches)
                else:
                    idx = perm[b * bs: (b + 1) * bs] if b < steps - 1 else perm[b * bs:]
                    xb = x.index_select(0, idx)
                    yb = xb if same else y.index_select(0, idx)
                    if host:
                        xb = xb.to(device, non_blocking=True)
                        yb = xb if same else yb.to(device, non_blocking=True)
                train_step(xb, yb, b, k)
                self._pending_sizes.append(len(xb))
                k += 1
                self.step += 1
                if control.value != RUN:
                    k = self._report(k, b + 1)
                    if self._hold() == STOP:
                        return True
                    next_report = clock() + self.report_interval
                elif k == LOSS_BUFFER or clock() >= next_report:
                    k = self._report(k, b + 1)
                    next_report = clock() + self.report_interval
            self._report(k, steps, force=epoch == self.options.epochs)
        except TrainingError:
            raise
        except Exception as exc:
            raise self._diagnose(exc, xb) from exc
        return False

    def _hold(self) -> int:
        """Wait while paused; returns the control value that ended the wait (RUN or STOP)."""
        control = self.control
        if control.value == STOP:
            self.emit(StatusChanged(self._now(), "stopping", "stopping at the end of this step"))
            return STOP
        began = self.clock()
        self.emit(StatusChanged(self._now(), "paused", f"paused at step {self.step}"))
        while control.value == PAUSE:
            time.sleep(0.02)
        waited = self.clock() - began
        self.paused_time += waited
        self._epoch_paused += waited
        self._last_emit += waited
        if control.value == STOP:
            self.emit(StatusChanged(self._now(), "stopping", "stopping at the end of this step"))
            return STOP
        self.emit(StatusChanged(self._now(), "running", "resumed"))
        return RUN

    def _now(self) -> float:
        return self.clock() - self.t0

    def _report(self, k: int, batches_done: int, force: bool = True) -> int:
        """Read the buffered losses (one sync) and check them; send a StepMetrics unless ``force`` is
        False and the previous one is younger than the report interval (epochs that take a few
        milliseconds would otherwise flood the GUI). Returns 0 (the emptied buffer's fill)."""
        if k:
            losses = self.loss_buf[:k].tolist()
            sizes = self._pending_sizes
            first_step = self.step - k + 1
            for i, value in enumerate(losses):
                if not math.isfinite(value):
                    raise self._nan_error(first_step + i, value)
            if self.start_loss is None:
                self.start_loss = losses[0]
            total = sum(v * s for v, s in zip(losses, sizes, strict=True))
            samples = sum(sizes)
            if self.parts_buf is not None:
                parts = self.parts_buf[:k].double().cpu().numpy()
                weighted = (parts * np.asarray(sizes, dtype=np.float64)[:, None]).sum(0)
                self._epoch_parts += weighted
                self._interval_parts += weighted
            self._epoch_loss += total
            self._epoch_samples += samples
            self._interval_loss += total
            self._interval_samples += samples
            self._pending_sizes = []
        # with fp16 AMP the gradients are still scaled, unless clipping has unscaled them
        scaled = self.scaler is not None and not self.options.grad_clip
        self._last_grads = self.grad_norms.read(float(self.scaler.get_scale()) if scaled else 1.0)
        now = self.clock()
        if not self._interval_samples or (not force and now - self._last_emit < self.report_interval):
            return 0
        grad_norm, layer_norms = self._last_grads
        self.emit(StepMetrics(
            now - self.t0, self.step, self.epoch, batches_done / self.steps_per_epoch,
            self._interval_loss / self._interval_samples, float(self.optimizer.param_groups[0]["lr"]),
            self._interval_samples / max(now - self._last_emit, 1e-9), grad_norm, layer_norms,
            memory_mb(self.device),
            {name: float(v) / self._interval_samples for name, v in zip(self.loss_names, self._interval_parts,
                                                                         strict=True)}))
        self._last_emit = now
        self._interval_loss = 0.0
        self._interval_parts[:] = 0.0
        self._interval_samples = 0
        return 0

    def _nan_error(self, step: int, value: float) -> TrainingError:
        lr = self.optimizer.param_groups[0]["lr"]
        what = "NaN" if math.isnan(value) else "infinite"
        hints = [f"lower the learning rate (it is {lr:g}; try {lr / 10:g})"]
        if not self.options.grad_clip:
            hints.append("turn on gradient clipping (e.g. 1.0)")
        if self.scaler is not None:
            hints.append("or turn off mixed precision")
        saved = " The weights of the last good epoch are kept." if self.last_good is not None else ""
        return TrainingError(f"The training loss became {what} at step {step} (epoch {self.epoch}), so training "
                             f"stopped: {', '.join(hints)}.{saved}", "nan", step=step)

    def _diagnose(self, exc: Exception, xb: torch.Tensor | None) -> Exception:
        """Turn a failure inside a step into a message that names the node, when one can be found."""
        from engine.devices import is_device_error, is_out_of_memory

        if is_out_of_memory(exc):
            bs = self.batch_size
            return TrainingError(f"The {self.device.type.upper()} device ran out of memory at step {self.step + 1} "
                                 f"with batch size {bs}: lower the batch size (e.g. to {max(1, bs // 2)}) or use a "
                                 f"smaller network.", "oom", step=self.step + 1)
        if is_device_error(exc):
            return TrainingError(f"The {self.device.type.upper()} device failed at step {self.step + 1}: "
                                 f"{_first_line(exc)}. Try again, or train on the CPU.", "device", step=self.step + 1)
        if xb is not None and isinstance(exc, RuntimeError | ValueError | IndexError):
            found = locate_failure(self.model, xb)
            if found is not None:
                node, error = found
                return TrainingError(f"{node.label()} failed on the data at step {self.step + 1}: {_first_line(error)}. "
                                     f"Check its settings and the shapes feeding it.", "shape",
                                     step=self.step + 1, node=node.id)
            out = self.recipe.ends.output_node
            return TrainingError(f"The loss could not compare Output '{out.name}' with the targets at step "
                                 f"{self.step + 1}: {_first_line(exc)}.", "shape", step=self.step + 1, node=out.id)
        return exc

    # -- end of an epoch ----------------------------------------------------------------------------
    def _end_epoch(self, epoch: int, started: float) -> dict[str, Any]:
        opts = self.options
        now = self.clock()
        epoch_time = now - self._epoch_start - self._epoch_paused
        metrics: dict[str, Any] = {"epoch": epoch, "step": self.step}
        metrics["train_loss"] = self._epoch_loss / max(self._epoch_samples, 1)
        for name, value in zip(self.loss_names, self._epoch_parts, strict=True):
            metrics[name] = float(value) / max(self._epoch_samples, 1)
        if self.predictions is not None:
            targets = self.m_train.index_select(0, self._perm).to(self.device)
            correct = int((self.predictions == targets).sum().item())
            metrics["train_accuracy"] = correct / max(targets.numel(), 1)
        metrics.update(self.evaluate())
        if not math.isfinite(metrics.get("val_loss", 0.0)):
            raise TrainingError(f"The validation loss became {metrics['val_loss']} after epoch {epoch} (step "
                                f"{self.step}): lower the learning rate (it is "
                                f"{self.optimizer.param_groups[0]['lr']:g}).", "nan", step=self.step)
        metrics["lr"] = float(self.optimizer.param_groups[0]["lr"])
        metrics["samples_per_sec"] = self._epoch_samples / max(epoch_time, 1e-9)
        metrics["epoch_time"] = epoch_time
        metrics["elapsed"] = now - self.t0
        grad_norm, layer_norms = self._last_grads      # read by the report at the end of the epoch
        metrics["grad_norm"] = grad_norm
        metrics["grad_norms"] = layer_norms
        blown_up = self._check_divergence(metrics["train_loss"], epoch)
        self._check_gradients(grad_norm, layer_norms, epoch, blown_up)
        peak = peak_memory_mb(self.device)
        if peak is not None:
            metrics["memory_mb"] = peak
        value = metrics.get(opts.resolved_monitor)
        improved = False
        if value is not None and math.isfinite(value):
            if self.best_value is None:
                improved = True
            elif opts.monitor_maximized:
                improved = value > self.best_value + opts.min_delta
            else:
                improved = value < self.best_value - opts.min_delta
        if self.scheduler is not None and not self.per_step_schedule:
            for scheduler in (self.scheduler, *self.extra_schedulers):
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(value if value is not None else metrics.get("val_loss", 0.0))
                else:
                    scheduler.step()
        self.last_good = snapshot(self.model)
        self._last_info = self._weights_info(value, complete=True)
        self._dirty = True
        if improved:
            self.best_value = float(value)
            self.best_epoch = epoch
            self.best_state = self.last_good
            self._best_info = self._last_info
            self._best_dirty = self.options.keep_best
        # the epoch's line goes to the metrics log first, so a weights file never holds an epoch the
        # log lacks; then a new best is written at once (the epoch the log calls best reaches the
        # disk within a write's time) and the last weights every checkpoint_interval, in the background
        self.emit(EpochMetrics(now - self.t0, epoch, self.step, dict(metrics), improved))
        if self._best_dirty or self.clock() - self._saved_at >= self.checkpoint_interval:
            self._flush_checkpoints()
        self._send_previews(epoch)
        self.epochs_done = epoch
        failure = self._writer.error() if self._writer is not None else None
        if failure is not None:        # a full disk: stop here rather than train on unsaved
            raise failure
        metrics["_improved"] = improved
        return metrics

    def _weights_info(self, value: Any, complete: bool) -> dict[str, Any]:
        """What a weights file says about itself besides its epoch."""
        info: dict[str, Any] = {"step": self.step, "complete": "true" if complete else "false"}
        if isinstance(value, int | float) and math.isfinite(value):
            info.update(monitor=self.options.resolved_monitor, value=repr(float(value)))
        return info

    def _check_divergence(self, train_loss: float, epoch: int) -> bool:
        """Whether this epoch's training loss is far above the loss of the first step; after
        DIVERGENCE_EPOCHS such epochs in a row (fewer when the run is shorter) the run is marked as
        diverged and a warning says so, once. Recipes with several losses (GANs) are not judged."""
        start = self.start_loss
        if start is None or self.loss_names or not math.isfinite(train_loss):
            return False
        far = train_loss > DIVERGENCE_FACTOR * abs(start) and train_loss > start + DIVERGENCE_MARGIN
        self._epochs_above_start = self._epochs_above_start + 1 if far else 0
        needed = max(1, min(DIVERGENCE_EPOCHS, self.options.epochs))
        if far and self.diverged is None and self._epochs_above_start >= needed:
            lr = float(self.optimizer.param_groups[0]["lr"])
            typical = TYPICAL_LR.get(self.options.optimizer, 1e-3)
            hints = [f"lower the learning rate (it is {lr:g}; try {min(lr / 10, typical):g})"]
            if not self.options.grad_clip:
                hints.append("turn on gradient clipping (e.g. 1.0)")
            since = epoch - self._epochs_above_start + 1
            message = (f"Training diverged: the training loss has stayed far above where it started for "
                       f"{self._epochs_above_start} epochs ({train_loss:.4g} after epoch {epoch}, {start:.4g} at the "
                       f"first step), so the network is not learning. To fix it: {' and '.join(hints)}.")
            self.diverged = {"epoch": epoch, "since_epoch": since, "start_loss": start, "train_loss": train_loss,
                             "message": message}
            log.warning("%s", message)
        return far

    def _send_previews(self, epoch: int) -> None:
        """What the model makes of a few validation samples (reconstructions, generated samples, text,
        a forecast), after the epoch's metrics. A preview that fails is logged, never fatal."""
        try:
            previews = self.recipe.previews(self, epoch)
        except Exception as exc:  # a preview must never end a run
            log.warning("could not draw the samples preview after epoch %d: %s", epoch, exc)
            return
        for kind, data in previews:
            self.emit(PreviewSamples(self._now(), epoch, kind, data))

    def _check_gradients(self, total: float | None, layers: dict[str, float], epoch: int,
                         blown_up: bool = False) -> None:
        """Warn once per run when gradients vanish in some layer or explode overall. While the loss
        is far above its start (``blown_up``) dead layers are a symptom of the blow-up, not its
        cause, so the vanishing warning waits (the divergence warning says what to change)."""
        if total is None:
            return
        warned = self._gradient_warnings
        if "explode" not in warned and total > EXPLODING_GRADIENT:
            warned.add("explode")
            log.warning("The gradients are exploding (norm %.3g after epoch %d): lower the learning rate or turn on "
                        "gradient clipping.", total, epoch)
        dead = [name for name, value in layers.items() if value < VANISHING_GRADIENT]
        if "vanish" not in warned and dead and total > 1e3 * VANISHING_GRADIENT and not blown_up:
            warned.add("vanish")
            log.warning("The gradients vanish in %s (norm below %g after epoch %d): those layers barely learn; try "
                        "ReLU/GELU instead of Sigmoid/Tanh, a normalization layer, or skip connections.",
                        ", ".join(dead[:5]), VANISHING_GRADIENT, epoch)

    @torch.inference_mode()
    def evaluate(self) -> dict[str, Any]:
        """Validation loss and the recipe's metrics over the whole validation split."""
        model = self.model
        model.eval()
        recipe = self.recipe
        update, acc = accumulator = recipe.new_accumulator(self.device)
        loss_fn = self.loss_fn
        x, y, m = self.x_val, self.y_val, self.m_val
        n = len(x)
        bs = eval_batch_size(self.batch_size, self.device.type)
        total = torch.zeros((), dtype=torch.float64 if self.device.type != "mps" else torch.float32,
                            device=self.device)
        batches = (self.feed.val_batches(bs) if self.feed is not None else
                   ((x[s:s + bs], y[s:s + bs], m[s:s + bs]) for s in range(0, n, bs)))
        seen = 0
        for xb, yb, mb in batches:
            if self.host_data and self.feed is None:
                xb, yb, mb = (t.to(self.device, non_blocking=True) for t in (xb, yb, mb))
            with self.autocast():
                out = model(xb)
                loss = loss_fn(out, yb)
            total.add_(loss.detach().to(total.dtype) * len(xb))
            update(out.float(), mb)
            seen += len(xb)
        result = {"val_loss": float(total.item()) / max(seen, 1)}
        result.update(recipe.metrics(accumulator))
        recipe.add_derived_metrics(result)
        return result

    # -- weights ------------------------------------------------------------------------------------
    def current_state_ok(self) -> bool:
        return all(torch.isfinite(p).all() for p in self.model.parameters() if p.is_floating_point())

    def _flush_checkpoints(self, final: bool = False) -> None:
        """Hand the new best and/or last weights to the background writer (snapshots are host copies
        never changed afterwards, so training goes on while they are written). The final flush also
        writes the last weights, waits for the disk and raises what the writer could not do."""
        if self.checkpoints is None:
            return
        if self._writer is None:
            from engine.checkpoint_writer import CheckpointWriter

            self._writer = CheckpointWriter(self.checkpoints)
        if self._best_dirty and self.best_state is not None:
            self._writer.submit("best", self.best_state, self.best_epoch or 0, self._best_info)
            self._best_dirty = False
        last, last_info = self.last_good, self._last_info
        if final and self.control.value == STOP and self.epochs_done < self.epoch and self.current_state_ok():
            # a stop mid-epoch keeps the weights as they are now
            last, last_info = snapshot(self.model), self._weights_info(None, complete=False)
        if last is not None and (self._dirty or final):
            self._writer.submit("last", last, self.epoch, last_info)
            self._saved_at = self.clock()
            self._dirty = False
        if final:
            self._writer.close()
            failure = self._writer.error()
            if failure is not None:
                raise failure

    def _wait_for_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def save_after_failure(self, error: TrainingError | None = None) -> None:
        """After a fault (``error``): keep the last good weights (never NaN ones). A file already
        holding the epoch is not written again; one that cannot be written (a full disk) keeps what
        it held, and the failure is logged, not raised (the fault that ended the run is the one to
        report, so a disk failure after a disk fault is only noted)."""
        self._wait_for_writer()
        if self.checkpoints is None:
            return
        written = self._writer.written if self._writer is not None else {}
        jobs = []
        if self.options.keep_best and self.best_state is not None:
            jobs.append(("best", self.best_state, self.best_epoch or 0, self._best_info))
        if self.last_good is not None:
            jobs.append(("last", self.last_good, self.epochs_done or self.epoch, self._last_info))
        for which, state, epoch, info in jobs:
            if written.get(which) == epoch:
                continue
            try:
                self.checkpoints.save(which, state, epoch, info)
            except TrainingError as exc:
                level = logging.INFO if error is not None and error.kind == exc.kind else logging.WARNING
                log.log(level, "The %s weights of epoch %d were not saved: %s", which, epoch, exc.message)


def fits_on_device(device: torch.device, dataset: Any) -> bool:
    """Whether the whole data set can live on the device (always on the CPU; on a GPU when it takes
    at most a quarter of the free memory, leaving the rest to the model and its activations)."""
    if device.type != "cuda":
        return True
    size = sum(a.nbytes for a in (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val))
    try:
        free, _ = torch.cuda.mem_get_info(device)
    except RuntimeError:
        return True
    return size <= free / 4


def eval_batch_size(batch_size: int, device_type: str) -> int:
    """Validation needs no gradients, so it takes bigger batches (fewer, faster calls on the CPU)."""
    return max(1024, 4 * batch_size) if device_type == "cpu" else max(256, 2 * batch_size)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")


def locate_failure(model: Any, x: torch.Tensor) -> tuple[Any, Exception] | None:
    """Replay one batch node by node through the compiled network's plan; the first node that
    raises is the one to blame (returns it with its exception), or None if all of them run."""
    plan = getattr(model, "plan", None)
    if plan is None:
        return None
    env: dict[str, Any] = {}
    with torch.no_grad():
        for step in plan.steps:
            role = step.node.spec.role
            if role == "input":
                env[step.name] = x
                continue
            values = [None if a is None else env[a] for a in step.args]
            if role == "output":
                env[step.name] = values[0]
                continue
            try:
                env[step.name] = getattr(model, step.name)(*values)
            except Exception as exc:  # the failure being looked for
                return step.node, exc
    return None


def make_optimizer(model: torch.nn.Module, opts: TrainingOptions, *, frozen: bool = False,
                   params: list[torch.nn.Parameter] | None = None, lr: float | None = None,
                   betas: tuple[float, float] | None = None, what: str = "The network") -> torch.optim.Optimizer:
    """The optimizer the options name, over the trainable parameters of ``model`` (or ``params``)."""
    if params is None:
        params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        hint = ("every layer with weights is frozen: unfreeze one in the training options" if frozen
                else "add a layer that learns (e.g. a Dense)")
        raise TrainingError(f"{what} has no trainable weights: {hint}.", "network")
    lr = opts.lr if lr is None else lr
    wd = opts.weight_decay
    if opts.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=opts.momentum, weight_decay=wd, nesterov=False)
    if opts.optimizer == "adam":
        if betas is not None:
            return torch.optim.Adam(params, lr=lr, weight_decay=wd, betas=betas)
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if opts.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if opts.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=opts.momentum, weight_decay=wd)
    raise TrainingError(f"Unknown optimizer {opts.optimizer!r}.", "options")


def make_scheduler(optimizer: torch.optim.Optimizer, opts: TrainingOptions, steps_per_epoch: int
                   ) -> tuple[Any, bool]:
    """(scheduler or None, whether it steps after every batch rather than every epoch)."""
    sched = torch.optim.lr_scheduler
    if opts.schedule == "step":
        return sched.StepLR(optimizer, step_size=opts.step_size, gamma=opts.gamma), False
    if opts.schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(1, opts.epochs * steps_per_epoch)), True
    if opts.schedule == "one_cycle":
        max_lr = optimizer.param_groups[0]["lr"]
        return sched.OneCycleLR(optimizer, max_lr=max_lr, total_steps=opts.epochs * steps_per_epoch), True
    if opts.schedule == "plateau":
        mode = "max" if opts.monitor_maximized else "min"
        return sched.ReduceLROnPlateau(optimizer, mode=mode, factor=opts.plateau_factor,
                                       patience=opts.plateau_patience), False
    return None, False


def apply_frozen_nodes(model: torch.nn.Module, names: tuple[str, ...]) -> list[str]:
    """Stop training the layers of the named nodes (``requires_grad`` off, so no optimizer gets
    them); returns their identifiers. Names the network does not have raise a TrainingError."""
    if not names:
        return []
    plan = getattr(model, "plan", None)
    by_name: dict[str, str] = {}
    if plan is not None:
        for step in plan.steps:
            by_name.setdefault(step.node.name, step.name)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        net = plan.network.name if plan is not None else "the network"
        raise TrainingError(f"The frozen nodes {', '.join(map(repr, unknown))} are not in network '{net}': remove "
                            f"them from the training option 'frozen_nodes' (or rename the nodes back).", "options")
    idents = []
    for name in names:
        ident = by_name[name]
        module = getattr(model, ident, None)
        if isinstance(module, torch.nn.Module):
            module.requires_grad_(False)
            idents.append(ident)
    return idents


def frozen_norm_layers(model: torch.nn.Module, idents: list[str]) -> list[torch.nn.Module]:
    """BatchNorm layers inside frozen nodes: kept in eval mode so their statistics stay as loaded."""
    found = []
    for ident in idents:
        for module in getattr(model, ident).modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                found.append(module)
    return found
