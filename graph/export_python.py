"""Network -> a standalone, readable PyTorch script that needs nothing but torch.

The script follows the same plan as the compiler: the same layer classes with the same literal
arguments, created in the same order (so one seed gives the same initial weights) and the same
attribute names (so the compiled module's ``state_dict`` loads into it as is).

User text (project, network, block and node names, string-valued layer arguments) reaches the
script in exactly two ways: as a whole ``repr()`` literal (the names sit together in one data block
after the imports: ``TITLE``, ``NODE_NAMES``, ``OUTPUT_NAMES``, ``BLOCK_NAMES``), or as an
identifier made by :mod:`graph.naming`. It is never written into a docstring, a comment or part of
a literal, and a generated class name never equals a name the script itself binds or reads
(:func:`graph.naming.script_names`), so no name can inject code or shadow the script's own.
"""

from __future__ import annotations

import inspect
import math
import os
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.document import Network, Project
from graph.errors import GraphError
from graph.naming import class_identifier, script_names
from graph.plan import Plan, Step, build_plan, is_token_input, sample_shape, token_range

_CLASS_PLACEHOLDER = "__DeepCanvasBlock__"


@dataclass
class Script:
    """A script being assembled; later stages (training recipes) append their own sections."""

    header: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    #: assignments holding every piece of user text the script contains, as whole literals
    data: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    main: list[str] = field(default_factory=list)

    def add_import(self, line: str) -> None:
        if not line or line not in self.imports:
            self.imports.append(line)

    def render(self) -> str:
        parts = ["\n".join(self.header), "\n".join(self.imports), "\n".join(self.data), *self.sections]
        if self.main:
            parts.append('if __name__ == "__main__":\n' + textwrap.indent("\n".join(self.main), "    "))
        return "\n\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"


def visible_text(text: str) -> str:
    """User text with every character that is not printable (newlines, carriage returns, tabs,
    control and format characters such as ANSI escapes or right-to-left overrides, line and
    paragraph separators, lone surrogates) written as a visible escape like ``\\n`` or ``\\u2028``.
    Printable text in any script is kept as it is, so names stay readable."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def literal_source(value: Any) -> str:
    """Python source for a literal layer argument (strings as whole ``repr()`` literals, tuples,
    lists, dicts, slices, ``...``); anything else is refused rather than written with a ``repr``
    that might not be Python."""
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if value is Ellipsis:
        return "..."
    if isinstance(value, slice):
        return f"slice({literal_source(value.start)}, {literal_source(value.stop)}, {literal_source(value.step)})"
    if isinstance(value, tuple):
        items = [literal_source(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return f"[{', '.join(literal_source(v) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal_source(k)}: {literal_source(v)}" for k, v in value.items()) + "}"
    raise GraphError(f"cannot write a {type(value).__name__} layer argument into a script")


def assignment_source(name: str, value: Any) -> str:
    """``NAME = literal``, a dict or list with one entry per line so a long one stays readable."""
    if isinstance(value, dict) and value:
        lines = [f"    {literal_source(k)}: {literal_source(v)}," for k, v in value.items()]
        return f"{name} = {{\n" + "\n".join(lines) + "\n}"
    if isinstance(value, list) and len(value) > 1:
        return f"{name} = [\n" + "\n".join(f"    {literal_source(v)}," for v in value) + "\n]"
    return f"{name} = {literal_source(value)}"


def helper_sources(plan: Plan) -> list[str]:
    """Source of the graph.torch_modules classes the plan uses (importing them imports torch,
    so only export pays for it)."""
    from graph import torch_modules

    names = sorted({s.call.cls.split(".", 1)[1] for s in all_layers(plan)
                    if s.call is not None and s.call.cls.startswith("dc.")})
    return [textwrap.dedent(inspect.getsource(getattr(torch_modules, n))) for n in names]


def all_layers(plan: Plan) -> Iterator[Step]:
    """Every layer step, the insides of blocks included."""
    for step in plan.layers:
        yield step
        if step.block is not None:
            yield from all_layers(step.block)


def block_class_sources(plan: Plan, taken: set[str]) -> tuple[list[str], dict[int, str], dict[str, str]]:
    """One class per distinct block inside (insides first, so each class is defined before use);
    two uses that plan to the same code share a class. Returns the sources, per block step (by
    ``id``) its class name, and per class the name of the block it was made for. Each class name
    is added to ``taken``."""
    sources: list[str] = []
    names: dict[int, str] = {}
    by_body: dict[str, str] = {}
    block_names: dict[str, str] = {}

    def visit(p: Plan) -> None:
        for step in p.layers:
            if step.block is None:
                continue
            visit(step.block)
            block = step.node.params["block"]
            body = model_class_source(step.block, _CLASS_PLACEHOLDER, _BLOCK_DOC, names)
            name = by_body.get(body)
            if name is None:
                name = class_identifier(block, fallback="Block", avoid=taken)
                taken.add(name)
                by_body[body] = name
                block_names[name] = str(block)
                sources.append(body.replace(_CLASS_PLACEHOLDER, name, 1))
            names[id(step)] = name

    visit(plan)
    return sources, names, block_names


_MODEL_DOC = "The network exported from DeepCanvas (its name is TITLE, its nodes' names NODE_NAMES)."
_BLOCK_DOC = "A block of the network exported from DeepCanvas (its name is in BLOCK_NAMES)."


def model_class_source(plan: Plan, class_name: str, doc: str = _MODEL_DOC,
                       block_classes: dict[int, str] | None = None) -> str:
    """The ``nn.Module`` class of a plan. ``doc`` is fixed text, never user text."""
    lines = [f"class {class_name}(nn.Module):", f'    """{doc}"""', "",
             "    def __init__(self) -> None:", "        super().__init__()"]
    for step in plan.layers:
        assert step.call is not None
        prefix, _, cls = step.call.cls.partition(".")
        ctor = f"nn.{cls}" if prefix == "nn" else cls
        args = ", ".join(f"{k}={literal_source(v)}" for k, v in step.call.kwargs.items())
        if step.block is not None:
            ctor, args = (block_classes or {})[id(step)], ""
        shape = str(step.output).replace("×", "x")
        lines.append(f"        self.{step.name} = {ctor}({args})  # -> {shape}")
    params = ", ".join(f"{s.name}: torch.Tensor" for s in plan.inputs)
    ret = "torch.Tensor" if len(plan.outputs) == 1 else "tuple[torch.Tensor, ...]"
    lines += ["", f"    def forward(self, {params}) -> {ret}:"]
    for step in plan.layers:
        args = ", ".join("None" if a is None else a for a in step.args)
        lines.append(f"        {step.name} = self.{step.name}({args})")
    results = [s.args[0] for s in plan.outputs]
    lines.append(f"        return {', '.join(a for a in results if a)}")
    return "\n".join(lines)


def sample_inputs_source(plan: Plan) -> str:
    lines = ["def sample_inputs(batch_size: int = 2) -> list[torch.Tensor]:",
             '    """Random inputs shaped like the network\'s Input nodes."""', "    return ["]
    for step in plan.inputs:
        shape = ", ".join(str(d) for d in sample_shape(step, 1)[1:])
        dims = f"(batch_size, {shape})" if shape else "(batch_size,)"
        if is_token_input(step):
            lines.append(f"        torch.randint(0, {token_range(plan.network, step.node)}, {dims}),")
        else:
            lines.append(f"        torch.randn{dims},")
    lines.append("    ]")
    return "\n".join(lines)


