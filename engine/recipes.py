"""Recipes: what "training" means for a task. A recipe checks that the data fits the drawn network
(before anything trains, with a sentence naming the node to change), prepares the targets once on
the device, computes the loss of a batch and the metrics of an epoch.

Classification covers one class per sample (``N×C`` logits) and one class per position (``N×L×C``
logits for token targets). Regression covers any target shape the Output produces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data import Dataset, check_input_shape, format_shape
from engine.errors import TrainingError
from engine.metrics import classification_metrics, regression_metrics, target_scale
from engine.options import TrainingOptions

LOSS_LABELS = {"cross_entropy": "cross-entropy", "bce": "binary cross-entropy", "mse": "MSE", "l1": "L1",
               "huber": "Huber"}


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


class Recipe:
    """One training task. Methods taking tensors run inside the hot loop or the evaluation."""

    name = ""

    def __init__(self, options: TrainingOptions, dataset: Dataset, ends: Endpoints) -> None:
        self.options = options
        self.dataset = dataset
        self.ends = ends
        self.loss_name = options.resolved_loss
        self.warnings: list[str] = []

    # -- set-up ---------------------------------------------------------------------------------
    def targets(self, y: Any) -> tuple[Any, Any]:
        """(what the loss reads, what the metrics read) for the target tensor of a split."""
        raise NotImplementedError

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
        import torch.nn.functional as F

        if self.loss_name == "l1":
            return F.l1_loss
        if self.loss_name == "huber":
            delta = self.options.huber_delta

            def huber(out: Any, y: Any) -> Any:
                return F.huber_loss(out, y, delta=delta)
            return huber
        return F.mse_loss

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


RECIPE_CLASSES: dict[str, type[Recipe]] = {"classification": ClassificationRecipe,
                                           "regression": RegressionRecipe}


def make_recipe(options: TrainingOptions, dataset: Dataset, network: Any) -> Recipe:
    """Check that ``dataset`` fits ``network`` under ``options`` and return the recipe; raises a
    TrainingError (kind "shape") that names the node to change and says what to set."""
    wanted = dataset_recipe(dataset)
    if options.recipe != wanted:
        what = {"classification": "classes", "regression": "numbers"}[wanted]
        raise TrainingError(f"The data set '{dataset.name}' has {what} to predict ({wanted}), but the training "
                            f"task is {options.recipe}: set the task to {wanted}.", "options")
    ends = network_endpoints(network)
    node = ends.input_node
    problem = check_input_shape(dataset, node.params["shape"], node.params["dtype"], node.name)
    if problem:
        raise TrainingError(problem, "shape", node=node.id)
    return RECIPE_CLASSES[options.recipe](options, dataset, ends)
