"""Network -> a standalone, readable PyTorch script that needs nothing but torch.

The script follows the same plan as the compiler: the same layer classes with the same literal
arguments, created in the same order (so one seed gives the same initial weights) and the same
attribute names (so the compiled module's ``state_dict`` loads into it as is). User text (project,
network and node names) only ever appears through :func:`comment_text`, :func:`docstring_text` and
:func:`string_literal` (non-printable characters escaped, quotes neutralised), or as an identifier
made by :mod:`graph.naming`, so no name can inject code.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field

from graph.document import Network, Project
from graph.naming import class_identifier
from graph.plan import Plan, Step, build_plan, is_token_input, sample_shape, token_range

_CLASS_PLACEHOLDER = "__DeepCanvasBlock__"


@dataclass
class Script:
    """A script being assembled; later stages (training recipes) append their own sections."""

    header: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    main: list[str] = field(default_factory=list)

    def add_import(self, line: str) -> None:
        if not line or line not in self.imports:
            self.imports.append(line)

    def render(self) -> str:
        parts = ["\n".join(self.header), "\n".join(self.imports), *self.sections]
        if self.main:
            parts.append('if __name__ == "__main__":\n' + textwrap.indent("\n".join(self.main), "    "))
        return "\n\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"


def visible_text(text: str) -> str:
    """User text with every character that is not printable (newlines, carriage returns, tabs,
    control and format characters such as ANSI escapes or right-to-left overrides, line and
    paragraph separators, lone surrogates) written as a visible escape like ``\\n`` or ``\\u2028``.
    Printable text in any script is kept as it is, so names stay readable."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def comment_text(text: str) -> str:
    """User text for a ``#`` comment: one line, whatever it holds."""
    return visible_text(text)


def docstring_text(text: str) -> str:
    """User text for the inside of a triple-quoted docstring: double quotes become single ones, so
    none can end it, and backslashes are doubled, so the docstring's value is the visible text and
    no escape is interpreted (a class docstring holding a lone surrogate would make the ``class``
    statement itself fail)."""
    return visible_text(text).replace("\\", "\\\\").replace('"', "'")


def string_literal(text: str) -> str:
    """User text as a Python string literal whose value is :func:`visible_text` (printing it can
    neither break a line nor send a terminal escape)."""
    return repr(visible_text(text))


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


def block_class_sources(plan: Plan, taken: set[str]) -> tuple[list[str], dict[int, str]]:
    """One class per distinct block inside (insides first, so each class is defined before use);
    two uses that plan to the same code share a class. Returns the sources and, per block step
    (by ``id``), its class name."""
    sources: list[str] = []
    names: dict[int, str] = {}
    by_body: dict[str, str] = {}

    def visit(p: Plan) -> None:
        for step in p.layers:
            if step.block is None:
                continue
            visit(step.block)
            block = step.node.params["block"]
            body = model_class_source(step.block, _CLASS_PLACEHOLDER, f"Block '{block}'", names)
            name = by_body.get(body)
            if name is None:
                name = class_identifier(block, fallback="Block", avoid=taken)
                k = 2
                while name in taken:
                    name, k = f"{class_identifier(block, fallback='Block')}{k}", k + 1
                taken.add(name)
                by_body[body] = name
                sources.append(body.replace(_CLASS_PLACEHOLDER, name, 1))
            names[id(step)] = name

    visit(plan)
    return sources, names


def model_class_source(plan: Plan, class_name: str, title: str, block_classes: dict[int, str] | None = None) -> str:
    lines = [f"class {class_name}(nn.Module):",
             f'    """{docstring_text(title)}: generated by DeepCanvas."""', "",
             "    def __init__(self) -> None:", "        super().__init__()"]
    for step in plan.layers:
        assert step.call is not None
        prefix, _, cls = step.call.cls.partition(".")
        ctor = f"nn.{cls}" if prefix == "nn" else cls
        args = ", ".join(f"{k}={v!r}" for k, v in step.call.kwargs.items())
        if step.block is not None:
            ctor, args = (block_classes or {})[id(step)], ""
        label = "" if step.node.name == step.name else f"{comment_text(step.node.name)}, "
        shape = str(step.output).replace("×", "x")
        lines.append(f"        self.{step.name} = {ctor}({args})  # {label}-> {shape}")
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


def build_script(target: Project | Network, network: str | None = None, seed: int = 0) -> tuple[Script, Plan, str]:
    net, title = _network(target, network)
    plan = build_plan(net)
    helpers = helper_sources(plan)
    helper_names = [h.split("(", 1)[0].removeprefix("class ") for h in helpers]
    class_name = class_identifier(title, avoid=helper_names)
    blocks, block_names = block_class_sources(plan, {*helper_names, class_name})
    script = Script()
    script.header = [
        f'"""{docstring_text(title)}: a PyTorch model exported from DeepCanvas.',
        "",
        "Needs only torch. Run it to build the model and print its output shape(s) for a random batch.",
        '"""',
    ]
    for line in ("from __future__ import annotations", "", "import math", "import torch", "from torch import nn"):
        script.add_import(line)
    script.sections += helpers
    script.sections += blocks
    script.sections.append(model_class_source(plan, class_name, title, block_names))
    script.sections.append(
        f"def build_model(seed: int = {seed!r}) -> {class_name}:\n"
        f'    """The model with the same initial weights DeepCanvas gives this seed."""\n'
        f"    torch.manual_seed(seed)\n"
        f"    return {class_name}()")
    script.sections.append(sample_inputs_source(plan))
    outs = ", ".join(string_literal(s.node.name) for s in plan.outputs)
    script.main = [
        "model = build_model().eval()",
        "with torch.no_grad():",
        "    result = model(*sample_inputs())",
        "results = result if isinstance(result, tuple) else (result,)",
        f"for name, value in zip([{outs}], results):",
        '    print(f"{name}: {tuple(value.shape)}")',
        'print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")',
    ]
    return script, plan, class_name


def export_python(target: Project | Network, network: str | None = None, seed: int = 0) -> str:
    """The script text for one network (the project's first by default)."""
    script, _, _ = build_script(target, network, seed)
    return script.render()