def _network(target: Project | Network, network: str | None) -> tuple[Network, str]:
    if isinstance(target, Network):
        return target, target.name
    net = target.network(network)
    title = target.name if len(target.networks) == 1 else f"{target.name} / {net.name}"
    return net, title


def names_block(title: str, plan: Plan, block_names: dict[str, str]) -> list[str]:
    """The script's data block: every name the user typed, each a whole ``repr()`` literal."""
    nodes = {s.name: s.node.name for s in plan.steps}
    return [
        "# Names as they are in DeepCanvas: data only, the code never depends on them.",
        assignment_source("TITLE", title),
        assignment_source("NODE_NAMES", nodes),
        "# the Output nodes' names as printed (characters a terminal would act on written as escapes)",
        assignment_source("OUTPUT_NAMES", [visible_text(s.node.name) for s in plan.outputs]),
        assignment_source("BLOCK_NAMES", block_names),
    ]


def _build_model_source(class_name: str, seed: int, weights_file: str | None = None) -> str:
    if weights_file is None:
        return (f"def build_model(seed: int = {seed!r}) -> {class_name}:\n"
                f'    """The model with the same initial weights DeepCanvas gives this seed."""\n'
                f"    torch.manual_seed(seed)\n"
                f"    return {class_name}()")
    # the file name is the user's text: only ever a whole repr() literal
    return (f"# the weights the project carried (imported or trained), saved beside this script\n"
            f"WEIGHTS_FILE = {weights_file!r}\n\n\n"
            f"def build_model(seed: int = {seed!r}) -> {class_name}:\n"
            f'    """The model with the weights saved beside this script (WEIGHTS_FILE); the seed only\n'
            f'    matters for what the weights do not cover (nothing, when they fit)."""\n'
            f"    from safetensors.torch import load_file\n\n"
            f"    torch.manual_seed(seed)\n"
            f"    model = {class_name}()\n"
            f"    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), WEIGHTS_FILE)\n"
            f"    model.load_state_dict(load_file(path), strict=True)\n"
            f"    return model")


