"""torch.fx tracing and the recorded runs (ShapeProp-like) that give every traced value its shape.

The model runs on batches of two sizes (:data:`BATCHES`), so a value that follows the batch size
can be told from one that only happens to equal it.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

from graph.import_torch.report import TorchImportError

#: the two batch sizes the model runs with; a value equal to them in both runs is the batch size
BATCHES = (3, 5)
#: graph.torch_modules classes that exported scripts copy; they map back to their layers
OUR_CLASSES = ("Reshape", "GlobalAvgPool", "SequencePool", "RecurrentLayer", "Attention", "PositionalEncoding",
                "TransformerEncoderStack", "TransformerDecoderStack", "Add", "Multiply", "Concat", "ImportedOp")


def our_class(module: Any) -> str | None:
    """The graph.torch_modules class a module is (or a verbatim copy of, as exported scripts hold)."""
    from graph import torch_modules

    cls = type(module)
    name = cls.__name__
    if name not in OUR_CLASSES:
        return None
    ours = getattr(torch_modules, name)
    if cls is ours:
        return name
    try:
        same = _normalised(inspect.getsource(cls)) == _normalised(inspect.getsource(ours))
    except (OSError, TypeError):
        return None
    return name if same else None


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in textwrap.dedent(source).strip().splitlines())


#: tensor attributes a forward may branch on (`if input.is_cuda and self.ngpu > 1`): the import
#: traces and checks the model on the CPU, so they are answered there instead of becoming symbols
CPU_FACTS = {"is_cuda": False, "is_mps": False, "is_xpu": False, "is_meta": False, "is_sparse": False,
             "is_quantized": False, "is_nested": False, "is_mkldnn": False}
#: modules that stay one step (a leaf) whatever package they come from, by class name and the
#: attributes the mapping reads: torchvision's StochasticDepth and the many copies of it
LEAF_CLASSES = {"StochasticDepth": ("p", "mode")}
#: which tracer made the graph, for the report
FX = "torch.fx (DeepCanvas tracer)"


def is_named_leaf(module: Any) -> bool:
    attrs = LEAF_CLASSES.get(type(module).__name__)
    return attrs is not None and all(hasattr(module, a) for a in attrs)


def _make_tracer(leaves: set[str]) -> Any:
    """A torch.fx tracer of our own: our exported classes, named leaves and the submodules in
    ``leaves`` stay single steps; CPU facts about tensors are answered instead of traced."""
    import torch.fx

    class Proxy(torch.fx.Proxy):
        def __getattr__(self, name: str) -> Any:
            if name in CPU_FACTS:
                return CPU_FACTS[name]
            return super().__getattr__(name)

    class Tracer(torch.fx.Tracer):
        def __init__(self) -> None:
            super().__init__()
            self.record_stack_traces = True  # import errors name the model's own line
            # buffers become traced values, so `self.pe[:x.size(0)]` slices by a traced size
            self.proxy_buffer_attributes = True

        def proxy(self, node: Any) -> Any:
            return Proxy(node, self)

        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return (our_class(m) is not None or is_named_leaf(m) or qualname in leaves
                    or super().is_leaf_module(m, qualname))

    return Tracer()


class _SizedLen:
    """``len(x)`` while tracing: the size of a symbolic tensor's first dimension as a traced
    ``x.size(0)``; any other value gets the builtin ``len``."""

    def __call__(self, value: Any) -> Any:
        import torch.fx

        if isinstance(value, torch.fx.Proxy):
            return value.size(0)
        return len(value)


def _patch_len(model: Any) -> list[tuple[dict, bool, Any]]:
    """Give the Python modules that define the model's classes a tracing ``len`` (fx refuses the
    builtin on symbolic tensors); :func:`_unpatch_len` puts back what was there."""
    import types

    patched: list[tuple[dict, bool, Any]] = []
    seen: set[int] = set()
    for m in model.modules():
        for cls in type(m).__mro__:
            if cls.__module__.split(".")[0] in ("torch", "builtins"):
                continue
            for fn in vars(cls).values():
                space = getattr(fn, "__globals__", None) if isinstance(fn, types.FunctionType) else None
                if space is None or id(space) in seen:
                    continue
                seen.add(id(space))
                patched.append((space, "len" in space, space.get("len")))
                space["len"] = _SizedLen()
    return patched


def _unpatch_len(patched: list[tuple[dict, bool, Any]]) -> None:
    for space, had, old in reversed(patched):
        if had:
            space["len"] = old
        else:
            space.pop("len", None)


def user_line(tb: Any) -> str | None:
    """``file.py:12: code`` for the innermost frame of a traceback that is the model's own code
    (not torch's, not DeepCanvas's)."""
    import traceback

    found = None
    for frame in traceback.extract_tb(tb):
        if _is_user_file(frame.filename):
            found = f"{frame.filename}:{frame.lineno}" + (f": {frame.line.strip()}" if frame.line else "")
    return found


def _is_user_file(filename: str) -> bool:
    from pathlib import Path

    parts = Path(filename).parts
    here = Path(__file__).resolve().parents[1]
    return ("torch" not in parts and not filename.startswith("<") and "site-packages" not in parts
            and not Path(filename).resolve().is_relative_to(here))


def node_line(n: Any) -> str | None:
    """``file.py:12: code`` of the model's line that made a traced step (fx records stack traces)."""
    text = n.meta.get("stack_trace") if hasattr(n, "meta") else None
    if not text:
        return None
    lines = text.strip().splitlines()
    found = None
    for i, line in enumerate(lines):
        line = line.strip()
        if line.startswith('File "'):
            filename, _, rest = line[6:].partition('", line ')
            lineno = rest.split(",")[0]
            if _is_user_file(filename):
                code = lines[i + 1].strip() if i + 1 < len(lines) and not lines[i + 1].strip().startswith("File") \
                    else ""
                found = f"{filename}:{lineno}" + (f": {code}" if code else "")
    return found


