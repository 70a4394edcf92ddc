"""Data at scale: how long DeepCanvas takes to load a large user data set, next to the library call
that reads the same file with nothing else done (the floor any loader starts from).

    python bench/data_scale.py [--part csv|all] [--rows N] [--repeats R] [--cache DIR]

Parts (each a function `bench_<part>` returning its `name: value` lines; add one to PARTS):
- csv: a table of --rows rows, 29 feature columns (numbers with some missing cells, text
  categories, a true/false column) and a class label, written once into the cache folder. Times
  pandas.read_csv(engine="pyarrow") on it and DeepCanvas' `csv` data set (parse, encode, split,
  normalise) alternately and keeps the best of each. Target: ratio at most 2.
- images: a folder of --images RGB JPEGs (256x256, 10 classes) generated once, trained for one
  epoch at 160x160 through `main.py train` (CPU) while the process tree's RSS and the time to the
  first step line in metrics.jsonl are watched; then a plain PIL + DataLoader loop with the same
  workers, batch and model. Targets: peak RSS <= 2.5 GB, first step <= 10 s, speed >= 0.95x.

Generated files live in ~/.cache/deepcanvas-bench (or --cache), outside the repository, and are
reused while their name (which encodes rows and layout version) matches. Prints `name: value`
lines; each part's headline ratio is its last line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

DEFAULT_CACHE = Path.home() / ".cache" / "deepcanvas-bench"
#: bump when the generated layout changes, so stale cached files are not reused
CSV_LAYOUT = 1
NUMERIC_COLUMNS = 25
CATEGORY_COLUMNS = 3


def make_csv(cache: Path, rows: int) -> Path:
    """The benchmark table, generated once (seeded, so every machine measures the same file)."""
    import pandas as pd

    path = cache / f"table-{rows}x{NUMERIC_COLUMNS + CATEGORY_COLUMNS + 2}-v{CSV_LAYOUT}.csv"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    columns: dict[str, object] = {}
    for i in range(NUMERIC_COLUMNS):
        values = rng.normal(loc=i, scale=1 + i / 10, size=rows).round(4)
        values[rng.random(rows) < 0.01] = np.nan           # 1 % missing cells, filled with the mean
        columns[f"x{i}"] = values
    for i in range(CATEGORY_COLUMNS):
        choices = np.array([f"cat{i}_{k}" for k in range(4 + 3 * i)])
        columns[f"c{i}"] = choices[rng.integers(0, len(choices), rows)]
    columns["flag"] = rng.random(rows) < 0.3
    columns["label"] = rng.integers(0, 5, rows)
    tmp = path.with_suffix(".tmp")
    pd.DataFrame(columns).to_csv(tmp, index=False, na_rep="")
    tmp.replace(path)
    return path


def _best(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_csv(args: argparse.Namespace) -> list[tuple[str, str]]:
    import pandas as pd

    from engine.data import DatasetSpec, load_dataset

    path = make_csv(args.cache, args.rows)
    spec = DatasetSpec("csv", path=str(path), options={"target": "label"})
    pandas_times: list[float] = []
    ours_times: list[float] = []
    dataset = None
    for _ in range(args.repeats):   # alternate, so a machine getting busier affects both
        pandas_times.append(_best(lambda: pd.read_csv(path, engine="pyarrow")))
        start = time.perf_counter()
        dataset = load_dataset(spec)
        ours_times.append(time.perf_counter() - start)
    assert dataset is not None
    rows = len(dataset.x_train) + len(dataset.x_val)
    floor, ours = min(pandas_times), min(ours_times)
    return [
        ("csv_file", str(path)),
        ("csv_file_mb", f"{path.stat().st_size / 1e6:.1f}"),
        ("csv_rows", str(rows)),
        ("csv_features", str(dataset.input_shape[0])),
        ("pandas_read_csv_s", f"{floor:.3f}"),
        ("deepcanvas_csv_load_s", f"{ours:.3f}"),
        ("csv_ratio", f"{ours / floor:.2f}"),
    ]


# --- images: a generated JPEG folder trained through the CLI vs a plain PIL + DataLoader loop ---

CLASSES = 10
SOURCE_SIZE = 256
TRAIN_SIZE = 160
BATCH = 64


def _write_images(job: tuple[str, int, int]) -> None:
    from PIL import Image

    folder, start, stop = job
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        label = i % CLASSES
        # a smooth colour gradient per class plus noise: JPEG sizes like photos', quick to make
        yy, xx = np.mgrid[0:SOURCE_SIZE, 0:SOURCE_SIZE].astype(np.float32) / SOURCE_SIZE
        base = np.stack([xx * (label + 1) * 20, yy * 180, (xx + yy) * 60 + label * 10], axis=-1)
        pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(Path(folder) / f"c{label}" / f"{i:06d}.jpg", quality=90)


def image_folder(cache: Path, n: int) -> Path:
    """The n-image folder, made once (a marker file says it is complete)."""
    from multiprocessing import Pool

    folder = cache / f"images-{n}-{SOURCE_SIZE}"
    if (folder / ".complete").exists():
        return folder
    for c in range(CLASSES):
        (folder / f"c{c}").mkdir(parents=True, exist_ok=True)
    step = 500
    with Pool(os.cpu_count() or 1) as pool:
        pool.map(_write_images, [(str(folder), s, min(n, s + step)) for s in range(0, n, step)])
    (folder / ".complete").write_text(str(n))
    return folder


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and its descendants (DataLoader workers included)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def _model(project_options: dict) -> object:
    from graph import NetworkBuilder

    b = NetworkBuilder()
    x = b.input((3, TRAIN_SIZE, TRAIN_SIZE), name="image")
    h = b.chain(x, ("Conv2d", {"filters": 16, "kernel_size": 3, "stride": 2}), "ReLU",
                ("Conv2d", {"filters": 32, "kernel_size": 3, "stride": 2}), "ReLU", "GlobalAvgPool",
                ("Dense", {"units": CLASSES}))
    b.output(h, name="logits")
    return b.project("data scale", project_options)


def _train_cli(folder: Path, workers: int) -> dict[str, float | str]:
    from graph import save_project

    with tempfile.TemporaryDirectory() as tmp:
        project = _model({
            "dataset": {"kind": "image_folder", "path": str(folder),
                        "options": {"size": TRAIN_SIZE, "grayscale": False, "workers": workers}},
            "training": {"recipe": "classification", "epochs": 1, "batch_size": BATCH, "device": "cpu",
                         "mixed_precision": False},
        })
        path = Path(tmp) / "scale.dcproj"
        save_project(project, path)
        run_dir = Path(tmp) / "run"
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", str(path), "--run-dir",
                                 str(run_dir), "--quiet", "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)
        peak, first_step = 0, None
        metrics = run_dir / "metrics.jsonl"
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            if first_step is None and metrics.exists() and '"type": "step"' in metrics.read_text():
                first_step = time.monotonic() - started
            time.sleep(0.2)
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"main.py train failed ({proc.returncode}): {err.strip()[-2000:]}")
        report = json.loads(out)
        line = next((json.loads(x) for x in metrics.read_text().splitlines() if '"type": "step"' in x), {})
        first_event = line.get("time", line.get("t"))
        return {"seconds": time.monotonic() - started, "peak_rss": peak, "first_step": first_step or float("nan"),
                "first_step_event": float(first_event) if isinstance(first_event, int | float) else float("nan"),
                "images_per_sec": float(report["final_metrics"]["samples_per_sec"]),
                "mode": report.get("images", {}).get("mode", "?"), "dataset": report.get("dataset", "")}


def _plain_loop(folder: Path, workers: int) -> float:
    """Images per second of a plain PIL + DataLoader epoch with the same workers, batch and model."""
    import torch
    from PIL import Image

    from graph import compile_network

    paths = sorted(str(p) for p in folder.glob("c*/*.jpg"))
    labels = [int(Path(p).parent.name[1:]) for p in paths]
    train = np.random.default_rng(0).permutation(len(paths))[: int(len(paths) * 0.8)]

    class Files(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(train)

        def __getitem__(self, i: int):
            j = int(train[i])
            with Image.open(paths[j]) as img:
                pixels = np.asarray(img.convert("RGB").resize((TRAIN_SIZE, TRAIN_SIZE), Image.Resampling.BILINEAR))
            x = torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float().div_(255.0)
            return x, labels[j]

    model = compile_network(_model({}), None, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(Files(), batch_size=BATCH, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
    started, seen = time.monotonic(), 0
    for xb, yb in loader:
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(xb)
    return seen / (time.monotonic() - started)


def bench_images(args: argparse.Namespace) -> list[tuple[str, str]]:
    from engine.data.image_stream import default_workers

    workers = default_workers(-1)
    t = time.monotonic()
    folder = image_folder(args.cache, args.images)
    made = time.monotonic() - t
    cli = _train_cli(folder, workers)
    plain = _plain_loop(folder, workers)
    return [
        ("images_folder", str(folder)),
        ("images_count", str(args.images)),
        ("images_folder_seconds", f"{made:.1f}"),
        ("images_workers", str(workers)),
        ("images_mode", str(cli["mode"])),
        ("images_cli_seconds", f"{cli['seconds']:.1f}"),
        ("images_peak_rss_gb", f"{cli['peak_rss'] / 2**30:.2f}"),
        ("images_float32_preload_gb", f"{args.images * 3 * TRAIN_SIZE * TRAIN_SIZE * 4 / 2**30:.2f}"),
        ("images_first_step_s", f"{cli['first_step']:.1f}"),
        ("images_per_sec_cli", f"{cli['images_per_sec']:.1f}"),
        ("images_per_sec_plain_loop", f"{plain:.1f}"),
        ("images_peak_rss_vs_2.5gb", f"{cli['peak_rss'] / (2.5 * 2**30):.2f}"),
        ("images_first_step_vs_10s", f"{cli['first_step'] / 10:.2f}"),
        ("images_speed_vs_plain_loop", f"{cli['images_per_sec'] / plain:.2f}"),
    ]


#: part name -> function giving its (name, value) lines
PARTS: dict[str, Callable[[argparse.Namespace], list[tuple[str, str]]]] = {"csv": bench_csv, "images": bench_images}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all", help="which part to measure")
    parser.add_argument("--rows", type=int, default=500_000, help="rows of the generated table")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side; the best counts")
    parser.add_argument("--images", type=int, default=20_000, help="images in the generated folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="folder for generated files")
    args = parser.parse_args(argv)
    if args.rows < 10 or args.repeats < 1:
        parser.error("--rows must be at least 10 and --repeats at least 1")
    logging.basicConfig(level=logging.ERROR)   # the loaders' notes (filled cells, ...) are not results
    for part in PARTS if args.part == "all" else [args.part]:
        for name, value in PARTS[part](args):
            print(f"{name}: {value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
