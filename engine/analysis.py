"""Understanding a trained classifier: how it does per class, where it goes wrong, what each layer
makes of one sample, and which input pixels its decision hangs on.

* :func:`evaluate` — confusion matrix, per-class precision / recall / F1 / support, accuracy and the
  validation samples the network is least sure of (lowest probability of their true class).
* :func:`trace` — every node's value for one sample, in the plan's order, with the inferred shape.
* :func:`saliency` — ``|d score(class) / d input|`` for one image sample (Simonyan et al., 2013):
  the raw class score (logit), not the softmax, so other classes do not leak into the map.

All three take the project (a graph ``Project``), the network (name or ``Network``) and the
weights attached to it (a state dict; layers it does not cover keep their seeded initial
weights, and the result says so). Problems come back as :class:`AnalysisError` with a sentence
that says what to change. Qt-free; torch is imported inside the functions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import TrainingError

log = logging.getLogger(__name__)

#: worst-classified samples kept by default
WORST_SAMPLES = 12
#: samples per forward pass while evaluating
EVAL_BATCH = 512


class AnalysisError(TrainingError):
    """The analysis cannot be done; ``message`` says why and what to change (``node``: the node at fault)."""


# -- shared set-up ------------------------------------------------------------------------------------
def _network(project: Any, network: Any) -> Any:
    from graph.document import Network

    if isinstance(network, Network):
        return network
    if isinstance(project, Network):
        return project
    try:
        return project.network(network)
    except Exception as exc:    # GraphError: no such network
        raise AnalysisError(f"The project has no network {network!r}: {exc}", "network") from None


def load_project_dataset(project: Any, base_dir: str | None = None) -> Any:
    """The project's data set, split and normalised exactly as training sees it."""
    from engine.data import DatasetError, load_dataset
    from engine.session import dataset_spec

    settings = getattr(project, "settings", {}) or {}
    if not settings.get("dataset"):
        raise AnalysisError("The project has no data set: choose one in the training panel first.", "data")
    try:
        return load_dataset(dataset_spec(settings, base_dir))
    except DatasetError as exc:
        raise AnalysisError(str(exc), "data") from None


def build_model(project: Any, network: Any, weights: Mapping[str, Any] | None) -> tuple[Any, list[str]]:
    """The compiled network in eval mode with ``weights`` loaded, and notes on what they miss."""
    from graph import compile_network
    from graph.errors import GraphError

    net = _network(project, network)
    try:
        model = compile_network(net, seed=0)
    except GraphError as exc:
        raise AnalysisError(f"The network '{net.name}' cannot be built: {exc}", "network") from None
    notes = load_partial(model, net, weights)
    model.eval()
    return model, notes


def load_partial(model: Any, net: Any, weights: Mapping[str, Any] | None) -> list[str]:
    """Load what ``weights`` has (the load dialog attaches only the layers that fit); a tensor of
    the wrong size or for a layer that is gone means the network was edited since: say so."""
    names = {ident: net.node(node_id).name for node_id, ident in model.node_names.items()}
    if not weights:
        return [f"No trained weights are attached to '{net.name}': these are its initial (random) weights."]
    own = model.state_dict()
    unknown = sorted({k.split(".", 1)[0] for k in weights if k not in own})
    wrong = sorted(k for k in weights if k in own and tuple(weights[k].shape) != tuple(own[k].shape))
    if unknown or wrong:
        parts = []
        if wrong:
            k = wrong[0]
            parts.append(f"{names.get(k.split('.', 1)[0], k)} changed size "
                         f"({'×'.join(map(str, weights[k].shape))} → {'×'.join(map(str, own[k].shape))})")
        if unknown:
            parts.append(f"{', '.join(unknown[:4])} no longer exist{'s' if len(unknown) == 1 else ''}")
        raise AnalysisError(f"The attached weights do not fit '{net.name}' as it is now: {'; '.join(parts)}. "
                            "Load the weights again (Analyze ▸ Load Weights) or train the network.", "shape")
    model.load_state_dict(dict(weights), strict=False)
    fresh = sorted({names.get(k.split(".", 1)[0], k.split(".", 1)[0]) for k in own if k not in weights
                    and not k.endswith("num_batches_tracked")})
    if fresh:
        return [f"No trained weights for {', '.join(fresh[:6])}{' and more' if len(fresh) > 6 else ''}: "
                f"{'it keeps its' if len(fresh) == 1 else 'they keep their'} initial weights."]
    return []


