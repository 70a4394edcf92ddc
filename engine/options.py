"""Training options: one frozen record, declared field by field so the settings form, the project
file, the CLI and the exported script all read the same names, defaults and ranges.

Stored in ``project.settings["training"]`` as plain JSON (``to_dict``); ``from_dict`` checks every
value and names the key at fault. Unknown keys (from a newer DeepCanvas) are logged and ignored.
Importing this module does not import torch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from engine.errors import OptionsError

log = logging.getLogger(__name__)

RECIPES = ("classification", "regression", "autoencoder", "gan", "language_model")
LOSSES = ("auto", "cross_entropy", "bce", "mse", "l1", "huber")
CLASSIFICATION_LOSSES = ("cross_entropy", "bce")
REGRESSION_LOSSES = ("mse", "l1", "huber")
#: the losses each recipe accepts besides "auto" (the first one is what "auto" means)
RECIPE_LOSSES: dict[str, tuple[str, ...]] = {
    "classification": CLASSIFICATION_LOSSES,
    "regression": REGRESSION_LOSSES,
    "autoencoder": ("mse", "l1", "huber", "bce"),
    "gan": ("bce",),
    "language_model": ("cross_entropy",),
}
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "one_cycle", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")
MONITORS = ("val_loss", "val_accuracy", "val_f1", "val_mae", "val_r2", "val_reconstruction_error",
            "val_quality")
#: monitored metrics that are better when larger
MAXIMIZED = frozenset({"val_accuracy", "val_f1", "val_r2", "val_quality"})
#: the metrics each recipe measures besides val_loss (a monitor outside its list is refused)
RECIPE_MONITORS: dict[str, tuple[str, ...]] = {
    "classification": ("val_loss", "val_accuracy", "val_f1"),
    "regression": ("val_loss", "val_mae", "val_r2"),
    "autoencoder": ("val_loss", "val_reconstruction_error"),
    # a GAN has no validation loss worth minimising: val_loss there means "the usual", val_quality
    "gan": ("val_loss", "val_quality"),
    "language_model": ("val_loss", "val_accuracy"),
}
_MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class OptionSpec:
    """How one option is shown and checked (the settings form builds its widgets from these)."""

    name: str
    #: "choice" | "float" | "int" | "bool" | "node" (a node name of the trained network, "" meaning
    #: pick automatically) | "nodes" (a list of node names)
    kind: str
    label: str
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: the minimum itself is not allowed (learning rate > 0)
    exclusive_minimum: bool = False


OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec("recipe", "choice", "Task", "What the network learns: classes (classification), numbers "
               "(regression, also sequence forecasting), its own input through a narrow latent (autoencoder), "
               "new samples like the data (gan: a generator and a discriminator trained against each other) or "
               "the next character of a text (language_model).", RECIPES),
    OptionSpec("loss", "choice", "Loss", "auto: cross-entropy for classification and language models, MSE for "
               "regression and autoencoders, BCE for GANs. BCE trains one sigmoid per class (or one output for "
               "two classes); an autoencoder with BCE needs inputs between 0 and 1.", LOSSES),
    OptionSpec("label_smoothing", "float", "Label smoothing", "Cross-entropy only: spread this much of each "
               "target over the other classes.", minimum=0.0, maximum=0.99),
    OptionSpec("huber_delta", "float", "Huber delta", "Huber loss only: errors below it count squared, above "
               "it linearly.", minimum=0.0, maximum=1e6, exclusive_minimum=True),
    OptionSpec("optimizer", "choice", "Optimizer", "How weights follow the gradients.", OPTIMIZERS),
    OptionSpec("lr", "float", "Learning rate", "Step size of the optimizer; lower it if the loss jumps or "
               "becomes NaN.", minimum=0.0, maximum=1e6, exclusive_minimum=True),
    OptionSpec("momentum", "float", "Momentum", "SGD and RMSprop: how much of the previous step is kept.",
               minimum=0.0, maximum=0.999),
    OptionSpec("weight_decay", "float", "Weight decay", "Pull weights towards zero (L2; decoupled for "
               "AdamW).", minimum=0.0, maximum=10.0),
    OptionSpec("schedule", "choice", "LR schedule", "How the learning rate changes while training.",
               SCHEDULES),
    OptionSpec("step_size", "int", "Step every (epochs)", "Step schedule: epochs between learning-rate "
               "cuts.", minimum=1, maximum=100_000),
    OptionSpec("gamma", "float", "Step factor", "Step schedule: multiply the learning rate by this.",
               minimum=0.0, maximum=1.0, exclusive_minimum=True),
    OptionSpec("plateau_patience", "int", "Plateau patience", "Reduce-on-plateau: epochs without improvement "
               "before the learning rate is cut.", minimum=0, maximum=100_000),
    OptionSpec("plateau_factor", "float", "Plateau factor", "Reduce-on-plateau: multiply the learning rate "
               "by this.", minimum=0.0, maximum=1.0, exclusive_minimum=True),
    OptionSpec("epochs", "int", "Epochs", "Passes over the training data.", minimum=1, maximum=1_000_000),
    OptionSpec("batch_size", "int", "Batch size", "Samples per step; lower it if the device runs out of "
               "memory.", minimum=1, maximum=1_000_000),
    OptionSpec("grad_clip", "float", "Gradient clipping", "Largest global gradient norm (0: off).",
               minimum=0.0, maximum=1e9),
    OptionSpec("early_stopping", "int", "Early stopping patience", "Stop after this many epochs without "
               "improvement of the monitored metric (0: off).", minimum=0, maximum=1_000_000),
    OptionSpec("min_delta", "float", "Minimum improvement", "Smaller changes of the monitored metric do not "
               "count as improvement.", minimum=0.0, maximum=1e9),
    OptionSpec("monitor", "choice", "Monitored metric", "Decides the best epoch (kept weights), early "
               "stopping and reduce-on-plateau. GANs have no validation loss to minimise: with val_loss they "
               "keep the epoch of the best val_quality.", MONITORS),
    OptionSpec("keep_best", "bool", "Keep best weights", "Save the weights of the best epoch besides the "
               "last ones."),
    OptionSpec("seed", "int", "Seed", "Initial weights and batch order; the same seed gives the same run.",
               minimum=0, maximum=_MAX_SEED),
    OptionSpec("device", "choice", "Device", "auto: an NVIDIA GPU (CUDA) or Apple GPU (MPS) when present, "
               "else the CPU.", DEVICES),
    OptionSpec("mixed_precision", "bool", "Mixed precision", "On CUDA: compute in bfloat16/float16 where "
               "safe (faster, less memory). Ignored elsewhere."),
    OptionSpec("frozen_nodes", "nodes", "Frozen nodes", "Nodes whose weights are not trained (transfer "
               "learning: keep loaded weights as they are); their BatchNorm statistics stay fixed too."),
    OptionSpec("latent_node", "node", "Latent node", "Autoencoder: the node whose output is the code. "
               "Automatic: a node named 'latent', else an Encoder's output, else the narrowest node between "
               "Input and Output. A code of 2 values per sample is plotted."),
    OptionSpec("generator_node", "node", "Generator", "GAN: a node of the generator (its connected part from "
               "an Input of noise to an Output shaped like a data sample). Automatic: a node named or typed "
               "Generator, else the part whose Output matches a data sample."),
    OptionSpec("discriminator_node", "node", "Discriminator", "GAN: a node of the discriminator (its "
               "connected part from an Input shaped like a data sample to an Output of one score). Automatic: a "
               "node named or typed Discriminator, else the part whose Output gives one value per sample."),
    OptionSpec("discriminator_lr", "float", "Discriminator learning rate", "GAN: learning rate of the "
               "discriminator's optimizer (0: the same as the generator's). GANs use Adam with betas (0.5, "
               "0.999).", minimum=0.0, maximum=1e6),
    OptionSpec("temperature", "float", "Sampling temperature", "Language model: how adventurous the sampled "
               "text shown while training is (lower: more likely characters).", minimum=0.0, maximum=10.0,
               exclusive_minimum=True),
)
SPECS: dict[str, OptionSpec] = {s.name: s for s in OPTION_SPECS}
#: accepted spellings of choice values ("Cross-Entropy" -> "cross_entropy")
_ALIASES = {"crossentropy": "cross_entropy", "ce": "cross_entropy", "onecycle": "one_cycle",
            "reduce_on_plateau": "plateau", "cosine_annealing": "cosine", "smooth_l1": "huber",
            "mae": "l1", "gpu": "cuda"}


@dataclass(frozen=True)
class TrainingOptions:
    """Everything a run needs besides the network and the data set. Checked on construction."""

    recipe: str = "classification"
    loss: str = "auto"
    label_smoothing: float = 0.0
    huber_delta: float = 1.0
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "none"
    step_size: int = 10
    gamma: float = 0.1
    plateau_patience: int = 3
    plateau_factor: float = 0.5
    epochs: int = 20
    batch_size: int = 64
    grad_clip: float = 0.0
    early_stopping: int = 0
    min_delta: float = 0.0
    monitor: str = "val_loss"
    keep_best: bool = True
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    frozen_nodes: tuple[str, ...] = ()
    latent_node: str = ""
    generator_node: str = ""
    discriminator_node: str = ""
    discriminator_lr: float = 0.0
    temperature: float = 0.8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = _check(SPECS[f.name], getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        losses = RECIPE_LOSSES[self.recipe]
        if self.loss != "auto" and self.loss not in losses:
            raise OptionsError(f"Training option 'loss': {self.loss} does not suit {self.recipe}; use one of "
                               f"{', '.join(losses)} (or auto).", "loss")
        if self.monitor not in RECIPE_MONITORS[self.recipe]:
            raise OptionsError(f"Training option 'monitor': {self.monitor} is not measured for "
                               f"{self.recipe}; use one of {', '.join(RECIPE_MONITORS[self.recipe])}.", "monitor")

    @property
    def resolved_loss(self) -> str:
        if self.loss != "auto":
            return self.loss
        return RECIPE_LOSSES[self.recipe][0]

    @property
    def resolved_monitor(self) -> str:
        """The metric that picks the best epoch (a GAN's val_loss says nothing about its samples)."""
        if self.recipe == "gan" and self.monitor == "val_loss":
            return "val_quality"
        return self.monitor

    @property
    def monitor_maximized(self) -> bool:
        return self.resolved_monitor in MAXIMIZED

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the frozen nodes as a list)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TrainingOptions:
        """Options from a project file (missing keys take their defaults)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise OptionsError(f"The training settings must be a mapping of names to values, not "
                               f"{type(data).__name__}.")
        unknown = sorted(str(k) for k in data if k not in SPECS)
        if unknown:
            log.warning("ignoring unknown training option(s): %s", ", ".join(unknown))
        return cls(**{k: v for k, v in data.items() if k in SPECS})

    def with_changes(self, **changes: Any) -> TrainingOptions:
        """A copy with some options changed (checked like the rest); ``None`` values are ignored."""
        unknown = sorted(k for k in changes if k not in SPECS)
        if unknown:
            raise OptionsError(f"There is no training option {', '.join(map(repr, unknown))}.", unknown[0])
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _check(spec: OptionSpec, value: Any) -> Any:
    key = spec.name

    def fail(wanted: str) -> OptionsError:
        return OptionsError(f"Training option '{key}' must be {wanted}, not {value!r}.", key)

    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise fail("true or false")
    if spec.kind == "node":
        if value is None:
            return ""
        if not isinstance(value, str):
            raise fail("a node name (or empty for automatic)")
        return value.strip()
    if spec.kind == "nodes":
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, list | tuple) or not all(
                isinstance(v, str) and v.strip() for v in value):
            raise fail("a list of node names")
        return tuple(dict.fromkeys(v.strip() for v in value))
    if spec.kind == "choice":
        if not isinstance(value, str):
            raise fail("one of " + ", ".join(spec.choices))
        norm = value.strip().lower().replace("-", "_").replace(" ", "_")
        norm = _ALIASES.get(norm.replace("_", ""), _ALIASES.get(norm, norm))
        if norm not in spec.choices:
            raise fail("one of " + ", ".join(spec.choices))
        return norm
    wanted = _range_text("a whole number" if spec.kind == "int" else "a number", spec)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(wanted)
    if spec.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise fail(wanted)
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise fail(wanted)
    lo, hi = spec.minimum, spec.maximum
    if lo is not None and (value < lo or (spec.exclusive_minimum and value == lo)):
        raise fail(wanted)
    if hi is not None and value > hi:
        raise fail(wanted)
    return value


def _range_text(what: str, spec: OptionSpec) -> str:
    lo, hi = spec.minimum, spec.maximum

    def num(v: float) -> str:
        return f"{v:g}"

    if lo is not None and hi is not None:
        lower = f"above {num(lo)}" if spec.exclusive_minimum else f"from {num(lo)}"
        return f"{what} {lower} {'up to' if spec.exclusive_minimum else 'to'} {num(hi)}"
    if lo is not None:
        return f"{what} {'above' if spec.exclusive_minimum else 'of at least'} {num(lo)}"
    return what


# -- project settings -----------------------------------------------------------------------------
TRAINING_KEY = "training"
DATASET_KEY = "dataset"


def options_from_project(project: Any) -> TrainingOptions:
    """The project's training options (defaults when it has none)."""
    return TrainingOptions.from_dict(project.settings.get(TRAINING_KEY))


def store_options(project: Any, options: TrainingOptions) -> None:
    """Save options into the project (emits the project's SettingsChanged, so the GUI marks it modified)."""
    project.set_setting(TRAINING_KEY, options.to_dict())
