"""Generative adversarial training: a generator (an Input of noise -> ... -> an Output shaped like a
data sample) against a discriminator (an Input shaped like a sample -> ... -> one score per sample),
drawn as two parts of one network.

Each part is found by a node (the options name one, or it is picked automatically, see
:func:`find_parts`) and taken as that node's connected part of the network. Both parts run on the
layers of the one compiled network (:class:`PartModule` is a view that shares them), so the run's
``last``/``best.safetensors`` hold the whole network's ``state_dict`` and load into the project.

:class:`GanTrainer` is the ordinary :class:`~engine.loop.Trainer` with another step (a
discriminator update, then a generator update with the non-saturating loss, one Adam with betas
(0.5, 0.999) each), another evaluation (sample quality instead of a validation loss) and two
losses per step; pause/stop, the reporting cadence, checkpoints and NaN checks are the Trainer's.

Sample quality (``val_quality``, between 0 and 1, the monitored metric):

- 2-D points with classes (the Gaussian mixture): each class is a mode with its centre and spread
  taken from the real data. A generated point is of high quality within 3 spreads of the nearest
  centre; a mode is covered when it receives at least a fifth of the high-quality points a uniform
  share would give it. ``val_quality`` = modes covered / modes × high-quality fraction.
- other data with classes (digit images): a small classifier trained once on the real training
  data judges the generated samples. ``confident_fraction`` is the share it classifies with
  probability above 0.9; a class is covered when it receives at least a fifth of a uniform share of
  the confident samples. ``val_quality`` = classes covered / classes × confident fraction.
- data without classes: k-nearest-neighbour precision and recall between generated and real
  validation samples (the share of each that falls inside the other's neighbourhoods);
  ``val_quality`` is their product.

The training loop itself is in :mod:`engine.gan_loop` (it imports torch; this module does not).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data import Dataset, check_input_shape, format_shape
from engine.errors import TrainingError
from engine.options import TrainingOptions
from engine.recipes import Endpoints, Recipe

log = logging.getLogger(__name__)

#: generated samples judged after each epoch, shown in the preview (images) and as points (2-D)
QUALITY_SAMPLES = 2000
PREVIEW_IMAGES = 16
PREVIEW_POINTS = 500
#: a mode (class) counts as covered with at least this share of a uniform split of the good samples
COVERED_SHARE = 0.2
GAN_BETAS = (0.5, 0.999)


@dataclass(frozen=True)
class Part:
    """One part of the network: its nodes, its Input and its Output."""

    role: str                   # "generator" | "discriminator"
    node_ids: frozenset[str]
    input_node: Any
    output_node: Any
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    output_dtype: str
    last_node: Any | None


def _parts(network: Any) -> list[Part | str]:
    """Each weakly connected part of the network, or a sentence saying why it is not usable."""
    import networkx as nx

    from graph.shapes import analyze

    analysis = analyze(network)
    found: list[Part | str] = []
    order = {node.id: i for i, node in enumerate(network.nodes)}
    for ids in sorted(nx.weakly_connected_components(network.graph), key=lambda c: min(order[i] for i in c)):
        nodes = [network.node(i) for i in sorted(ids, key=order.__getitem__)]
        inputs = [n for n in nodes if n.spec.role == "input"]
        outputs = [n for n in nodes if n.spec.role == "output"]
        if len(inputs) != 1 or len(outputs) != 1:
            found.append(f"the part with {nodes[0].label()} has {len(inputs)} Input and {len(outputs)} Output nodes")
            continue
        out = analysis.nodes[outputs[0].id].output
        inp = analysis.nodes[inputs[0].id].output
        if out is None or inp is None:
            found.append(f"the shapes of the part with {nodes[0].label()} are unknown")
            continue
        edges = network.in_edges(outputs[0].id)
        last = network.node(edges[0].source) if edges else None
        found.append(Part("", frozenset(ids), inputs[0], outputs[0], tuple(inp.shape[1:]), tuple(out.shape[1:]),
                          out.dtype, last))
    return found


def _named(network: Any, role: str, name: str) -> Any | None:
    """The node the option names, else a node named or typed like the role (Generator, ...)."""
    if name:
        for node in network.nodes:
            if node.name == name:
                return node
        option = f"{role}_node"
        raise TrainingError(f"The training option '{option}' names {name!r}, but network '{network.name}' has no "
                            f"node of that name: pick a node of the {role}, or leave it empty to pick automatically.",
                            "options")
    for node in network.nodes:
        if node.name.strip().lower() == role or node.type_id.lower() == role:
            return node
    for node in network.nodes:   # a Generator / Discriminator block (built-in or named so)
        if node.is_block and role in node.spec.display_name.lower():
            return node
    return None


def _one_value(shape: tuple[int, ...]) -> bool:
    return shape in ((), (1,))


def find_parts(network: Any, options: TrainingOptions, dataset: Dataset) -> tuple[Part, Part]:
    """(generator, discriminator). A part is picked by the node the options name, else by a node
    named or typed Generator/Discriminator, else by shape: the generator is the part whose Output
    is shaped like a data sample, the discriminator the part fed samples that gives one value each."""
    sample = tuple(dataset.input_shape)
    candidates = _parts(network)
    parts = [p for p in candidates if isinstance(p, Part)]

    def part_of(node: Any) -> Part:
        for part in parts:
            if node.id in part.node_ids:
                return part
        why = next((c for c in candidates if isinstance(c, str) and node.label() in c), "")
        raise TrainingError(f"{node.label()} is not in a part of the network with one Input and one Output"
                            f"{': ' + why if why else ''}: a GAN's generator and discriminator are each drawn "
                            "from an Input to an Output.", "shape", node=node.id)

    gen_node = _named(network, "generator", options.generator_node)
    dis_node = _named(network, "discriminator", options.discriminator_node)
    gen = part_of(gen_node) if gen_node is not None else None
    dis = part_of(dis_node) if dis_node is not None else None
    if gen is None:
        fits = [p for p in parts if p.output_shape == sample and p is not dis]
        gen = fits[0] if len(fits) == 1 else None
    if dis is None:
        fits = [p for p in parts if p.input_shape == sample and _one_value(p.output_shape) and p is not gen]
        dis = fits[0] if len(fits) == 1 else None
    if gen is None:
        raise TrainingError(f"The GAN task needs a generator: a part of the network from an Input of noise to an "
                            f"Output of {format_shape(sample)} values (a sample of the data set '{dataset.name}'). "
                            f"None of the network's {len(candidates)} part(s) is one clearly: draw it, or name one of "
                            f"its nodes in the training option 'generator_node'.", "shape")
    if dis is None:
        raise TrainingError(f"The GAN task needs a discriminator: a part of the network from an Input of "
                            f"{format_shape(sample)} values (a sample of the data set '{dataset.name}') to an Output "
                            f"of one score per sample. None of the network's {len(candidates)} part(s) is one "
                            f"clearly: draw it, or name one of its nodes in the training option "
                            f"'discriminator_node'.", "shape")
    if gen is dis:
        raise TrainingError(f"The generator and the discriminator are the same part of the network (the one with "
                            f"{gen.output_node.label()}): draw them as two separate parts, the generator from an "
                            f"Input of noise to an Output shaped like a sample, the discriminator from an Input "
                            f"shaped like a sample to one score.", "shape", node=gen.output_node.id)
    if gen.output_shape != sample:
        raise TrainingError(f"The generator's {gen.output_node.label()} gives {format_shape(gen.output_shape)} per "
                            f"sample, but samples of the data set '{dataset.name}' are {format_shape(sample)}: make "
                            f"the generator end with {format_shape(sample)} values.", "shape",
                            node=(gen.last_node or gen.output_node).id)
    if gen.output_dtype != "float32" or gen.input_node.params["dtype"] != "float32":
        raise TrainingError(f"The generator must turn float32 noise into float32 samples: set "
                            f"{gen.input_node.label()} to float32.", "shape", node=gen.input_node.id)
    if any(d is None or d < 1 for d in gen.input_shape):
        raise TrainingError(f"The generator's {gen.input_node.label()} needs a fixed shape to draw noise of: give "
                            f"every dimension a size.", "shape", node=gen.input_node.id)
    node = dis.input_node
    problem = check_input_shape(dataset, node.params["shape"], node.params["dtype"], node.name)
    if problem:
        raise TrainingError(f"The discriminator's {problem[0].lower()}{problem[1:]}", "shape", node=node.id)
    if not _one_value(dis.output_shape) or dis.output_dtype != "float32":
        last = dis.last_node
        fix = (f"set the units of {last.label()} to 1" if last is not None and last.type_id == "Dense"
               else "end the discriminator with a Dense of 1 unit (add a Flatten before it if needed)")
        raise TrainingError(f"The discriminator's {dis.output_node.label()} gives {format_shape(dis.output_shape)} "
                            f"per sample, but it must give one score per sample (real or generated): {fix}.",
                            "shape", node=(last or dis.output_node).id)
    if dis.last_node is not None and dis.last_node.type_id == "Sigmoid":
        raise TrainingError(f"{dis.last_node.label()} ends the discriminator, but the GAN loss expects a raw score "
                            f"(a logit): remove it.", "shape", node=dis.last_node.id)
    from dataclasses import replace

    return replace(gen, role="generator"), replace(dis, role="discriminator")


class GanRecipe(Recipe):
    """Two parts trained against each other. ``ends`` describes the generator (its noise Input and
    its sample Output) for messages that name a node."""

    name = "gan"
    loss_names = ("g_loss", "d_loss")

    def __init__(self, options: TrainingOptions, dataset: Dataset, network: Any) -> None:
        gen, dis = find_parts(network, options, dataset)
        ends = Endpoints(gen.input_node, gen.output_node, gen.output_shape, gen.output_dtype, gen.last_node)
        super().__init__(options, dataset, ends)
        self.network = network
        self.generator, self.discriminator = gen, dis
        self.noise_shape = tuple(int(d) for d in gen.input_shape)
        ds = dataset
        self.points = tuple(ds.input_shape) == (2,)
        self.labels = (ds.y_train.astype(np.int64) if ds.task == "classification" and ds.y_train.ndim == 1
                       else None)

    def make_trainer(self, *args: Any, **kwargs: Any) -> Any:
        from engine.gan_loop import GanTrainer

        return GanTrainer(*args, **kwargs)

    def targets(self, y: Any) -> tuple[Any, Any]:
        return y, y

    def split_targets(self, x: Any, y: Any) -> tuple[Any, Any]:
        return x, x      # the batches are the real samples; no targets are gathered

    def loss_fn(self) -> Any:
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits

    def previews(self, trainer: Any, epoch: int) -> list[tuple[str, dict[str, Any]]]:
        ds = self.dataset
        samples = trainer.generated_preview
        if self.points:
            k = min(PREVIEW_POINTS, len(samples))
            real = _undo_points(ds.x_val[:PREVIEW_POINTS], ds)
            return [("generated", {"samples": _undo_points(samples[:k], ds).tolist(), "image_shape": None,
                                   "real": real.tolist()})]
        from engine.generative import _undo_input, image_shape

        k = min(PREVIEW_IMAGES, len(samples))
        shown = _undo_input(samples[:k], ds).reshape(k, *ds.input_shape)
        return [("generated", {"samples": shown.tolist(), "image_shape": image_shape(tuple(ds.input_shape)),
                               "real": None})]


def _undo_points(points: np.ndarray, dataset: Dataset) -> np.ndarray:
    from engine.generative import _undo_input

    return _undo_input(np.asarray(points, dtype=np.float64).reshape(len(points), -1), dataset)


class SampleJudge:
    """Scores generated samples against the real data (see the module docstring)."""

    def __init__(self, dataset: Dataset, device: Any, seed: int) -> None:
        self.dataset = dataset
        x = dataset.x_train.reshape(len(dataset.x_train), -1).astype(np.float64)
        labels = (dataset.y_train.astype(np.int64) if dataset.task == "classification" and dataset.y_train.ndim == 1
                  else None)
        self.mode = "knn"
        if labels is not None and x.shape[1] == 2:
            self.mode = "modes"
            classes = np.unique(labels)
            self.centers = np.stack([x[labels == c].mean(0) for c in classes])
            self.spreads = np.array([math.sqrt(max(((x[labels == c] - self.centers[i]) ** 2).sum(1).mean() / 2,
                                                   1e-12)) for i, c in enumerate(classes)])
        elif labels is not None:
            self.mode = "classes"
            self.classes = int(labels.max()) + 1
            self.classifier = _train_judge(x, labels, self.classes, seed)
        else:
            rng = np.random.default_rng(seed)
            real = dataset.x_val.reshape(len(dataset.x_val), -1).astype(np.float64)
            self.real = real[rng.permutation(len(real))[:1000]]

    def __call__(self, samples: np.ndarray) -> dict[str, Any]:
        samples = samples.astype(np.float64)
        if self.mode == "modes":
            d = _distances(samples, self.centers)
            nearest = d.argmin(1)
            good = d[np.arange(len(samples)), nearest] < 3 * self.spreads[nearest]
            k = len(self.centers)
            counts = np.bincount(nearest[good], minlength=k)
            covered = int((counts >= COVERED_SHARE * good.sum() / k).sum()) if good.any() else 0
            fraction = float(good.mean())
            return {"modes_covered": covered, "modes_total": k, "high_quality_fraction": fraction,
                    "val_quality": covered / k * fraction}
        if self.mode == "classes":
            probs = _softmax(self.classifier(samples))
            confident = probs.max(1) > 0.9
            k = self.classes
            counts = np.bincount(probs.argmax(1)[confident], minlength=k)
            covered = int((counts >= COVERED_SHARE * confident.sum() / k).sum()) if confident.any() else 0
            fraction = float(confident.mean())
            return {"classes_covered": covered, "classes_total": k, "confident_fraction": fraction,
                    "val_quality": covered / k * fraction}
        precision, recall = _knn_precision_recall(self.real, samples[:1000])
        return {"precision": precision, "recall": recall, "val_quality": precision * recall}


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _train_judge(x: np.ndarray, labels: np.ndarray, classes: int, seed: int) -> Any:
    """A small MLP classifier of the real data, trained once (about a second on digits); returns a
    function from samples (flattened, normalised like the data) to class logits."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 128), torch.nn.ReLU(), torch.nn.Linear(128, classes))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
        xt = torch.from_numpy(x.astype(np.float32))
        yt = torch.from_numpy(labels)
        for _ in range(200):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(xt), yt).backward()
            opt.step()
    net.eval()

    def judge(samples: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net(torch.from_numpy(samples.astype(np.float32))).numpy().astype(np.float64)
    return judge


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def _knn_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Share of generated samples inside some real sample's k-NN ball, and of real samples inside
    some generated sample's (Kynkäänniemi et al., 2019)."""
    def radii(points: np.ndarray) -> np.ndarray:
        return np.sort(_distances(points, points), 1)[:, min(k, len(points) - 1)]

    def inside(query: np.ndarray, ref: np.ndarray, r: np.ndarray) -> float:
        return float((_distances(query, ref) <= r[None]).any(1).mean())

    if len(real) < 2 or len(fake) < 2:
        return 0.0, 0.0
    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))