def _check_sample(model: Any, net: Any, inputs: Sequence[np.ndarray]) -> list[Any]:
    """Per-sample arrays -> batch-of-one tensors, checked against the Input nodes."""
    import torch

    plan = model.plan
    if len(inputs) != len(plan.inputs):
        raise AnalysisError(f"The network '{net.name}' has {len(plan.inputs)} Input node(s) but "
                            f"{len(inputs)} input(s) were given.", "shape")
    tensors = []
    for step, array in zip(plan.inputs, inputs, strict=True):
        array = np.asarray(array)
        wanted = tuple(step.output.shape[1:])
        shape = tuple(array.shape)
        if len(shape) != len(wanted) or any(w is not None and w != s for w, s in zip(wanted, shape, strict=False)):
            raise AnalysisError(f"Input '{step.node.name}' takes {_fmt(wanted)} per sample but the sample is "
                                f"{_fmt(shape)}: set the Input shape to {_fmt(shape)}.", "shape", node=step.node.id)
        if step.output.dtype == "int64":
            if not np.issubdtype(array.dtype, np.integer):
                raise AnalysisError(f"Input '{step.node.name}' takes token ids (int64) but the sample holds "
                                    f"{array.dtype} values: set the Input data type to float32.", "shape",
                                    node=step.node.id)
            tensors.append(torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64)).unsqueeze(0))
        else:
            tensors.append(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).unsqueeze(0))
    return tensors


def _fmt(shape: Sequence[Any]) -> str:
    return "×".join("N" if d is None else str(d) for d in shape) or "scalar"


