"""Recipes whose targets come from the inputs themselves: the autoencoder (targets = inputs) and the
character language model (targets = the text one character on). Both train in the ordinary loop;
what they add is their checks, their metrics and the previews a person watches while they learn
(reconstructions beside their inputs, the latent space, sampled text).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.data import Dataset, format_shape
from engine.errors import TrainingError
from engine.options import TrainingOptions
from engine.recipes import LOSS_LABELS, ClassificationRecipe, Endpoints, Recipe, distance_loss

#: samples shown in a reconstruction preview, and points at most in a latent-space preview
RECONSTRUCTION_SAMPLES = 8
LATENT_POINTS = 500
#: sampled continuations per text preview, and their length in characters
TEXT_SAMPLES = 3
TEXT_LENGTH = 80


def _node_named(network: Any, name: str, option: str) -> Any:
    for node in network.nodes:
        if node.name == name:
            return node
    names = ", ".join(repr(n.name) for n in network.nodes if n.spec.role == "layer")[:300]
    raise TrainingError(f"The training option '{option}' names {name!r}, but network '{network.name}' has no node "
                        f"of that name: pick one of {names or 'its nodes'}, or leave it empty to pick automatically.",
                        "options")


def find_latent(network: Any, name: str, input_id: str, output_id: str) -> Any | None:
    """The node whose output is the code: the one the option names, else a node named "latent",
    else an Encoder's output, else the narrowest layer between the Input and the Output (the first
    in flow order on a tie). None when there is no layer between them."""
    import networkx as nx

    from graph.shapes import analyze

    if name:
        node = _node_named(network, name, "latent_node")
        if node.spec.role != "layer":
            raise TrainingError(f"The latent node must be a layer between the Input and the Output, not "
                                f"{node.label()}: pick the bottleneck layer, or leave it empty.", "options")
        return node
    between = nx.descendants(network.graph, input_id) & nx.ancestors(network.graph, output_id)
    layers = [n for n in network.topological_order() if n.id in between and n.spec.role == "layer"]
    for node in layers:
        if node.name.strip().lower() == "latent":
            return node
    for node in layers:   # an Encoder block (built-in or named so) ends in the code
        if node.is_block and "encoder" in f"{node.spec.display_name} {node.params['block']}".lower():
            return node
    analysis = analyze(network)
    best, width = None, math.inf
    for node in layers:
        out = analysis.nodes[node.id].output
        if out is None or out.dtype != "float32":
            continue
        size = int(np.prod(out.shape[1:])) if len(out.shape) > 1 else 1
        if size < width:
            best, width = node, size
    return best


def _input_scale(dataset: Dataset) -> np.ndarray | float:
    """The std that turns normalised input errors back into the data's own units."""
    stats = (dataset.normalization or {}).get("input")
    if not stats:
        return 1.0
    if stats.get("mode") == "global":
        return float(stats["std"])
    std = np.asarray(stats["std"], dtype=np.float64).reshape(-1)
    return std if std.size == int(np.prod(dataset.input_shape)) else 1.0


def _undo_input(values: np.ndarray, dataset: Dataset) -> np.ndarray:
    """Inputs (or reconstructions) back in the data's own units, for previews."""
    stats = (dataset.normalization or {}).get("input")
    values = np.asarray(values, dtype=np.float64)
    if not stats:
        return values
    mean = np.asarray(stats["mean"], dtype=np.float64)
    std = np.asarray(stats["std"], dtype=np.float64)
    if stats.get("mode") != "global":
        shape = values.shape
        flat = values.reshape(shape[0], -1)
        if mean.size != flat.shape[1]:
            return values
        return (flat * std + mean).reshape(shape)
    return values * std + mean


def image_shape(shape: tuple[int, ...]) -> list[int] | None:
    """[C, H, W] when samples of this shape are images (1 or 3 channels), else None."""
    if len(shape) == 3 and shape[0] in (1, 3) and shape[1] > 1 and shape[2] > 1:
        return list(shape)
    return None