def _failing_submodule(model: Any, tb: Any) -> str | None:
    """The qualified name of the innermost submodule (not the model itself) whose forward was
    running when tracing failed, from the ``self`` of the traceback's frames."""
    import torch

    names = {id(m): name for name, m in model.named_modules() if name}
    found = None
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, torch.nn.Module) and id(owner) in names and _is_user_file(tb.tb_frame.f_code.co_filename):
            found = names[id(owner)]
        tb = tb.tb_next
    return found


def trace(model: Any) -> tuple[Any, str, list[str]]:
    """(graph module, the tracer used, notes). A submodule that fx cannot follow is tried as one
    step (an imported op, when it is a torch.nn module DeepCanvas can rebuild)."""
    import torch.fx

    leaves: set[str] = set()
    notes: list[str] = []
    while True:
        tracer = _make_tracer(leaves)
        patched = _patch_len(model)
        try:
            graph = tracer.trace(model)
            break
        except Exception as exc:
            tb = exc.__traceback__
            culprit = _failing_submodule(model, tb)
            if culprit is not None and culprit not in leaves and len(leaves) < 16:
                leaves.add(culprit)
                where = user_line(tb)
                notes.append(f"'{culprit}' ({type(model.get_submodule(culprit)).__name__}) cannot be traced "
                             f"({_first_line(exc)}{f' at {where}' if where else ''}); it is kept as one step")
                continue
            where = user_line(tb)
            raise TorchImportError(
                f"{type(model).__name__} cannot be traced with torch.fx ({type(exc).__name__}: {_first_line(exc)})"
                f"{f' at {where}' if where else ''}. torch.fx records the forward once with symbolic tensors, so "
                f"it cannot follow Python decisions on tensor values (`if x.sum() > 0`), loops over a tensor, "
                f"or calls into numpy; move such code out of forward.") from None
        finally:
            _unpatch_len(patched)
    gm = torch.fx.GraphModule(tracer.root, graph)
    # unpacking leaves unused steps (`_, (h, _) = self.lstm(x)`); only what reaches the output counts
    gm.graph.eliminate_dead_code()
    gm.recompile()
    return gm, FX, notes


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def rebatch(tensor: Any, size: int) -> Any:
    import torch

    return tensor[torch.arange(size) % tensor.shape[0]]


def run_recorded(gm: Any, inputs: list[Any], hint: str = "Check --input-shape (per sample, without the "
                                                              "batch).") -> dict[Any, Any]:
    import torch
    import torch.fx

    values: dict[Any, Any] = {}
    current: list[Any] = [None]

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            current[0] = n
            result = super().run_node(n)
            values[n] = result
            return result

    with torch.no_grad():
        try:
            Recorder(gm).run(*inputs)
        except Exception as exc:
            where = node_line(current[0]) if current[0] is not None else None
            raise TorchImportError(f"the model fails on the example input: {type(exc).__name__}: "
                                   f"{_first_line(exc)}{f' (at {where})' if where else ''}. {hint}") from None
    return values
