"""Recipes: what "training" means for a task. A recipe checks that the data fits the drawn network
(before anything trains, with a sentence naming the node to change), prepares the targets once on
the device, computes the loss of a batch and the metrics of an epoch.

Classification covers one class per sample (``N×C`` logits) and one class per position (``N×L×C``
logits for token targets). Regression covers any target shape the Output produces (and shows a
forecast preview for series). The autoencoder reconstructs its input, the language model predicts
each next character of a text (:mod:`engine.generative` holds both) and the GAN trains a generator
against a discriminator (:mod:`engine.gan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data import Dataset, check_input_shape, format_shape
from engine.data.compat import check_vocabulary
from engine.errors import TrainingError
from engine.metrics import classification_metrics, regression_metrics, target_scale
from engine.options import TrainingOptions

LOSS_LABELS = {"cross_entropy": "cross-entropy", "bce": "binary cross-entropy", "mse": "MSE", "l1": "L1",
               "huber": "Huber"}


def check_recipe_fits(options: TrainingOptions, dataset: Dataset) -> None:
    """Refuse a task the data set cannot give (a sentence saying which task to pick instead)."""
    recipe = options.recipe
    if recipe in ("autoencoder", "gan"):
        if dataset.input_dtype != "float32":
            what = "reconstructs its input" if recipe == "autoencoder" else "generates samples like the data"
            raise TrainingError(f"The {recipe} task {what}, but the data set '{dataset.name}' gives token ids: "
                                f"pick a data set of numbers or images (e.g. digits), or another task.", "options")
        return
    if recipe == "language_model":
        if dataset.task != "language":
            raise TrainingError(f"The language_model task predicts the next character of a text, but the data set "
                                f"'{dataset.name}' is not a text: pick the text data set (the built-in story or "
                                f"your own .txt file), or another task.", "options")
        return
    wanted = dataset_recipe(dataset)
    if recipe != wanted:
        what = {"classification": "classes", "regression": "numbers"}[wanted]
        raise TrainingError(f"The data set '{dataset.name}' has {what} to predict ({wanted}), but the training "
                            f"task is {recipe}: set the task to {wanted}.", "options")


def dataset_recipe(dataset: Dataset) -> str:
    """The recipe a data set calls for: class (or token) targets -> classification, numbers -> regression."""
    if dataset.task in ("classification", "language"):
        return "classification"
    if dataset.task == "sequence" and np.issubdtype(dataset.y_train.dtype, np.integer):
        return "classification"
    return "regression"


def class_count(dataset: Dataset) -> int:
    if dataset.num_classes:
        return int(dataset.num_classes)
    if dataset.vocab:
        return len(dataset.vocab)
    top = max(int(dataset.y_train.max(initial=0)), int(dataset.y_val.max(initial=0)))
    return top + 1


@dataclass(frozen=True)
class Endpoints:
    """The network's Input and Output as the checks see them."""

    input_node: Any
    output_node: Any
    output_shape: tuple[int, ...]          # per sample
    output_dtype: str
    last_node: Any | None                  # the node wired into the Output


def network_endpoints(network: Any) -> Endpoints:
    from graph.shapes import analyze

    inputs, outputs = network.inputs(), network.outputs()
    if len(inputs) != 1:
        raise TrainingError(f"Training feeds one data set into one Input, but network '{network.name}' has "
                            f"{len(inputs)} Input nodes: keep exactly one.", "shape")
    if len(outputs) != 1:
        raise TrainingError(f"Training compares one Output with the targets, but network '{network.name}' has "
                            f"{len(outputs)} Output nodes: keep exactly one (or train a sub-network).", "shape")
    analysis = analyze(network)
    out = analysis.nodes[outputs[0].id].output
    if out is None:
        raise TrainingError(f"The shape of Output '{outputs[0].name}' is unknown: fix the problems shown on the "
                            "canvas first.", "network", node=outputs[0].id)
    edges = network.in_edges(outputs[0].id)
    last = network.node(edges[0].source) if edges else None
    return Endpoints(inputs[0], outputs[0], tuple(out.shape[1:]), out.dtype, last)


def _fix_width(ends: Endpoints, width: int) -> str:
    last = ends.last_node
    if last is not None and last.type_id == "Dense":
        return f"set the units of {last.label()} to {width}"
    return f"end the network with a Dense of {width} units before Output '{ends.output_node.name}'"