class AutoencoderRecipe(Recipe):
    """Reconstruct the input through a narrow code. ``val_reconstruction_error`` is the mean squared
    difference between a validation sample and its reconstruction per input value, in the data's own
    units (for digits: pixel intensities 0..16), whatever the training loss."""

    name = "autoencoder"

    def __init__(self, options: TrainingOptions, dataset: Dataset, ends: Endpoints, network: Any) -> None:
        super().__init__(options, dataset, ends)
        self.network = network
        shape = tuple(dataset.input_shape)
        out = ends.output_shape
        where = f"Output '{ends.output_node.name}'"
        if out != shape:
            size = int(np.prod(shape))
            last = ends.last_node
            if len(shape) == 1 and last is not None and last.type_id == "Dense":
                fix = f"set the units of {last.label()} to {size}"
            elif len(shape) == 1:
                fix = f"end the network with a Dense of {size} units"
            else:
                fix = f"end the decoder with a Dense of {size} units and a Reshape to {format_shape(shape)}"
            raise TrainingError(f"{where} gives {format_shape(out)} per sample, but an autoencoder gives back its "
                                f"input, {format_shape(shape)} per sample for the data set '{dataset.name}': {fix}.",
                                "shape", node=(last or ends.output_node).id)
        if ends.output_dtype != "float32":
            raise TrainingError(f"{where} gives {ends.output_dtype} values, but a reconstruction is float32.",
                                "shape", node=ends.output_node.id)
        if self.loss_name == "bce":
            lo = min(float(dataset.x_train.min(initial=0.0)), float(dataset.x_val.min(initial=0.0)))
            hi = max(float(dataset.x_train.max(initial=1.0)), float(dataset.x_val.max(initial=1.0)))
            if lo < 0.0 or hi > 1.0:
                raise TrainingError(f"The BCE loss needs inputs between 0 and 1, but the data set '{dataset.name}' "
                                    f"gives values from {lo:.3g} to {hi:.3g}: use the MSE loss, or turn off the data "
                                    f"set's normalisation if its values are between 0 and 1.", "options")
        self.features = int(np.prod(shape))
        self.scale = _input_scale(dataset)
        self.latent = find_latent(network, options.latent_node, ends.input_node.id, ends.output_node.id)
        self.latent_width = 0
        if self.latent is not None:
            from graph.shapes import analyze

            out_type = analyze(network).nodes[self.latent.id].output
            if out_type is not None and len(out_type.shape) > 1:
                self.latent_width = int(np.prod(out_type.shape[1:]))

    def targets(self, y: Any) -> tuple[Any, Any]:
        return y, y

    def split_targets(self, x: Any, y: Any) -> tuple[Any, Any]:
        return x, x

    def loss_fn(self) -> Any:
        import torch.nn.functional as F

        if self.loss_name == "bce":
            return F.binary_cross_entropy_with_logits
        return distance_loss(self.loss_name, self.options.huber_delta)

    def reconstruct(self, out: Any) -> Any:
        """The reconstruction the output stands for (BCE outputs are logits)."""
        return out.sigmoid() if self.loss_name == "bce" else out

    def new_accumulator(self, device: Any) -> Any:
        import torch

        sums = torch.zeros(2, self.features, dtype=torch.float64 if device.type != "mps" else torch.float32,
                           device=device)

        def update(out: Any, y: Any) -> None:
            err = self.reconstruct(out).reshape(len(out), -1).to(sums.dtype) - y.reshape(len(y), -1).to(sums.dtype)
            sums[0].add_(err.square().sum(0))
            sums[1].add_(len(y))
        return update, sums

    def metrics(self, accumulator: Any, prefix: str = "val_") -> dict[str, Any]:
        _, sums = accumulator
        s = sums.double().cpu().numpy()
        n = float(s[1, 0])
        scale = np.broadcast_to(np.asarray(self.scale, dtype=np.float64), s[0].shape)
        error = float(np.mean(s[0] * scale**2) / n) if n else math.nan
        return {f"{prefix}reconstruction_error": error}

    def previews(self, trainer: Any, epoch: int) -> list[tuple[str, dict[str, Any]]]:
        import torch

        ds, model = self.dataset, trainer.model
        k = min(RECONSTRUCTION_SAMPLES, len(ds.x_val))
        m = min(LATENT_POINTS, len(ds.x_val))
        want_latent = self.latent is not None and self.latent_width == 2
        n = m if want_latent else k
        model.eval()
        with torch.inference_mode():
            x = trainer.x_val[:n].to(trainer.device)
            if want_latent:
                values = model.forward_all(x)
                out = values[model.output_names[0]]
                code = values[model.node_names[self.latent.id]].float().reshape(n, 2).cpu().numpy()
            else:
                out = model(x)
            recon = self.reconstruct(out[:k].float()).cpu().numpy()
        sample_shape = tuple(ds.input_shape)
        previews: list[tuple[str, dict[str, Any]]] = [("reconstruction", {
            "inputs": _undo_input(ds.x_val[:k], ds).reshape(k, *sample_shape).tolist(),
            "outputs": _undo_input(recon, ds).reshape(k, *sample_shape).tolist(),
            "image_shape": image_shape(sample_shape)})]
        if want_latent:
            labelled = ds.task == "classification" and ds.y_val.ndim == 1
            previews.append(("latent", {
                "points": code.tolist(),
                "labels": ds.y_val[:m].astype(int).tolist() if labelled else None,
                "class_names": list(ds.class_names) if labelled and ds.class_names else None}))
        return previews


