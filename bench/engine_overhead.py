"""Engine overhead: train the same compiled model on the same data for the same steps through the
engine (events streamed through a multiprocessing queue, metrics.jsonl and checkpoints written) and
through a bare PyTorch loop (the same batches, optimizer and loss, plus a validation pass per epoch,
as any training script has). Target: ratio at most 1.05 on the CPU.

    python bench/engine_overhead.py [--template cnn-digits] [--epochs N] [--repeats R]

Runs alternate (bare, engine, bare, engine, ...) so a machine that gets busier or quieter affects
both; the best time of each is compared. Prints `name: value` lines; the headline ratio is last.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import graph  # noqa: E402
from engine.data import DatasetSpec, load_dataset  # noqa: E402
from engine.loop import Trainer  # noqa: E402
from engine.options import TrainingOptions  # noqa: E402
from engine.recipes import make_recipe  # noqa: E402
from engine.runs import RunRecorder  # noqa: E402
from graph.templates import make_template  # noqa: E402


def bare_loop(project, dataset, options) -> float:
    """What a hand-written script does: same batches (same generator), Adam/CE, validation per epoch."""
    model = graph.compile_network(project, seed=options.seed)
    torch.manual_seed(options.seed)
    x, y = torch.from_numpy(dataset.x_train), torch.from_numpy(dataset.y_train)
    xv, yv = torch.from_numpy(dataset.x_val), torch.from_numpy(dataset.y_val)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr)
    generator = torch.Generator().manual_seed(options.seed)
    n, bs = len(x), options.batch_size
    start = time.perf_counter()
    for _ in range(options.epochs):
        model.train()
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            out = model(xv)
            _ = (F.cross_entropy(out, yv).item(), (out.argmax(1) == yv).float().mean().item())
    return time.perf_counter() - start


def engine_loop(project, dataset, options, events) -> tuple[float, int]:
    """The engine's loop with a recorder and a queue as the event sink (as in the worker)."""
    model = graph.compile_network(project, seed=options.seed)
    torch.manual_seed(options.seed)
    with tempfile.TemporaryDirectory() as tmp:
        recorder = RunRecorder(tmp)
        recorder.start({"project": graph.project_to_dict(project)})
        sent = 0

        def emit(event) -> None:
            nonlocal sent
            recorder.on_event(event)
            events.put(event)
            sent += 1

        trainer = Trainer(model, dataset, options, make_recipe(options, dataset, project.main),
                          torch.device("cpu"), emit, checkpoints=recorder)
        start = time.perf_counter()
        trainer.run()
        elapsed = time.perf_counter() - start
        recorder.close()
    return elapsed, sent


def drain(events) -> int:
    count = 0
    while True:
        try:
            events.get(timeout=0.2)
            count += 1
        except queue.Empty:
            return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="cnn-digits")
    parser.add_argument("--epochs", type=int, help="default: the template's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    project = make_template(args.template)
    options = TrainingOptions.from_dict(project.settings["training"])
    if args.epochs:
        options = options.with_changes(epochs=args.epochs)
    if options.optimizer != "adam" or options.schedule != "none" or options.recipe != "classification":
        raise SystemExit("the bare loop mirrors Adam, no schedule, classification")
    dataset = load_dataset(DatasetSpec.from_dict(project.settings["dataset"]))
    events = mp.get_context("spawn").Queue()
    steps = options.epochs * -(-len(dataset.x_train) // options.batch_size)

    bare_loop(project, dataset, options.with_changes(epochs=1))          # warm-up (lazy imports, caches)
    engine_loop(project, dataset, options.with_changes(epochs=1), events)
    drain(events)
    bare_times, engine_times, sent = [], [], 0
    for _ in range(args.repeats):
        bare_times.append(bare_loop(project, dataset, options))
        elapsed, sent = engine_loop(project, dataset, options, events)
        engine_times.append(elapsed)
        drain(events)

    print(f"template: {args.template}")
    print(f"threads: {torch.get_num_threads()}")
    print(f"steps: {steps} ({options.epochs} epochs of batch {options.batch_size})")
    print(f"events_per_run: {sent}")
    print(f"bare_s: {min(bare_times):.3f} (median {statistics.median(bare_times):.3f})")
    print(f"engine_s: {min(engine_times):.3f} (median {statistics.median(engine_times):.3f})")
    print(f"bare_step_ms: {1000 * min(bare_times) / steps:.3f}")
    print(f"engine_step_ms: {1000 * min(engine_times) / steps:.3f}")
    print(f"median_ratio: {statistics.median(engine_times) / statistics.median(bare_times):.3f}")
    print(f"ratio: {min(engine_times) / min(bare_times):.3f}")


if __name__ == "__main__":
    main()