def weights_sidecar(script: str | os.PathLike[str]) -> Path:
    """Where the weights of an exported script go: ``model.py`` -> ``model.weights.safetensors``
    (never the project's own ``PROJECT.safetensors``, whatever the script is called)."""
    path = Path(script)
    return path.with_name(path.stem + ".weights.safetensors")


def write_python_export(target: Project | Network, path: str | os.PathLike[str], network: str | None = None,
                        seed: int = 0, weights: dict[str, Any] | None = None) -> list[Path]:
    """Write the model script, and with ``weights`` (the network's state dict) a safetensors file
    beside it that the script loads, so an imported or trained project exports what it computes
    rather than seeded initial weights. The weights are checked against the network first."""
    from graph.project_file import atomic_write
    from graph.state_fit import compare_state

    path = Path(path)
    written: list[Path] = []
    sidecar = None
    if weights is not None:
        from safetensors import SafetensorError
        from safetensors.torch import save_file

        from graph.compiler import compile_network

        net, _ = _network(target, network)
        mismatch = compare_state(compile_network(net, seed=seed).state_dict(), weights)
        if mismatch:
            raise GraphError(f"the weights saved beside the project do not fit network '{net.name}' (missing "
                             f"{mismatch.missing[:3]}, unexpected {mismatch.unexpected[:3]}, other shapes "
                             f"{mismatch.wrong_shape[:3]}): export with --initial-weights, or load weights "
                             f"that fit")
        sidecar = weights_sidecar(path)
        sidecar.parent.mkdir(parents=True, exist_ok=True)   # as atomic_write does for the script
        tmp = sidecar.with_name(sidecar.name + ".tmp")
        try:
            save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(tmp))
        except SafetensorError as exc:     # a full disk, a folder without write access
            tmp.unlink(missing_ok=True)
            raise OSError(f"{sidecar} cannot be written: {exc}") from None
        os.replace(tmp, sidecar)
        written.append(sidecar)
    text = export_python(target, network, seed, weights_file=sidecar.name if sidecar else None)
    atomic_write(path, text.encode("utf-8"))
    return [path, *written]


def build_script(target: Project | Network, network: str | None = None, seed: int = 0, *,
                 reserved: Iterable[str] = (), plan: Plan | None = None,
                 weights_file: str | None = None) -> tuple[Script, Plan, str]:
    """The model script as parts a training exporter can extend, its plan and its model class's name.

    ``reserved``: names the caller's own additions bind or read; the generated class names avoid
    them as well as every name of this script's fixed parts (found by parsing those parts, so the
    list cannot drift from the code)."""
    net, title = _network(target, network)
    plan = plan or build_plan(net)
    helpers = helper_sources(plan)
    script = Script()
    script.header = [
        '"""A PyTorch model exported from DeepCanvas (its name is TITLE below).',
        "",
        "Needs only torch. Run it to build the model and print its output shape(s) for a random batch.",
        '"""',
    ]
    imports = ("from __future__ import annotations", "", "import math", *(("import os",) if weights_file else ()),
               "import torch", "from torch import nn")
    for line in imports:
        script.add_import(line)
    if weights_file is not None:
        script.header[2] = ("Needs torch and safetensors (for the weights file beside it). Run it to build the "
                            "model and print its output shape(s) for a random batch.")
    script.sections += helpers
    script.main = [
        "model = build_model().eval()",
        "with torch.no_grad():",
        "    result = model(*sample_inputs())",
        "results = result if isinstance(result, tuple) else (result,)",
        "for name, value in zip(OUTPUT_NAMES, results):",
        '    print(f"{name}: {tuple(value.shape)}")',
        'print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")',
    ]
    samples = sample_inputs_source(plan)
    fixed = ["\n".join(script.imports), "\n".join(names_block("", plan, {})), *helpers, samples,
             _build_model_source(_CLASS_PLACEHOLDER, seed, weights_file), "\n".join(script.main)]
    taken = set(reserved).union(*(script_names(part) for part in fixed)) - {_CLASS_PLACEHOLDER}
    class_name = class_identifier(title, avoid=taken)
    taken.add(class_name)
    blocks, block_classes, block_names = block_class_sources(plan, taken)
    script.data = names_block(title, plan, block_names)
    script.sections += blocks
    script.sections.append(model_class_source(plan, class_name, _MODEL_DOC, block_classes))
    script.sections.append(_build_model_source(class_name, seed, weights_file))
    script.sections.append(samples)
    return script, plan, class_name


def export_python(target: Project | Network, network: str | None = None, seed: int = 0,
                  weights_file: str | None = None) -> str:
    """The script text for one network (the project's first by default); with ``weights_file``
    (a name beside the script) ``build_model`` loads those weights."""
    script, _, _ = build_script(target, network, seed, weights_file=weights_file)
    return script.render()
