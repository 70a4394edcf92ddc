"""DeepCanvas entry point: the desktop app by default, headless sub-commands for scripts and CI.

    python main.py [PROJECT] [--screenshot OUT.png [--size WxH]]   open the editor
    python main.py summary PROJECT [--json]           layer table with shapes and parameter counts
    python main.py validate PROJECT                   exit 0 when the network is sound
    python main.py export PROJECT -o train.py         standalone PyTorch script (model, data, training)
    python main.py export PROJECT --format onnx       ONNX / TorchScript / torch.export / safetensors weights
    python main.py import-torch FILE.py:CLASS -o P    an existing nn.Module as a project with its weights
    python main.py load-weights PROJECT SOURCE        weights from .safetensors/.pt/a project/a run, by layer
    python main.py templates                          list the starting points
    python main.py new --template NAME PROJECT        write a template to a project file
    python main.py train PROJECT                      train with the project's settings

The CLI and the GUI call the same graph/engine functions, so both give the same results.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _load(path: str):
    import graph

    return graph.load_project(path)


@command("summary")
def cmd_summary(args: argparse.Namespace) -> int:
    import graph

    project = _load(args.project)
    names = [args.network] if args.network else [n.name for n in project.networks]
    summaries = [graph.summarize(project, name) for name in names]
    if args.json:
        data = summaries[0].to_json() if len(summaries) == 1 else {"networks": [s.to_json() for s in summaries]}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(s.format_table() for s in summaries))
    too_big = [s for s in summaries if s.too_big]  # the table is the diagnosis, but this cannot train
    for s in too_big:
        print(f"error: network '{s.network}' is too big: {s.memory_error}", file=sys.stderr)
    return 1 if too_big else 0


@command("validate")
def cmd_validate(args: argparse.Namespace) -> int:
    import graph

    project = _load(args.project)
    problems = [(net.name, p.message) for net in project.networks for p in graph.analyze(net).problems]
    if not problems:
        nets = ", ".join(f"'{n.name}'" for n in project.networks)
        print(f"{args.project}: valid ({nets})")
        return 0
    for net, message in problems:
        print(f"{args.project} [{net}]: {message}", file=sys.stderr)
    return 1


@command("export")
def cmd_export(args: argparse.Namespace) -> int:
    import graph
    from graph.project_file import atomic_write
    from graph.shapes import require_valid

    project = _load(args.project)
    require_valid(project.network(args.network))  # the problems, named, before any file is written
    if args.format != "python":
        return _export_format(args, project)
    if args.output not in (None, "-") and Path(args.output).is_dir():
        return _fail(f"{args.output} is a folder; give a file name such as {Path(args.output) / 'model.py'}")
    if args.model_only or "dataset" not in project.settings:
        from graph.export_python import write_python_export
        from graph.project_file import load_weights, weights_path

        seed = 0 if args.seed is None else args.seed
        beside = weights_path(args.project)
        net_name = project.network(args.network).name
        weights = None if args.initial_weights or not beside.is_file() else load_weights(beside).get(net_name)
        if weights and args.output not in (None, "-"):
            # the weights the project carries (imported or trained) travel with the script
            for path in write_python_export(project, args.output, args.network, seed=seed, weights=weights):
                print(f"wrote {path}")
            return 0
        if weights:
            print(f"note: the script builds seeded initial weights; give a file with -o to export the weights "
                  f"in {beside.name} beside it", file=sys.stderr)
        text = graph.export_python(project, args.network, seed=seed)
    else:
        # the project says what to train on: the script also loads the data and trains like the app
        from engine.export_training import export_training_script, write_training_export

        if args.seed is not None:
            project.settings.setdefault("training", {})["seed"] = args.seed
        base_dir = str(Path(args.project).resolve().parent)
        if args.output not in (None, "-"):
            for path in write_training_export(project, args.output, args.network, base_dir=base_dir):
                print(f"wrote {path}")
            return 0
        text = export_training_script(project, args.network, base_dir=base_dir)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        atomic_write(Path(args.output), text.encode("utf-8"))
        print(f"wrote {args.output}")
    return 0


def _export_format(args: argparse.Namespace, project) -> int:
    """ONNX, TorchScript, torch.export or safetensors: a file, holding the trained weights saved
    beside the project when there are some (else the seeded initial weights)."""
    from graph.export_formats import FORMATS, default_output, export_as
    from graph.project_file import load_weights, weights_path

    net = project.network(args.network)
    if args.output == "-":
        return _fail(f"{args.format} files are binary: give a file name with -o")
    out = Path(args.output) if args.output else default_output(args.project, project.name, args.format)
    if out.is_dir():
        out = out / default_output(args.project, project.name, args.format).name
    weights = None
    source = weights_path(args.project)
    if source.is_file() and not args.initial_weights:
        weights = load_weights(source).get(net.name)
    result = export_as(args.format, project, out, net.name, weights=weights,
                       seed=0 if args.seed is None else args.seed)
    where = f" from {source.name}" if weights else ""
    print(f"wrote {result.path} ({args.format}, network '{net.name}', {result.weights}{where})")
    if FORMATS[args.format] != result.path.suffix:
        print(f"note: {args.format} files usually end in {FORMATS[args.format]}", file=sys.stderr)
    return 0


@command("import-torch")
def cmd_import_torch(args: argparse.Namespace) -> int:
    import graph
    from graph.import_torch import import_torch, parse_shapes

    out = Path(args.output)
    if out.suffix != ".dcproj":
        return _fail(f"{out} should end in .dcproj (the weights go beside it as {out.with_suffix('.safetensors').name})")
    if out.exists() and not args.force:
        return _fail(f"{out} already exists (use --force to overwrite)")
    try:
        kwargs = json.loads(args.kwargs) if args.kwargs else None
    except ValueError as exc:
        return _fail(f"--kwargs is not JSON ({exc}); write e.g. --kwargs '{{\"classes\": 10}}'")
    if kwargs is not None and not isinstance(kwargs, dict):
        return _fail("--kwargs must be a JSON object such as '{\"classes\": 10}'")
    shapes = parse_shapes(args.input_shape) if args.input_shape else None
    dtypes = [d.strip() for d in args.dtype.split(",")] if args.dtype else None
    report = import_torch(args.target, shapes, dtypes, kwargs, name=args.name, flatten=args.flat)
    net = report.project.main
    graph.save_project(report.project, out, weights={net.name: report.weights})
    print(report.format())
    print(f"wrote {out} and its weights {out.with_suffix('.safetensors').name}")
    return 0


@command("load-weights")
def cmd_load_weights(args: argparse.Namespace) -> int:
    """Fit the weights of SOURCE into a network layer by layer (engine.transfer) and save them beside
    the project. Layers the source does not fit keep the project's current weights when there are
    some that fit, else the seeded initial ones, so the file always loads into the network whole."""
    import graph
    from engine.transfer import TransferError, match_weights, read_weights
    from graph.project_file import load_weights, weights_path
    from graph.state_fit import compare_state

    project = _load(args.project)
    net = project.network(args.network)
    try:
        match = match_weights(read_weights(args.source, args.which), project, net.name)
    except TransferError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not match.matched:
        print(f"error: {match.sentence(attached=False)}", file=sys.stderr)
        for note in match.notes:     # why the names and the order did not fit either
            print(f"  note: {note}", file=sys.stderr)
        return 1
    beside = weights_path(args.project)
    saved = load_weights(beside) if beside.is_file() else {}
    base = saved.get(net.name)
    if base is not None and not compare_state(graph.compile_network(net, seed=0).state_dict(), base):
        rest = "keep the weights saved beside the project"
    else:
        base = graph.compile_network(net, seed=0).state_dict()
        rest = "get initial weights (seed 0)"
    state = {k: v.detach().cpu().contiguous() for k, v in base.items()}
    state.update(match.state)
    graph.save_project(project, args.project, weights={**saved, net.name: state})
    print(_match_report(match, rest))
    print(f"wrote {beside}")
    return 0


def _match_report(match, rest: str) -> str:
    fit = f"all {match.total}" if len(match.matched) == match.total else f"{len(match.matched)} of {match.total}"
    lines = [f"weights of {match.source} into network '{match.network}': {fit} layers match"]
    if match.prefix:
        lines.append(f"  prefix taken off the source's names: {match.prefix}")
    if match.by_order:
        lines.append(f"  the names differ: matched by order and shape ({len(match.by_order)} tensors)")
        lines += [f"    {theirs} -> {ours}" for theirs, ours in match.by_order]
    elif match.order_refused and len(match.matched) < match.total:
        lines.append(f"  not matched by order either: {match.order_refused}")
    for label, names in (("matched", match.matched), ("changed size", match.changed),
                         ("missing from the source", match.untrained), ("unused from the source", match.dropped)):
        if names:
            lines.append(f"  {label} ({len(names)}): {', '.join(names)}")
    if len(match.matched) < match.total:
        lines.append(f"  the layers that do not match {rest}")
    lines += [f"  note: {note}" for note in match.notes]
    lines += [f"  warning: {warning}" for warning in match.warnings]
    return "\n".join(lines)


@command("templates")
def cmd_templates(args: argparse.Namespace) -> int:
    from graph.templates import list_templates

    for t in list_templates():
        print(f"{t.name}\t{t.description}")
    return 0


@command("new")
def cmd_new(args: argparse.Namespace) -> int:
    import graph
    from graph.templates import make_template

    path = Path(args.project)
    if path.exists() and not args.force:
        return _fail(f"{path} already exists (use --force to overwrite)")
    project = make_template(args.template)
    graph.save_project(project, path)
    print(f"wrote {path} from template {args.template}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepcanvas", description="Draw, train and export neural networks.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("summary", help="layer table: output shapes, parameters, mult-adds")
    p.add_argument("project")
    p.add_argument("--network", help="only this network (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("validate", help="check every network; exit 1 with the problems")
    p.add_argument("project")

    p = sub.add_parser("export", help="write a standalone PyTorch script")
    p.add_argument("project")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--network", help="network to export (default: the first)")
    p.add_argument("--seed", type=int, default=None, help="seed of the initial weights (and of training)")
    p.add_argument("--model-only", action="store_true",
                   help="only the model (needs nothing but torch), without the project's data and training loop")
    p.add_argument("--format", default="python", choices=("python", "onnx", "torchscript", "pt2", "safetensors"),
                   help="python: a script (default); onnx; torchscript: a torch.jit archive; pt2: a torch.export "
                        "program; safetensors: the weights alone. Binary formats hold the weights saved beside "
                        "the project (PROJECT.safetensors) when there are some, else the seeded initial weights; "
                        "the default file name is the project's with the format's extension")
    p.add_argument("--initial-weights", action="store_true",
                   help="ignore trained weights beside the project and export the seeded initial ones")

    p = sub.add_parser("import-torch", help="trace an existing PyTorch nn.Module into a project with its weights")
    p.add_argument("target", metavar="MODULE:CLASS",
                   help="a .py file or dotted module path, a colon, and the nn.Module class (or a function "
                        "returning one), e.g. models.py:LeNet")
    p.add_argument("-o", "--output", required=True, help="project file to write (.dcproj; weights go beside it)")
    p.add_argument("--input-shape", help="per-sample shape of the input, e.g. 1,28,28 (several inputs: 20;20); "
                                         "default: the module's sample_inputs()")
    p.add_argument("--dtype", help="float32 (default) or int64 for token ids; one per input, comma separated")
    p.add_argument("--kwargs", help="constructor arguments as a JSON object")
    p.add_argument("--name", help="project name (default: the class name)")
    p.add_argument("--flat", action="store_true",
                   help="flatten all: one node per layer, instead of the model's submodules as nested blocks")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = sub.add_parser("load-weights", help="fit weights from a file, project or run into a network, layer by "
                                            "layer, and save them beside the project")
    p.add_argument("project")
    p.add_argument("source", help="a .safetensors file, a .pt/.pth state_dict, another .dcproj or a run folder")
    p.add_argument("--network", help="network to load into (default: the first)")
    p.add_argument("--which", choices=("best", "last"), default="best", help="a run's best or last weights")

    sub.add_parser("templates", help="list the templates, one per line, name first")

    p = sub.add_parser("new", help="create a project from a template")
    p.add_argument("project")
    p.add_argument("--template", required=True)
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    _add_engine_commands(sub)
    return parser


def _add_engine_commands(sub: argparse._SubParsersAction) -> None:
    """Commands whose implementation lives in the engine package register themselves here."""
    try:
        from engine.cli import add_commands
    except ImportError:
        return
    add_commands(sub, COMMANDS)


def _window_size(text: str) -> tuple[int, int]:
    """'1024x700' -> (1024, 700), or a message saying what is expected."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: write WIDTHxHEIGHT, e.g. 1024x700") from None
    if not (640 <= width <= 7680 and 480 <= height <= 4320):
        raise argparse.ArgumentTypeError(f"{text!r}: the width must be 640 to 7680 and the height 480 to 4320 pixels")
    return width, height


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepcanvas", description="Open the DeepCanvas editor.")
    parser.add_argument("project", nargs="?", help="project file to open")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window to a PNG and exit")
    parser.add_argument("--size", metavar="WxH", type=_window_size,
                        help="window size for --screenshot, e.g. 1024x700 (default 1600x1000)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in COMMANDS or (first is None and {"-h", "--help"} & set(argv)):
        return _run_command(parser, argv)
    args = _gui_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from gui.app import run

    return run(project=args.project, screenshot=args.screenshot, size=args.size)


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors whose message is meant for the user: printed as is, without a traceback."""
    from engine.data import DatasetError
    from engine.errors import TrainingError
    from graph.errors import GraphError

    return GraphError, TrainingError, DatasetError


def _run_command(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except _user_errors() as exc:
        return _fail(str(exc))
    except BrokenPipeError:  # `summary P | head`: the reader left; stop quietly
        try:  # point stdout at devnull so the flush at exit does not complain either
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except OSError as exc:
        # os.replace(temp, target) names the temp file first: the user knows only the target
        from graph.quoting import cut_message

        where = exc.filename2 or exc.filename or ""
        return _fail(cut_message(f"{where}: {exc.strerror or exc}".lstrip(": ")))
    except KeyboardInterrupt:
        return _fail("interrupted")


if __name__ == "__main__":
    sys.exit(main())