def distance_loss(loss_name: str, huber_delta: float) -> Any:
    """The L1, Huber or MSE loss function, shared by the recipes that compare values with values."""
    import torch.nn.functional as F

    if loss_name == "l1":
        return F.l1_loss
    if loss_name == "huber":
        def huber(out: Any, y: Any) -> Any:
            return F.huber_loss(out, y, delta=huber_delta)
        return huber
    return F.mse_loss


class Recipe:
    """One training task. Methods taking tensors run inside the hot loop or the evaluation."""

    name = ""

    #: names of the losses a step reports besides their sum (GAN: g_loss, d_loss)
    loss_names: tuple[str, ...] = ()

    def __init__(self, options: TrainingOptions, dataset: Dataset, ends: Endpoints) -> None:
        self.options = options
        self.dataset = dataset
        self.ends = ends
        self.loss_name = options.resolved_loss
        self.warnings: list[str] = []

    def make_trainer(self, *args: Any, **kwargs: Any) -> Any:
        """The loop that trains this recipe (the GAN has its own)."""
        from engine.loop import Trainer

        return Trainer(*args, **kwargs)

    # -- set-up ---------------------------------------------------------------------------------
    def targets(self, y: Any) -> tuple[Any, Any]:
        """(what the loss reads, what the metrics read) for the target tensor of a split."""
        raise NotImplementedError

    def split_targets(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Targets of a split from its inputs and targets (an autoencoder's targets are its inputs)."""
        return self.targets(y)

    def loss_fn(self) -> Any:
        raise NotImplementedError

    # -- hot loop -------------------------------------------------------------------------------
    def predict_into_fn(self) -> Any:
        """``fn(output, dest)`` writing each sample's predicted class into ``dest`` (one kernel per
        step; compared with the targets once per epoch), or None when the recipe predicts no classes."""
        return None

    # -- evaluation -----------------------------------------------------------------------------
    def new_accumulator(self, device: Any) -> Any:
        raise NotImplementedError

    def metrics(self, accumulator: Any, prefix: str = "val_") -> dict[str, Any]:
        raise NotImplementedError

    def add_derived_metrics(self, metrics: dict[str, Any]) -> None:
        """Metrics computed from the others once val_loss is known (a language model's perplexity)."""

    # -- previews -------------------------------------------------------------------------------
    def previews(self, trainer: Any, epoch: int) -> list[tuple[str, dict[str, Any]]]:
        """(kind, data) pairs sent as PreviewSamples after each epoch (see engine.events)."""
        return []


class ClassificationRecipe(Recipe):
    name = "classification"

    def __init__(self, options: TrainingOptions, dataset: Dataset, ends: Endpoints) -> None:
        super().__init__(options, dataset, ends)
        self.num_classes = class_count(dataset)
        target = tuple(dataset.target_shape)
        out = ends.output_shape
        c = self.num_classes
        where = f"Output '{ends.output_node.name}'"
        if ends.output_dtype != "float32":
            raise TrainingError(f"{where} gives {ends.output_dtype} values, but a classifier must output one score "
                                f"per class: {_fix_width(ends, c)}.", "shape", node=ends.output_node.id)
        self.binary = False
        if self.loss_name == "bce" and c == 2 and out == (*target, 1):
            self.binary = True     # one logit per sample (or position): P(class 1)
        elif out != (*target, c):
            if len(out) != len(target) + 1:
                if target:
                    need = f"{format_shape(target)}×{c} (a score for each of the {c} classes at every position)"
                else:
                    need = f"{c} scores per sample (one per class)"
                hint = ("add a Flatten, a GlobalAvgPool or a SequencePool before the last Dense"
                        if len(out) > len(target) + 1 else _fix_width(ends, c))
                raise TrainingError(f"{where} gives {format_shape(out)} per sample, but the data set "
                                    f"'{dataset.name}' needs {need}: {hint}.", "shape", node=ends.output_node.id)
            if out[:-1] != target:
                raise TrainingError(f"{where} gives {format_shape(out)} per sample, but the data set "
                                    f"'{dataset.name}' has targets of {format_shape(target)} positions: make the "
                                    f"Output {format_shape((*target, c))}.", "shape", node=ends.output_node.id)
            extra = " (or 1 unit with the BCE loss)" if self.loss_name == "bce" and c == 2 else ""
            raise TrainingError(f"{where} gives {out[-1]} scores per {'position' if target else 'sample'} but the "
                                f"data set '{dataset.name}' has {c} classes: {_fix_width(ends, c)}{extra}.",
                                "shape", node=(ends.last_node or ends.output_node).id)
        self.positions = int(np.prod(target)) if target else 1
        last = ends.last_node
        if last is not None and last.type_id in ("Softmax", "Sigmoid", "LogSoftmax"):
            self.warnings.append(f"{last.label()} feeds the Output, but the {LOSS_LABELS[self.loss_name]} loss "
                                 f"expects raw scores (logits): remove it, or training will be slow or stall.")

    def targets(self, y: Any) -> tuple[Any, Any]:
        import torch.nn.functional as F

        if self.loss_name == "bce":
            if self.binary:
                return y.float().unsqueeze(-1), y
            return F.one_hot(y, self.num_classes).float(), y
        return y, y

    def loss_fn(self) -> Any:
        import torch.nn.functional as F

        c = self.num_classes
        if self.loss_name == "bce":
            return F.binary_cross_entropy_with_logits
        smoothing = self.options.label_smoothing
        if self.positions > 1 or self.dataset.target_shape:
            def token_ce(out: Any, y: Any) -> Any:
                return F.cross_entropy(out.reshape(-1, c), y.reshape(-1), label_smoothing=smoothing)
            return token_ce
        if smoothing:
            def smoothed_ce(out: Any, y: Any) -> Any:
                return F.cross_entropy(out, y, label_smoothing=smoothing)
            return smoothed_ce
        return F.cross_entropy

    def predict(self, out: Any) -> Any:
        if self.binary:
            return (out.squeeze(-1) > 0).long()
        return out.argmax(-1)

    def predict_into_fn(self) -> Any:
        import torch

        if self.binary:
            def above_zero(out: Any, dest: Any) -> None:
                torch.gt(out.detach().squeeze(-1), 0, out=dest)
            return above_zero

        def argmax(out: Any, dest: Any) -> None:
            torch.argmax(out.detach(), -1, out=dest)
        return argmax

    def new_accumulator(self, device: Any) -> Any:
        import torch

        c = self.num_classes
        confusion = torch.zeros(c * c, dtype=torch.long, device=device)

        def update(out: Any, y: Any) -> None:
            pred = self.predict(out).reshape(-1)
            confusion.add_(torch.bincount(y.reshape(-1) * c + pred, minlength=c * c))
        return update, confusion

    def metrics(self, accumulator: Any, prefix: str = "val_") -> dict[str, Any]:
        _, confusion = accumulator
        cm = confusion.cpu().numpy().reshape(self.num_classes, self.num_classes)
        return classification_metrics(cm, prefix, self.dataset.class_names)


class RegressionRecipe(Recipe):
    name = "regression"

    def __init__(self, options: TrainingOptions, dataset: Dataset, ends: Endpoints) -> None:
        super().__init__(options, dataset, ends)
        target = tuple(dataset.target_shape)
        out = ends.output_shape
        where = f"Output '{ends.output_node.name}'"
        self.squeeze = False
        if out == target:
            pass
        elif not target and out == (1,):
            self.squeeze = True     # N×1 output against one number per sample
        else:
            if not target:
                need = "one number per sample"
                fix = _fix_width(ends, 1)
            else:
                need = f"{format_shape(target)} numbers per sample"
                fix = (_fix_width(ends, target[-1]) if len(target) == len(out) and out[:-1] == target[:-1]
                       else f"make Output '{ends.output_node.name}' {format_shape(target)}")
            raise TrainingError(f"{where} gives {format_shape(out)} per sample, but the data set "
                                f"'{dataset.name}' has {need} to predict: {fix}.", "shape",
                                node=(ends.last_node or ends.output_node).id)
        if ends.output_dtype != "float32":
            raise TrainingError(f"{where} gives {ends.output_dtype} values, but regression needs float32 numbers.",
                                "shape", node=ends.output_node.id)
        self.outputs = int(np.prod(out)) if out else 1
        self.scale = target_scale(dataset.normalization, self.outputs)

    def targets(self, y: Any) -> tuple[Any, Any]:
        y = y.float()
        if self.squeeze:
            y = y.unsqueeze(-1)
        return y, y

    def loss_fn(self) -> Any:
        return distance_loss(self.loss_name, self.options.huber_delta)

    def new_accumulator(self, device: Any) -> Any:
        import torch

        sums = torch.zeros(5, self.outputs, dtype=torch.float64, device=device)
        if device.type == "mps":   # no float64 there
            sums = sums.float()

        def update(out: Any, y: Any) -> None:
            o = out.reshape(len(out), -1).to(sums.dtype)
            t = y.reshape(len(y), -1).to(sums.dtype)
            err = o - t
            sums[0].add_(err.square().sum(0))
            sums[1].add_(err.abs().sum(0))
            sums[2].add_(t.sum(0))
            sums[3].add_(t.square().sum(0))
            sums[4].add_(len(t))
        return update, sums

    def metrics(self, accumulator: Any, prefix: str = "val_") -> dict[str, Any]:
        _, sums = accumulator
        s = sums.double().cpu().numpy()
        return regression_metrics(float(s[4, 0]), s[0], s[1], s[2], s[3], self.scale, prefix)

    def previews(self, trainer: Any, epoch: int) -> list[tuple[str, dict[str, Any]]]:
        """A forecast for series data (one feature per time step): the first validation series, its
        true continuation and the model's, in the data's own units."""
        ds = self.dataset
        if len(ds.input_shape) != 2 or ds.input_shape[1] != 1 or ds.input_dtype != "float32":
            return []
        if tuple(ds.target_shape) not in ((), (1,)) and (len(ds.target_shape) != 2 or ds.target_shape[1] != 1):
            return []
        import torch

        model = trainer.model
        model.eval()
        with torch.inference_mode():
            out = model(trainer.x_val[:1].to(trainer.device)).float().reshape(-1).cpu().numpy()
        norm = ds.normalization or {}
        history = _undo(ds.x_val[0].reshape(-1), norm.get("input"))
        true = _undo(np.asarray(ds.y_val[0], dtype=np.float64).reshape(-1), norm.get("target"))
        predicted = _undo(out.astype(np.float64), norm.get("target"))
        # a window the same length as the history is the same series one step on; a shorter one
        # continues after the history
        first = 1 if len(true) == len(history) else len(history)
        return [("forecast", {"steps": list(range(first, first + len(true))), "history": history.tolist(),
                              "true": true.tolist(), "predicted": predicted.tolist()})]


def _undo(values: np.ndarray, stats: dict[str, Any] | None) -> np.ndarray:
    """Values back in the data's own units (a recorded global normalisation undone)."""
    values = np.asarray(values, dtype=np.float64)
    if stats and stats.get("mode") == "global":
        return values * float(stats["std"]) + float(stats["mean"])
    return values


def _recipe_classes() -> dict[str, type[Recipe]]:
    from engine.generative import AutoencoderRecipe, LanguageModelRecipe

    return {"classification": ClassificationRecipe, "regression": RegressionRecipe,
            "autoencoder": AutoencoderRecipe, "language_model": LanguageModelRecipe}


def check_frozen_nodes(options: TrainingOptions, network: Any) -> None:
    """Every frozen node must be in the network (a renamed or deleted node would silently train)."""
    names = {node.name for node in network.nodes}
    unknown = [n for n in options.frozen_nodes if n not in names]
    if unknown:
        raise TrainingError(f"The frozen node(s) {', '.join(map(repr, unknown))} are not in network "
                            f"'{network.name}': remove them from the training option 'frozen_nodes' (or give the "
                            f"nodes those names again).", "options")


def make_recipe(options: TrainingOptions, dataset: Dataset, network: Any) -> Recipe:
    """Check that ``dataset`` fits ``network`` under ``options`` and return the recipe; raises a
    TrainingError (kind "shape") that names the node to change and says what to set."""
    check_recipe_fits(options, dataset)
    check_frozen_nodes(options, network)
    if options.recipe == "gan":
        from engine.gan import GanRecipe

        return GanRecipe(options, dataset, network)
    ends = network_endpoints(network)
    node = ends.input_node
    problem = check_input_shape(dataset, node.params["shape"], node.params["dtype"], node.name)
    if problem:
        raise TrainingError(problem, "shape", node=node.id)
    for edge in network.out_edges(node.id):
        target = network.node(edge.target)
        if target.type_id == "Embedding":
            problem = check_vocabulary(dataset, target.params["num_embeddings"], target.label())
            if problem:
                raise TrainingError(problem, "shape", node=target.id)
    cls = _recipe_classes()[options.recipe]
    if options.recipe == "autoencoder":
        return cls(options, dataset, ends, network)  # type: ignore[call-arg]
    return cls(options, dataset, ends)
