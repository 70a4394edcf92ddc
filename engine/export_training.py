"""Export a project as a standalone training script: the core exporter's model (same layers, same
initial weights for a seed) plus data loading and a training loop that follow the project's data set
and options the way the engine does, so running the script reproduces the run outside the app.

Data loading is written out for the built-in scikit-learn data sets (digits, iris, wine,
breast_cancer, diabetes, moons) and the user's ``.npz`` files (same split, same normalisation as the
app). The user's tables (CSV, Parquet) and images (a folder of class sub-folders, or an image list)
are loaded by the engine's own code: the source of its portable data modules is written into the
script (engine/export_training_code.py), so the script reads, encodes, splits, decodes, augments and
normalises with the very functions the app runs. Images stream from disk through DataLoader workers.
Any other kind is exported as arrays: ``write_training_export`` saves the split, normalised arrays
in an ``.npz`` next to the script, which then loads them.

The script runs on the CPU, CUDA (with mixed precision) or MPS, and under ``torchrun`` (DDP: gloo
on the CPU, NCCL on GPUs; each process takes its share of every epoch's batches).
User text (paths, column names) only enters the script through ``ascii()`` literals.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.errors import TrainingError
from engine.options import DATASET_KEY, TRAINING_KEY, TrainingOptions

#: kinds whose loading code the script contains
SCRIPTED_KINDS = ("digits", "iris", "wine", "breast_cancer", "diabetes", "moons", "npz", "csv", "parquet",
                  "image_folder", "image_list")
#: kinds loaded by the engine's own modules written into the script, and which modules
_INLINED = {"csv": ("engine.data.table_files",), "parquet": ("engine.data.table_files",),
            "image_folder": ("engine.data.image_batches",), "image_list": ("engine.data.image_batches",)}
IMAGE_KINDS = ("image_folder", "image_list")
_SKLEARN_TABULAR = {"iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer"}


def _literal(value: Any) -> str:
    """A Python literal for JSON-like data with every string written by ascii()."""
    if isinstance(value, str):
        return ascii(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else "None"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{ascii(str(k))}: {_literal(v)}" for k, v in value.items()) + "}"
    raise TrainingError(f"cannot write {type(value).__name__} into a script", "internal")


def _dict_source(name: str, data: dict[str, Any]) -> str:
    lines = [f"{name} = {{"]
    lines += [f"    {ascii(str(k))}: {_literal(v)}," for k, v in data.items()]
    lines.append("}")
    return "\n".join(lines)


# -- data loading -------------------------------------------------------------------------------------
_LOAD_DIGITS = '''
def load_data():
    """The 8x8 handwritten digits bundled with scikit-learn."""
    from sklearn import datasets

    bunch = datasets.load_digits()
    x = bunch.data.astype(np.float32)
    if not SOURCE["flat"]:
        x = x.reshape(-1, 1, 8, 8)
    return split_by_spec(x, bunch.target.astype(np.int64), "classification", DATASET, "global")
'''

#: the tabular scikit-learn sets, kind -> loader source (kinds and functions are ours, never user text)
_LOAD_TABULAR = {kind: f'''
def load_data():
    """A tabular data set bundled with scikit-learn ({function})."""
    from sklearn import datasets

    bunch = datasets.{function}()
    return split_by_spec(bunch.data.astype(np.float32), bunch.target.astype(np.int64), "classification", DATASET,
                         "per_feature")
''' for kind, function in _SKLEARN_TABULAR.items()}

_LOAD_DIABETES = '''
def load_data():
    """Diabetes progression (raw features) bundled with scikit-learn."""
    from sklearn import datasets

    bunch = datasets.load_diabetes(scaled=False)
    return split_by_spec(bunch.data.astype(np.float32), bunch.target.astype(np.float32), "regression", DATASET,
                         "per_feature", normalize_target=True)
'''

_LOAD_MOONS = '''
def load_data():
    """Two interleaving half-moons (scikit-learn's make_moons)."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=SOURCE["n_samples"], noise=SOURCE["noise"], random_state=DATASET["seed"])
    return split_by_spec(x.astype(np.float32), y.astype(np.int64), "classification", DATASET, "per_feature")
'''

_LOAD_NPZ = '''
def load_data():
    """The arrays SOURCE["x_key"] and SOURCE["y_key"] of the .npz file (plus their *_val arrays, if any)."""
    task, tokens, x_key, y_key = SOURCE["task"], SOURCE["tokens"], SOURCE["x_key"], SOURCE["y_key"]
    with np.load(SOURCE["path"], allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    x, y = arrays[x_key], arrays[y_key]
    val = None
    if x_key + "_val" in arrays and y_key + "_val" in arrays:
        val = (arrays[x_key + "_val"], arrays[y_key + "_val"])
    if task == "classification":
        labels = np.concatenate([y, val[1]]) if val else y
        _, encoded = np.unique(labels, return_inverse=True)
        encoded = encoded.astype(np.int64).reshape(-1)
        y = encoded[:len(y)]
        if val:
            val = (val[0], encoded[len(y):])
    x_type = np.int64 if tokens else np.float32
    x = x.astype(x_type)
    if val:
        val = (val[0].astype(x_type), val[1])
    input_norm = None if tokens else ("per_feature" if x.ndim == 2 else "global")
    return split_by_spec(x, y, task, DATASET, input_norm, normalize_target=True, val=val)
'''

_LOAD_TABLE = '''
def load_data():
    """The table (SOURCE), read, encoded, split and normalised by DeepCanvas's own code (above)."""
    encoding = {key: SOURCE[key] for key in ("target", "task", "exclude", "max_categories")}
    return table_arrays(SOURCE["path"], SOURCE["format"], SOURCE["delimiter"], encoding, DATASET)
'''

_LOAD_IMAGES = '''
def load_data():
    """The images (SOURCE): listed, split and measured by DeepCanvas's own code (above), then decoded
    on demand by DataLoader workers while training."""
    listing = SOURCE["listing"]
    if listing is not None:
        listing = os.path.join(os.path.dirname(os.path.abspath(__file__)), listing)
    return load_image_batches(SOURCE["kind"], SOURCE["path"], SOURCE["settings"], DATASET, OPTIONS["seed"], listing)
'''

_LOAD_ARRAYS = '''
def load_data():
    """The split, normalised arrays of the data set (see SOURCE), saved by DeepCanvas next to this script."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), SOURCE["file"])
    with np.load(path, allow_pickle=False) as data:
        return [data[key] for key in ("x_train", "y_train", "x_val", "y_val")]
'''

_FIXED_LOADERS = {"digits": _LOAD_DIGITS, "diabetes": _LOAD_DIABETES, "moons": _LOAD_MOONS, "npz": _LOAD_NPZ,
                  "csv": _LOAD_TABLE, "parquet": _LOAD_TABLE, "image_folder": _LOAD_IMAGES,
                  "image_list": _LOAD_IMAGES, **_LOAD_TABULAR}


def _loader(kind: str) -> str:
    """The fixed source of ``load_data`` for a data set kind: no user text, that is all in SOURCE."""
    return _FIXED_LOADERS.get(kind, _LOAD_ARRAYS).strip("\n")


def _source_info(kind: str, options: dict[str, Any], path: str | None, dataset: Any,
                 arrays_file: str, listing_file: str | None = None) -> dict[str, Any]:
    """SOURCE: what the loader reads besides DATASET (the file's absolute path, keys, column
    names, the data set's name), to be written into the script as data."""
    info: dict[str, Any] = {"name": str(dataset.name), "task": str(dataset.task)}
    if kind == "digits":
        info["flat"] = bool(options.get("flat", False))
    elif kind == "moons":
        info["n_samples"] = int(options.get("n_samples", 1000))
        info["noise"] = float(options.get("noise", 0.1))
    elif kind == "npz":
        info.update(path=path, x_key=str(options.get("x_key") or "x"), y_key=str(options.get("y_key") or "y"),
                    tokens=bool(options.get("tokens", False)))
    elif kind in ("csv", "parquet"):
        from engine.data.csv_table import csv_delimiter, table_options
        from engine.data.options import OptionReader

        reader = OptionReader(kind, options)
        info.update(path=path, format=kind, delimiter=csv_delimiter(reader) if kind == "csv" else None,
                    **table_options(reader))
    elif kind in IMAGE_KINDS:
        from dataclasses import asdict

        from engine.data.image_stream import ImageOptions
        from engine.data.options import OptionReader

        info.update(kind=kind, path=path, settings=asdict(ImageOptions.read(OptionReader(kind, options))),
                    listing=listing_file if kind == "image_list" else None)
    elif kind not in SCRIPTED_KINDS:
        info["file"] = arrays_file
    return info


# -- training -------------------------------------------------------------------------------------
_TRAINING = '''
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train the network with the settings it had in DeepCanvas.")
    parser.add_argument("--epochs", type=int, default=OPTIONS["epochs"])
    parser.add_argument("--batch-size", type=int, default=OPTIONS["batch_size"],
                        help="samples per step (per process under torchrun)")
    parser.add_argument("--lr", type=float, default=OPTIONS["lr"])
    parser.add_argument("--seed", type=int, default=OPTIONS["seed"])
    parser.add_argument("--device", default=OPTIONS["device"], choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--save", metavar="PATH", help="save the weights (best epoch if kept, else last) "
                        "as a state_dict with torch.save")
    parser.add_argument("--json", action="store_true", help="print one JSON object per epoch")
    return parser.parse_args(argv)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def loss_function():
    """The loss of a batch, and how the targets are prepared for it once."""
    name, classes = LOSS, TARGETS["classes"]
    if name == "bce" and RECIPE == "autoencoder":
        return F.binary_cross_entropy_with_logits, None
    if name == "bce":
        if TARGETS["binary"]:
            return F.binary_cross_entropy_with_logits, lambda y: y.float().unsqueeze(-1)
        return F.binary_cross_entropy_with_logits, lambda y: F.one_hot(y, classes).float()
    if name == "cross_entropy":
        smoothing = OPTIONS["label_smoothing"]
        if TARGETS["per_position"]:
            return (lambda out, y: F.cross_entropy(out.reshape(-1, classes), y.reshape(-1),
                                                   label_smoothing=smoothing)), None
        if smoothing:
            return (lambda out, y: F.cross_entropy(out, y, label_smoothing=smoothing)), None
        return F.cross_entropy, None
    prepare = (lambda y: y.float().unsqueeze(-1)) if TARGETS["squeeze"] else (lambda y: y.float())
    if name == "l1":
        return F.l1_loss, prepare
    if name == "huber":
        return (lambda out, y: F.huber_loss(out, y, delta=OPTIONS["huber_delta"])), prepare
    return F.mse_loss, prepare


def predict(out: torch.Tensor) -> torch.Tensor:
    if TARGETS["binary"]:
        return (out.squeeze(-1) > 0).long()
    return out.argmax(-1)


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    name, wd, momentum = OPTIONS["optimizer"], OPTIONS["weight_decay"], OPTIONS["momentum"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=wd)
    return torch.optim.Adam(params, lr=lr, weight_decay=wd)


def make_scheduler(optimizer, lr: float, epochs: int, steps_per_epoch: int):
    """(scheduler, steps after every batch?)"""
    sched, name = torch.optim.lr_scheduler, OPTIONS["schedule"]
    if name == "step":
        return sched.StepLR(optimizer, step_size=OPTIONS["step_size"], gamma=OPTIONS["gamma"]), False
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(1, epochs * steps_per_epoch)), True
    if name == "one_cycle":
        return sched.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch), True
    if name == "plateau":
        mode = "max" if OPTIONS["monitor"] in ("val_accuracy", "val_f1", "val_r2") else "min"
        return sched.ReduceLROnPlateau(optimizer, mode=mode, factor=OPTIONS["plateau_factor"],
                                       patience=OPTIONS["plateau_patience"]), False
    return None, False


def batching(n: int, batch_size: int):
    """(batch size, steps per epoch, samples per epoch) for n training samples."""
    batch_size = min(batch_size, n)
    steps = math.ceil(n / batch_size)
    if steps > 1 and n % batch_size == 1:  # a batch of one sample breaks BatchNorm: fold it away
        steps -= 1
    return batch_size, steps, min(n, steps * batch_size)


def array_batches(x, y, m, batch_size):
    """(inputs, targets, metric targets) of arrays held on the device, batch by batch in order."""
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size], m[start:start + batch_size]


def feed_batches(batches, prepare):
    """An image feed's (inputs, targets, class labels) as the loss and the metrics take them."""
    for xb, yb, mb in batches:
        if RECIPE == "autoencoder":  # the targets are the inputs
            yield xb, xb, xb
            continue
        if prepare is not None:
            if not (TARGETS["classes"] and yb.is_floating_point()):  # mixed labels are probabilities already
                yb = prepare(yb)
            if LOSS != "bce":
                mb = yb
        yield xb, yb, mb


@torch.no_grad()
def evaluate(model, batches, loss_fn, autocast, device) -> dict:
    """Validation loss and metrics over the whole validation split."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64 if device.type != "mps" else torch.float32, device=device)
    classes = TARGETS["classes"]
    confusion = torch.zeros(classes * classes, dtype=torch.long, device=device) if classes else None
    sums = []
    seen = 0
    for xb, yb, mb in batches:
        seen += len(xb)
        with autocast():
            out = model(xb)
            loss = loss_fn(out, yb)
        total += loss.detach().to(total.dtype) * len(xb)
        out = out.float()
        if RECIPE == "autoencoder" and LOSS == "bce":
            out = out.sigmoid()
        if confusion is not None:
            confusion += torch.bincount(mb.reshape(-1) * classes + predict(out).reshape(-1),
                                        minlength=classes * classes)
        else:
            o, t = out.reshape(len(out), -1).double(), mb.reshape(len(mb), -1).double()
            err = o - t
            sums.append(torch.stack([err.square().sum(0), err.abs().sum(0), t.sum(0), t.square().sum(0)]))
    metrics = {"val_loss": float(total.item()) / max(seen, 1)}
    if confusion is not None:
        cm = confusion.cpu().double().numpy().reshape(classes, classes)
        tp, predicted, actual = np.diag(cm), cm.sum(0), cm.sum(1)
        present = (predicted + actual) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(predicted > 0, tp / predicted, 0.0)
            recall = np.where(actual > 0, tp / actual, 0.0)
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        metrics["val_accuracy"] = float(tp.sum() / cm.sum())
        metrics["val_precision"] = float(precision[present].mean())
        metrics["val_recall"] = float(recall[present].mean())
        metrics["val_f1"] = float(f1[present].mean())
    else:
        s = torch.stack(sums).sum(0).cpu().numpy()
        n, scale = seen, np.asarray(TARGETS["scale"], dtype=np.float64)
        metrics["val_mse"] = float(np.mean(s[0] * scale**2) / n)
        metrics["val_mae"] = float(np.mean(s[1] * scale) / n)
        variance = s[3] - s[2] ** 2 / n
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(variance > 1e-12, 1.0 - s[0] / variance, np.where(s[0] > 1e-12, 0.0, 1.0))
        metrics["val_r2"] = float(np.mean(r2))
    if RECIPE == "autoencoder":  # squared error per input value, in the data's own units
        metrics = {"val_loss": metrics["val_loss"], "val_reconstruction_error": metrics["val_mse"]}
    if RECIPE == "language_model":
        metrics["val_perplexity"] = math.exp(min(metrics["val_loss"], 50.0))
    return metrics


def freeze(model: nn.Module) -> list:
    """Stop training the frozen nodes' layers; returns their BatchNorm layers (kept in eval mode)."""
    norms = []
    for name in FROZEN:
        layer = getattr(model, name)
        layer.requires_grad_(False)
        norms += [m for m in layer.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    return norms


def train(args) -> dict:
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank, world = 0, 1
    device = pick_device(args.device)
    if distributed:  # started by torchrun
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    data = load_data()
    feed = None if isinstance(data, list) else data  # images: decoded on demand by DataLoader workers
    loss_fn, prepare = loss_function()
    if feed is None:
        x_train, y_train, x_val, y_val = (torch.from_numpy(a).to(device) for a in data)
        if RECIPE == "autoencoder":  # the targets are the inputs
            y_train, y_val = x_train, x_val
        m_train, m_val = y_train, y_val
        if prepare is not None:
            y_train, y_val = prepare(y_train), prepare(y_val)
            if LOSS != "bce":
                m_train, m_val = y_train, y_val
        n = len(x_train)
    else:
        feed.augmenter_seed(args.seed)
        n = feed.n_train
    # mixup and CutMix mix the labels of whole-image classification only
    mix_classes = TARGETS["classes"] if RECIPE == "classification" and not TARGETS["per_position"] else 0

    torch.manual_seed(args.seed)
    model = build_model(args.seed).to(device)
    frozen_norms = freeze(model)
    torch.manual_seed(args.seed)
    net = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    autocast = contextlib.nullcontext
    scaler = None
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        if OPTIONS["mixed_precision"]:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            autocast = lambda: torch.autocast("cuda", dtype=dtype)  # noqa: E731
            if dtype == torch.float16:
                scaler = torch.amp.GradScaler("cuda")

    share = n // world if distributed else n
    batch_size, steps, per_epoch = batching(share, args.batch_size)
    optimizer = make_optimizer(model, args.lr)
    scheduler, per_step = make_scheduler(optimizer, args.lr, args.epochs, steps)
    generator = torch.Generator().manual_seed(args.seed)
    monitor, maximize = OPTIONS["monitor"], OPTIONS["monitor"] in ("val_accuracy", "val_f1", "val_r2")
    best_value, best_epoch, best_state, wait = None, None, None, 0
    metrics = {}
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        net.train()
        for layer in frozen_norms:
            layer.eval()
        order = torch.randperm(n, generator=generator)
        if distributed:
            order = order[: share * world][rank::world]
        order = order[:per_epoch].to(device)
        running = torch.zeros((), dtype=torch.float64 if device.type != "mps" else torch.float32, device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        batches = None
        if feed is not None:  # each process decodes only its own share of the epoch
            batches = feed_batches(feed.train_batches(order, batch_size, steps, epoch, device, mix_classes), prepare)
        for b in range(steps):
            if batches is not None:
                xb, yb, mb = next(batches)
            else:
                idx = order[b * batch_size:(b + 1) * batch_size] if b < steps - 1 else order[b * batch_size:]
                xb, yb, mb = x_train[idx], y_train[idx], m_train[idx]
            with autocast():
                out = net(xb)
                loss = loss_fn(out, yb)
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                if OPTIONS["grad_clip"]:
                    nn.utils.clip_grad_norm_(model.parameters(), OPTIONS["grad_clip"])
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                if OPTIONS["grad_clip"]:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), OPTIONS["grad_clip"])
                scaler.step(optimizer)
                scaler.update()
            if per_step:
                scheduler.step()
            running += loss.detach().to(running.dtype) * len(xb)
            if TARGETS["classes"]:
                correct += (predict(out.detach()) == mb).sum()
        seen = per_epoch
        if distributed:  # every process trained on its own share: add them up
            totals = torch.stack([running.double(), correct.double()])
            torch.distributed.all_reduce(totals)
            running, correct, seen = totals[0], totals[1], per_epoch * world
        train_loss = float(running.item()) / seen
        if not math.isfinite(train_loss):
            raise SystemExit(f"the training loss became {train_loss} in epoch {epoch}: lower the learning rate")
        metrics = {"epoch": epoch, "train_loss": train_loss}
        if TARGETS["classes"]:
            metrics["train_accuracy"] = int(correct.item()) / (seen * TARGETS["positions"])
        eval_batch = max(1024, 4 * batch_size) if device.type == "cpu" else max(256, 2 * batch_size)
        val = (feed_batches(feed.val_batches(eval_batch, device), prepare) if feed is not None
               else array_batches(x_val, y_val, m_val, eval_batch))
        metrics.update(evaluate(model, val, loss_fn, autocast, device))
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        metrics["epoch_time"] = time.perf_counter() - started
        value = metrics.get(monitor)
        improved = value is not None and (best_value is None or (
            value > best_value + OPTIONS["min_delta"] if maximize else value < best_value - OPTIONS["min_delta"]))
        if scheduler is not None and not per_step:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(value if value is not None else metrics["val_loss"])
            else:
                scheduler.step()
        if improved:
            best_value, best_epoch = value, epoch
            if OPTIONS["keep_best"]:
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if rank == 0:
            if args.json:
                print(json.dumps(metrics), flush=True)
            else:
                shown = [k for k in ("train_loss", "val_loss", "val_accuracy", "val_f1", "val_perplexity", "val_mae",
                                     "val_r2", "val_reconstruction_error") if k in metrics]
                print(f"epoch {epoch}/{args.epochs}  " + "  ".join(f"{k} {metrics[k]:.4f}" for k in shown)
                      + ("  *" if improved else ""), flush=True)
        wait = 0 if improved else wait + 1
        if OPTIONS["early_stopping"] and wait >= OPTIONS["early_stopping"]:
            break
    if rank == 0:
        if not args.json:
            print(f"best epoch {best_epoch} ({monitor} {best_value:.4f})")
        if args.save:
            torch.save(best_state if best_state is not None else model.state_dict(), args.save)
            print(f"saved the weights to {args.save}")
    if distributed:
        torch.distributed.destroy_process_group()
    return metrics
'''


_GAN_TRAINING = '''
def run_part(model: nn.Module, part: dict, x: torch.Tensor) -> torch.Tensor:
    """Run only the layers of one part (generator or discriminator) of the network."""
    values = {part["input"]: x}
    for name, args in part["steps"]:
        values[name] = getattr(model, name)(*[None if a is None else values[a] for a in args])
    return values[part["output"]]


def part_parameters(model: nn.Module, part: dict) -> list:
    return [p for name, _ in part["steps"] for p in getattr(model, name).parameters() if p.requires_grad]


def train_gan(args) -> dict:
    """Alternating updates: the discriminator on real and generated samples, then the generator
    with the non-saturating loss (make the discriminator call its samples real)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise SystemExit("GAN training in this script runs in one process: start it with python, not torchrun")
    device = pick_device(args.device)
    x_train = torch.from_numpy(load_data()[0]).to(device)
    torch.manual_seed(args.seed)
    model = build_model(args.seed).to(device)
    frozen_norms = freeze(model)
    torch.manual_seed(args.seed)
    generator, discriminator = PARTS["generator"], PARTS["discriminator"]
    g_params, d_params = part_parameters(model, generator), part_parameters(model, discriminator)
    g_opt = make_optimizer(g_params, args.lr)
    d_opt = make_optimizer(d_params, OPTIONS["discriminator_lr"] or args.lr)
    n = len(x_train)
    batch_size, steps, per_epoch = batching(n, args.batch_size)
    schedulers = [make_scheduler(opt, opt.param_groups[0]["lr"], args.epochs, steps) for opt in (g_opt, d_opt)]
    generator_order = torch.Generator().manual_seed(args.seed)
    noise = torch.Generator(device=device) if device.type == "cuda" else torch.Generator()
    noise.manual_seed(args.seed + 1)
    bce, clip = F.binary_cross_entropy_with_logits, OPTIONS["grad_clip"]
    metrics = {}
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        model.train()
        for layer in frozen_norms:
            layer.eval()
        order = torch.randperm(n, generator=generator_order)[:per_epoch].to(device)
        sums = torch.zeros(2, dtype=torch.float64 if device.type != "mps" else torch.float32, device=device)
        for b in range(steps):
            idx = order[b * batch_size:(b + 1) * batch_size] if b < steps - 1 else order[b * batch_size:]
            real = x_train[idx]
            z = torch.randn((len(real), *NOISE_SHAPE), generator=noise, device=device)
            fake = run_part(model, generator, z)
            real_score = run_part(model, discriminator, real)
            fake_score = run_part(model, discriminator, fake.detach())
            d_loss = bce(real_score, torch.ones_like(real_score)) + bce(fake_score, torch.zeros_like(fake_score))
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(d_params, clip)
            d_opt.step()
            score = run_part(model, discriminator, fake)
            g_loss = bce(score, torch.ones_like(score))
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward(inputs=g_params)
            if clip:
                nn.utils.clip_grad_norm_(g_params, clip)
            g_opt.step()
            for scheduler, per_step in schedulers:
                if scheduler is not None and per_step:
                    scheduler.step()
            sums += torch.stack([g_loss.detach(), d_loss.detach()]).to(sums.dtype) * len(idx)
        g_mean, d_mean = (sums / per_epoch).tolist()
        if not (math.isfinite(g_mean) and math.isfinite(d_mean)):
            raise SystemExit(f"the GAN losses became NaN in epoch {epoch}: lower the learning rate")
        for scheduler, per_step in schedulers:
            if scheduler is not None and not per_step:
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(g_mean + d_mean)
                else:
                    scheduler.step()
        metrics = {"epoch": epoch, "train_loss": g_mean + d_mean, "g_loss": g_mean, "d_loss": d_mean,
                   "lr": g_opt.param_groups[0]["lr"], "epoch_time": time.perf_counter() - started}
        if args.json:
            print(json.dumps(metrics), flush=True)
        else:
            print(f"epoch {epoch}/{args.epochs}  g_loss {g_mean:.4f}  d_loss {d_mean:.4f}", flush=True)
    if args.save:
        torch.save(model.state_dict(), args.save)
        print(f"saved the weights to {args.save}")
    return metrics
'''


def _gan_parts(recipe: Any, plan: Any) -> str:
    """PARTS (each part's Input, layer steps and Output, by the script's identifiers) and NOISE_SHAPE."""
    parts = {}
    for part in (recipe.generator, recipe.discriminator):
        steps = [[s.name, list(s.args)] for s in plan.steps if s.node.id in part.node_ids and s.call is not None]
        parts[part.role] = {"input": next(s.name for s in plan.inputs if s.node.id == part.input_node.id),
                            "steps": steps,
                            "output": next(s.args[0] for s in plan.outputs if s.node.id == part.output_node.id)}
    return f"{_dict_source('PARTS', parts)}\nNOISE_SHAPE = {_literal(tuple(recipe.noise_shape))}"


def _frozen_identifiers(options: TrainingOptions, plan: Any) -> list[str]:
    by_name = {s.node.name: s.name for s in plan.steps if s.call is not None}
    return [by_name[n] for n in options.frozen_nodes if n in by_name]


def _gan_sections() -> str:
    """The GAN script's helpers: the shared ones of the training script, optimizers over a list."""
    keep = ("def parse_args", "def pick_device", "def make_scheduler", "def batching")
    chunks = [c for c in _TRAINING.strip("\n").split("\n\n\n") if c.startswith(keep)]
    optimizer = ('def make_optimizer(params: list, lr: float) -> torch.optim.Optimizer:\n'
                 '    """Adam with betas (0.5, 0.999), as GANs are usually trained; otherwise the chosen optimizer."""\n'
                 '    name, wd, momentum = OPTIONS["optimizer"], OPTIONS["weight_decay"], OPTIONS["momentum"]\n'
                 '    if name == "sgd":\n'
                 '        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)\n'
                 '    if name == "adamw":\n'
                 '        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)\n'
                 '    if name == "rmsprop":\n'
                 '        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=wd)\n'
                 '    return torch.optim.Adam(params, lr=lr, weight_decay=wd, betas=(0.5, 0.999))')
    freeze = _TRAINING[_TRAINING.index("def freeze"):].split("\n\n\n")[0]
    return "\n\n\n".join([*chunks, optimizer, freeze, _GAN_TRAINING.strip("\n")])


def _targets_info(recipe: Any) -> dict[str, Any]:
    from engine.generative import AutoencoderRecipe
    from engine.recipes import ClassificationRecipe, RegressionRecipe

    if isinstance(recipe, AutoencoderRecipe):
        scale = recipe.scale
        return {"classes": 0, "binary": False, "positions": 1, "per_position": False, "squeeze": False,
                "scale": scale.tolist() if hasattr(scale, "tolist") else float(scale)}
    if not isinstance(recipe, ClassificationRecipe | RegressionRecipe):   # the GAN: no targets
        return {"classes": 0, "binary": False, "positions": 1, "per_position": False, "squeeze": False,
                "scale": 1.0}
    if isinstance(recipe, ClassificationRecipe):
        return {"classes": recipe.num_classes, "binary": recipe.binary, "positions": recipe.positions,
                "per_position": bool(recipe.positions > 1 or recipe.dataset.target_shape), "squeeze": False,
                "scale": 1.0}
    scale = recipe.scale
    return {"classes": 0, "binary": False, "positions": 1, "per_position": False, "squeeze": recipe.squeeze,
            "scale": scale.tolist() if hasattr(scale, "tolist") else float(scale)}


def prepare_export(project: Any, network: str | None = None, base_dir: str | None = None
                   ) -> tuple[Any, Any, Any, Any]:
    """(options, data set spec, data set, recipe) for a project, checked like a run."""
    from engine.data import DatasetError, load_dataset
    from engine.recipes import make_recipe
    from engine.session import dataset_spec

    options = TrainingOptions.from_dict(project.settings.get(TRAINING_KEY))
    spec = dataset_spec(project.settings, base_dir)
    try:
        dataset = load_dataset(spec)
    except DatasetError as exc:
        raise TrainingError(str(exc), "data") from None
    recipe = make_recipe(options, dataset, project.network(network))
    return options, spec, dataset, recipe


_STD_IMPORTS = ["import argparse", "import contextlib", "import json", "import math", "import os", "import time"]
_THIRD_IMPORTS = ["import numpy as np", "import torch", "import torch.nn.functional as F", "from torch import nn"]


def _header(kind: str, recipe: str) -> list[str]:
    """The script's docstring: fixed text only (the project's name, data set and settings are in
    the data block below it, as literals)."""
    needs = "torch and numpy" + (", plus scikit-learn for the data" if kind in SCRIPTED_KINDS else "")
    if kind in ("csv", "parquet"):
        needs += " and pandas with pyarrow"
    elif kind in IMAGE_KINDS:
        needs += " and Pillow (kornia when augmenting)"
    return [
        '"""Training script exported from DeepCanvas (the project is named in TITLE below).',
        "",
        "Trains the network on the project's data set (DATASET, SOURCE) with the project's settings",
        f"(OPTIONS), as DeepCanvas does. Needs {needs}.",
        "",
        "    python train.py [--epochs N] [--device cpu|cuda|mps] [--save weights.pt]",
        ("    (GAN training runs in one process: torchrun is refused)" if recipe == "gan" else
         "    torchrun --nproc_per_node=2 train.py       # data-parallel (DDP) on 2 processes"),
        '"""',
    ]


def _sorted_imports(lines: list[str]) -> tuple[list[str], list[str]]:
    """(standard library, third party) import lines binding what ``lines`` bind, one line per module and
    each name once, leaving out what the script's fixed imports bind already."""
    import ast
    import sys

    from graph.naming import script_names

    bound = set(script_names("\n".join(_STD_IMPORTS + _THIRD_IMPORTS)))
    plain: list[str] = []
    names: dict[str, list[str]] = {}
    for line in lines:
        for node in ast.parse(line).body:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    as_text = alias.name + (f" as {alias.asname}" if alias.asname else "")
                    if (alias.asname or alias.name) not in bound:
                        bound.add(alias.asname or alias.name)
                        names.setdefault(str(node.module), []).append(as_text)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".", 1)[0]
                    if name not in bound:
                        bound.add(name)
                        plain.append(f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""))
    merged = plain + [f"from {module} import {', '.join(sorted(items))}" for module, items in names.items()]
    std, third = [], []
    for line in sorted(merged):
        (std if line.split()[1].split(".")[0] in sys.stdlib_module_names else third).append(line)
    return std, third


def export_training_script(project: Any, network: str | None = None, *, base_dir: str | None = None,
                           arrays_file: str | None = None, listing_file: str | None = None) -> str:
    """The training script's text. For a data set kind without scripted loading, the script reads
    ``arrays_file`` (written by :func:`write_training_export`) next to itself.

    All user text (names, paths, keys, column names, option values) sits in the data block after
    the imports as whole ``ascii()`` literals; every other line is fixed code, and the model's
    class name avoids every name that code binds or reads."""
    from engine.export_training_code import inline_modules
    from graph.export_python import build_script
    from graph.naming import script_names
    from graph.plan import build_plan

    options, spec, dataset, recipe = prepare_export(project, network, base_dir)
    plan = build_plan(project.network(network))
    kind = spec.kind
    path = str(Path(spec.path).expanduser().resolve()) if kind in ("npz", "csv", "parquet", *IMAGE_KINDS) else None
    source = _source_info(kind, dict(spec.options), path, dataset, arrays_file or "training_data.npz",
                          listing_file)
    data = ["", "# The training settings and the data set, as in the project.", _dict_source("OPTIONS", options.to_dict()), _dict_source("DATASET", spec.to_dict()),
            _dict_source("SOURCE", source), f"RECIPE = {_literal(options.recipe)}",
            f"LOSS = {_literal(options.resolved_loss)}", f"FROZEN = {_literal(_frozen_identifiers(options, plan))}",
            _dict_source("TARGETS", _targets_info(recipe))]
    if options.recipe == "gan":
        data.append(_gan_parts(recipe, plan))
    inlined_imports: list[str] = []
    sections: list[str] = []
    if kind in _INLINED or kind in SCRIPTED_KINDS:      # the engine's own data code
        inlined_imports, sections = inline_modules(_INLINED.get(kind, ("engine.data.split",)))
    sections.append(_loader(kind))
    if options.recipe == "gan":
        sections.append(_gan_sections())
        main = ["train_gan(parse_args())"]
    else:
        sections.append(_TRAINING.strip("\n"))
        main = ["train(parse_args())"]
    own = frozenset().union(*(script_names(part) for part in ["\n".join(_STD_IMPORTS + _THIRD_IMPORTS + inlined_imports),
                                                               "\n".join(data), *sections, *main]))
    script, plan, _ = build_script(project, network, seed=options.seed, reserved=own, plan=plan)
    script.header = _header(kind, options.recipe)
    extra = [line for line in script.imports
             if line and line != "from __future__ import annotations" and line not in _STD_IMPORTS + _THIRD_IMPORTS]
    std, third = _sorted_imports([*inlined_imports, *extra])
    script.imports = ["from __future__ import annotations", "", *_STD_IMPORTS, *std, "", *_THIRD_IMPORTS, *third]
    script.data += data
    script.sections += sections
    script.main = main
    return script.render()


def needs_arrays_file(project: Any) -> bool:
    raw = project.settings.get(DATASET_KEY) or {}
    return isinstance(raw, dict) and raw.get("kind") not in SCRIPTED_KINDS


def write_training_export(project: Any, path: str | os.PathLike[str], network: str | None = None, *,
                          base_dir: str | None = None) -> list[Path]:
    """Write the script (and, for data sets the script cannot load itself, the arrays beside it);
    returns the files written."""
    import io

    import numpy as np

    from graph.project_file import atomic_write

    path = Path(path)
    written = []
    arrays_file = None
    if needs_arrays_file(project):
        _, _, dataset, _ = prepare_export(project, network, base_dir)
        arrays_file = f"{path.stem}_data.npz"
        buffer = io.BytesIO()
        np.savez(buffer, x_train=dataset.x_train, y_train=dataset.y_train, x_val=dataset.x_val, y_val=dataset.y_val)
        atomic_write(path.with_name(arrays_file), buffer.getvalue())
        written.append(path.with_name(arrays_file))
    listing_file = None
    raw = project.settings.get(DATASET_KEY) or {}
    if isinstance(raw, dict) and raw.get("kind") == "image_list":
        listing_file = f"{path.stem}_images.json"
        atomic_write(path.with_name(listing_file), image_listing_json(project, base_dir))
        written.append(path.with_name(listing_file))
    text = export_training_script(project, network, base_dir=base_dir, arrays_file=arrays_file,
                                  listing_file=listing_file)
    atomic_write(path, text.encode("utf-8"))
    written.insert(0, path)
    return written


def image_listing_json(project: Any, base_dir: str | None = None) -> bytes:
    """An image list's rows as the app reads them (absolute paths, targets, task, class names), as
    JSON for the exported script: the paths are data, never code."""
    import json

    from engine.data.image_list import read_image_list
    from engine.data.options import OptionReader
    from engine.session import dataset_spec

    spec = dataset_spec(project.settings, base_dir)
    paths, y, task, class_names = read_image_list(spec, OptionReader(spec.kind, spec.options))
    listing = {"paths": [os.path.abspath(p) for p in paths], "targets": y.tolist(), "task": task,
               "class_names": class_names}
    return json.dumps(listing, ensure_ascii=True).encode("ascii")