class LanguageModelRecipe(ClassificationRecipe):
    """Next-character prediction: a cross-entropy per position, token accuracy, perplexity
    (``exp(val_loss)``) and a few sampled continuations of a validation prompt after each epoch."""

    name = "language_model"

    def __init__(self, options: TrainingOptions, dataset: Dataset, ends: Endpoints) -> None:
        super().__init__(options, dataset, ends)
        if self.loss_name != "cross_entropy":  # pragma: no cover - the options refuse it first
            raise TrainingError(f"A language model trains with cross-entropy, not {LOSS_LABELS[self.loss_name]}.",
                                "options")

    def metrics(self, accumulator: Any, prefix: str = "val_") -> dict[str, Any]:
        result = super().metrics(accumulator, prefix)
        # a confusion matrix over characters is noise in the log; accuracy and perplexity tell more
        result.pop(f"{prefix}confusion", None)
        result.pop(f"{prefix}per_class_f1", None)
        return result

    def add_derived_metrics(self, metrics: dict[str, Any]) -> None:
        loss = metrics.get("val_loss")
        if loss is not None and math.isfinite(loss) and not self.options.label_smoothing:
            metrics["val_perplexity"] = math.exp(min(loss, 50.0))

    def decode(self, ids: Any) -> str:
        vocab = self.dataset.vocab or []
        return "".join(vocab[int(i)] if 0 <= int(i) < len(vocab) else "?" for i in ids)

    def previews(self, trainer: Any, epoch: int) -> list[tuple[str, dict[str, Any]]]:
        """Continuations sampled with the temperature option from the first validation window (the
        model sees the last window-length characters each time, as it was trained)."""
        import torch

        model = trainer.model
        prompt = trainer.x_val[0].to(trainer.device)
        window = prompt.unsqueeze(0).repeat(TEXT_SAMPLES, 1)
        gen = torch.Generator().manual_seed(self.options.seed * 1000 + epoch)
        temperature = self.options.temperature
        chosen = []
        model.eval()
        with torch.inference_mode():
            for _ in range(TEXT_LENGTH):
                logits = model(window)[:, -1, :].float().cpu() / temperature
                nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
                chosen.append(nxt)
                window = torch.cat([window[:, 1:], nxt.to(window.device)], 1)
        ids = torch.cat(chosen, 1).numpy()
        return [("text", {"prompt": self.decode(prompt.cpu().numpy()),
                          "samples": [self.decode(row) for row in ids]})]