def _as_inputs(sample: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(sample, np.ndarray):
        return [sample]
    return [np.asarray(s) for s in sample]


def _final_activation(net: Any) -> str | None:
    """"Softmax"/"LogSoftmax"/"Sigmoid" when that node feeds the Output (its values are then not logits)."""
    outputs = net.outputs()
    if len(outputs) != 1:
        return None
    edges = net.in_edges(outputs[0].id)
    if not edges:
        return None
    last = net.node(edges[0].source).type_id
    return last if last in ("Softmax", "LogSoftmax", "Sigmoid") else None


def _probabilities(out: Any, mode: str, final: str | None) -> Any:
    """Class probabilities from the network's output: softmax of logits, unless the network ends in
    a Softmax (already probabilities) or LogSoftmax; one logit -> (1-p, p)."""
    import torch

    out = out.float()
    if mode == "binary":
        p = out.squeeze(-1) if final == "Sigmoid" else torch.sigmoid(out.squeeze(-1))
        return torch.stack([1 - p, p], dim=-1)
    if final == "Softmax":
        return out
    if final == "LogSoftmax":
        return out.exp()
    if mode == "multilabel":
        return out if final == "Sigmoid" else torch.sigmoid(out)
    return torch.softmax(out, dim=-1)


# -- evaluation ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorstSample:
    index: int                         # position in the validation split
    x: np.ndarray                      # the input as the network sees it (normalised)
    true: Any                          # class index (or one per position)
    predicted: Any
    p_true: float                      # probability given to the true class (mean over positions)
    p_predicted: float


@dataclass
class Evaluation:
    network: str
    dataset: str
    class_names: list[str]
    confusion: np.ndarray               # rows: true class, columns: predicted
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray                 # true samples (or positions) per class
    accuracy: float
    worst: list[WorstSample]
    samples: int                        # validation samples
    per_position: bool = False          # one class per position (sequences): counts are positions
    input_kind: str = "vector"          # how to draw an input: image | vector | sequence | tokens
    vocab: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def present(self) -> np.ndarray:
        """Classes that occur in the targets or the predictions (the macro averages run over these)."""
        return (self.confusion.sum(axis=0) + self.confusion.sum(axis=1)) > 0

    def macro(self, values: np.ndarray) -> float:
        mask = self.present
        return float(values[mask].mean()) if mask.any() else 0.0

    @property
    def macro_f1(self) -> float:
        return self.macro(self.f1)

    def label(self, value: Any) -> str:
        """A class index (or a sequence of them) as the person reads it."""
        if isinstance(value, np.ndarray | list | tuple):
            return " ".join(self.label(v) for v in value)
        i = int(value)
        return self.class_names[i] if 0 <= i < len(self.class_names) else str(i)


def per_class_metrics(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1, support) per class from a confusion matrix, as scikit-learn's
    ``precision_recall_fscore_support`` gives them with ``zero_division=0``."""
    cm = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    return precision, recall, f1, actual.astype(np.int64)


def input_kind(shape: Sequence[Any], dtype: str) -> str:
    """How a per-sample tensor is best drawn: image (C×H×W), sequence (L×D), vector, tokens, scalar."""
    rank = len(shape)
    if rank == 0:
        return "scalar"
    if rank == 1:
        return "tokens" if "int" in str(dtype) else "vector"
    if rank == 2:
        return "sequence"
    if rank == 3:
        return "image"
    return "tensor"


def _classifier_setup(net: Any, dataset: Any, loss: str) -> tuple[str, int]:
    """Check that ``net`` classifies ``dataset``; (mode, classes) with mode softmax|binary|multilabel."""
    from engine.data import check_input_shape
    from engine.recipes import class_count, dataset_recipe, network_endpoints

    if dataset_recipe(dataset) != "classification":
        raise AnalysisError(f"The data set '{dataset.name}' has numbers to predict ({dataset.task}), not classes: "
                            "the evaluation, confusion matrix and saliency map are for classifiers.", "options")
    try:
        ends = network_endpoints(net)
    except TrainingError as exc:
        raise AnalysisError(exc.message, exc.kind, node=exc.node) from None
    node = ends.input_node
    problem = check_input_shape(dataset, node.params["shape"], node.params["dtype"], node.name)
    if problem:
        raise AnalysisError(problem, "shape", node=node.id)
    classes = class_count(dataset)
    target = tuple(dataset.target_shape)
    out = tuple(ends.output_shape)
    where = f"Output '{ends.output_node.name}'"
    if ends.output_dtype != "float32":
        raise AnalysisError(f"{where} gives {ends.output_dtype} values, but a classifier outputs one score per "
                            "class.", "shape", node=ends.output_node.id)
    if classes == 2 and out == (*target, 1):
        return "binary", classes
    if out != (*target, classes):
        need = f"{_fmt((*target, classes))} (a score per class" + (" at every position)" if target else ")")
        raise AnalysisError(f"{where} gives {_fmt(out)} per sample, but the data set '{dataset.name}' with "
                            f"{classes} classes needs {need}: make the last layer give {classes} scores.",
                            "shape", node=ends.output_node.id)
    return ("multilabel" if loss == "bce" else "softmax"), classes


def _loss_of(project: Any) -> str:
    training = (getattr(project, "settings", {}) or {}).get("training") or {}
    return str(training.get("loss", "auto")) if isinstance(training, dict) else "auto"


def evaluate(project: Any, network: Any, weights: Mapping[str, Any] | None, dataset: Any,
             worst: int = WORST_SAMPLES, batch_size: int = EVAL_BATCH) -> Evaluation:
    """Run the network over the validation split and measure it per class."""
    import torch

    net = _network(project, network)
    mode, classes = _classifier_setup(net, dataset, _loss_of(project))
    model, notes = build_model(project, net, weights)
    final = _final_activation(net)
    from engine.model_inputs import validation_inputs

    y_all = np.asarray(dataset.y_val).astype(np.int64)
    if len(y_all) == 0:
        raise AnalysisError(f"The data set '{dataset.name}' has no validation samples to evaluate.", "data")
    per_position = bool(tuple(dataset.target_shape))
    p_true_parts: list[np.ndarray] = []
    p_pred_parts: list[np.ndarray] = []
    preds: list[np.ndarray] = []
    row_parts: list[np.ndarray] = []
    inputs: dict[int, np.ndarray] = {}     # kept only while they may be among the worst samples
    with torch.inference_mode():
        # the inputs exactly as training fed them (image sets: normalised with the training statistics)
        for rows, xb in validation_inputs(dataset, batch_size):
            yb = torch.from_numpy(y_all[rows])
            out = model(xb)
            if isinstance(out, tuple):
                out = out[0]
            probs = _probabilities(out, mode, final)
            pred = probs.argmax(-1)
            p_true = probs.gather(-1, yb.unsqueeze(-1).clamp(0, probs.shape[-1] - 1)).squeeze(-1)
            p_pred = probs.max(-1).values
            if per_position:
                p_true = p_true.reshape(len(xb), -1).mean(-1)
                p_pred = p_pred.reshape(len(xb), -1).mean(-1)
            p_true_parts.append(p_true.double().numpy())
            p_pred_parts.append(p_pred.double().numpy())
            preds.append(pred.numpy())
            row_parts.append(rows)
            inputs = _worst_inputs(inputs, rows, xb.numpy(), np.concatenate(p_true_parts),
                                   np.concatenate(row_parts), int(worst))
    if not preds:
        raise AnalysisError(f"None of the validation images of '{dataset.name}' could be read.", "data")
    p_true_all, p_pred_all = np.concatenate(p_true_parts), np.concatenate(p_pred_parts)
    kept_rows = np.concatenate(row_parts)
    y_val = y_all[kept_rows]
    n = len(kept_rows)
    pred_all = np.concatenate(preds)
    flat_true, flat_pred = y_val.reshape(-1), pred_all.reshape(-1)
    valid = (flat_true >= 0) & (flat_true < classes)
    confusion = np.bincount(flat_true[valid] * classes + flat_pred[valid], minlength=classes * classes)
    confusion = confusion.reshape(classes, classes).astype(np.int64)
    precision, recall, f1, support = per_class_metrics(confusion)
    total = int(confusion.sum())
    accuracy = float(np.trace(confusion) / total) if total else 0.0
    order = np.argsort(p_true_all, kind="stable")[:max(0, int(worst))]
    worst_samples = [WorstSample(int(kept_rows[i]), inputs[int(kept_rows[i])], _value(y_val[i]),
                                 _value(pred_all[i]), float(p_true_all[i]), float(p_pred_all[i])) for i in order]
    names = [str(c) for c in (dataset.class_names or dataset.vocab or [])]
    if len(names) != classes:
        names = [str(i) for i in range(classes)]
    return Evaluation(net.name, dataset.name, names, confusion, precision, recall, f1, support, accuracy,
                      worst_samples, n, per_position, input_kind(tuple(dataset.input_shape), dataset.input_dtype),
                      dataset.vocab, notes)


def _worst_inputs(kept: Mapping[int, np.ndarray], rows: np.ndarray, batch: np.ndarray, p_true: np.ndarray,
                  all_rows: np.ndarray, worst: int) -> dict[int, np.ndarray]:
    """The inputs of the rows that are among the ``worst`` so far (a streamed set is not held in memory,
    so the inputs to show are kept while the evaluation goes)."""
    if worst <= 0:
        return {}
    wanted = {int(all_rows[i]) for i in np.argsort(p_true, kind="stable")[:worst]}
    out = {r: x for r, x in kept.items() if r in wanted}
    for j, r in enumerate(rows.tolist()):
        if r in wanted:
            out[r] = batch[j].copy()
    return out


def _value(a: np.ndarray) -> Any:
    a = np.asarray(a)
    return int(a) if a.ndim == 0 else a.copy()


# -- tracing one sample -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Activation:
    node_id: str
    name: str                          # the node's name on the canvas
    ident: str                         # its code identifier
    type_id: str
    shape: tuple[Any, ...]             # the inferred shape, batch first (None)
    value: np.ndarray                  # this sample's value (batch dimension removed)
    kind: str                          # image | sequence | vector | tokens | scalar | tensor

    @property
    def channels(self) -> int:
        return int(self.value.shape[0]) if self.kind == "image" else 0


@dataclass
class Trace:
    network: str
    activations: list[Activation]
    outputs: dict[str, np.ndarray]     # Output node name -> value
    notes: list[str] = field(default_factory=list)

    def by_name(self, name: str) -> Activation:
        return next(a for a in self.activations if a.name == name or a.ident == name or a.node_id == name)


def trace(project: Any, network: Any, weights: Mapping[str, Any] | None,
          sample: np.ndarray | Sequence[np.ndarray]) -> Trace:
    """Every node's value for one sample (one array per Input node), in the plan's order."""
    import torch

    net = _network(project, network)
    model, notes = build_model(project, net, weights)
    tensors = _check_sample(model, net, _as_inputs(sample))
    with torch.inference_mode():
        try:
            env = model.forward_all(*tensors)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise AnalysisError(f"The sample cannot go through '{net.name}': {str(exc).splitlines()[0]}",
                                "shape") from None
    activations = []
    for step in model.plan.steps:
        value = env.get(step.name)
        if isinstance(value, tuple | list):
            value = value[0] if value else None
        if value is None:
            continue
        array = value.detach().float().numpy()[0] if value.dtype.is_floating_point else value.detach().numpy()[0]
        activations.append(Activation(step.node.id, step.node.name, step.name, step.node.type_id,
                                      tuple(step.output.shape), array,
                                      input_kind(array.shape, str(array.dtype))))
    outputs = {s.node.name: env[s.name].detach().float().numpy()[0] for s in model.plan.outputs}
    return Trace(net.name, activations, outputs, notes)


# -- saliency ----------------------------------------------------------------------------------------
@dataclass
class Saliency:
    image: np.ndarray                  # the input sample (C×H×W, as the network sees it)
    gradient: np.ndarray               # |d score / d input|, the input's shape
    map: np.ndarray                    # H×W: the largest gradient over the channels
    target_class: int                  # the class whose score was differentiated
    predicted: int
    probabilities: np.ndarray
    class_names: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def normalized(self) -> np.ndarray:
        """The map scaled to 0..1 (for colouring)."""
        top = float(self.map.max()) if self.map.size else 0.0
        return self.map / top if top > 0 else np.zeros_like(self.map)


def saliency(project: Any, network: Any, weights: Mapping[str, Any] | None, sample: np.ndarray,
             target_class: int | None = None, class_names: Sequence[str] | None = None) -> Saliency:
    """The input-gradient map of one image sample for ``target_class`` (default: the predicted one)."""
    import torch

    net = _network(project, network)
    inputs, outputs = net.inputs(), net.outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise AnalysisError(f"A saliency map needs a network with one Input and one Output; '{net.name}' has "
                            f"{len(inputs)} and {len(outputs)}.", "shape")
    model, notes = build_model(project, net, weights)
    step = model.plan.inputs[0]
    shape = tuple(step.output.shape[1:])
    if step.output.dtype == "int64":
        raise AnalysisError(f"Input '{step.node.name}' takes token ids, which have no gradient: saliency maps are "
                            "for image inputs (C×H×W). Use Trace a Sample to look inside this network.", "shape",
                            node=step.node.id)
    if len(shape) not in (2, 3):
        raise AnalysisError(f"Input '{step.node.name}' takes {_fmt(shape)} values per sample; saliency maps are "
                            "drawn for image inputs (C×H×W). Use Trace a Sample to look inside this network.",
                            "shape", node=step.node.id)
    (x,) = _check_sample(model, net, [np.asarray(sample, dtype=np.float32)])
    x = x.clone().requires_grad_(True)
    out = model(x)
    if isinstance(out, tuple):
        out = out[0]
    if out.dim() != 2:
        raise AnalysisError(f"Output '{outputs[0].name}' gives {_fmt(tuple(out.shape[1:]))} per sample; a "
                            "saliency map needs one score per class (N×classes).", "shape", node=outputs[0].id)
    final = _final_activation(net)
    binary = out.shape[-1] == 1
    probs = _probabilities(out.detach(), "binary" if binary else "softmax", final)[0]
    classes = int(probs.shape[-1])
    predicted = int(probs.argmax())
    target = predicted if target_class is None else int(target_class)
    if not 0 <= target < classes:
        raise AnalysisError(f"Class {target} does not exist: the network scores {classes} classes (0 to "
                            f"{classes - 1}).", "options")
    score = (out[0, 0] if target == 1 else -out[0, 0]) if binary else out[0, target]
    (grad,) = torch.autograd.grad(score, x)
    gradient = grad[0].abs().numpy()
    smap = gradient.max(axis=0) if gradient.ndim == 3 else gradient
    names = [str(c) for c in (class_names or [])]
    if len(names) != classes:
        names = [str(i) for i in range(classes)]
    image = np.asarray(sample, dtype=np.float32).copy()
    if not float(smap.max(initial=0.0)) > 0:
        notes.append("The gradient is zero everywhere: the class score does not depend on this input "
                     "(dead units, or an untrained network).")
    return Saliency(image, gradient, smap, target, predicted, probs.numpy(), names, notes)
