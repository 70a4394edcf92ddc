"""An existing PyTorch ``nn.Module`` -> a DeepCanvas project with its weights.

The model is traced with ``torch.fx`` and run twice on example batches of two sizes, which gives
every value's shape and tells which values follow the batch size. Each traced step then becomes:

- a registry layer with its params, when the module or function is one DeepCanvas draws (nn.Linear
  -> Dense, torch.cat -> Concat, view/reshape -> Reshape, ``x[:, -1]`` -> SequencePool, our own
  exported scripts' helper classes -> their layers, ...);
- nothing, when it only computes sizes (``x.size(0)``): the sizes become literals, the batch size
  the marker ``$N``;
- otherwise an ``ImportedOp`` node (graph/layers/opaque.py) that records the call by name with its
  literal arguments and traced shapes, clearly marked as imported code.

The result is checked before it is returned: the imported network must compile, take the model's
weights without a missing or extra tensor, and compute the same outputs on the example batch.
Nested modules are flattened into one network. torch is imported only when this module is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import logging
import math
import operator
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.builder import NetworkBuilder
from graph.document import Project
from graph.errors import GraphError
from graph.layers.opaque import MAX_TEXT, format_in_shapes, op_allowed
from graph.tensor_type import FLOAT, LONG, TensorType

log = logging.getLogger(__name__)

#: the two batch sizes the model runs with; a value equal to them in both runs is the batch size
BATCHES = (3, 5)
#: outputs of the imported network must agree with the model's within this (float32 rounding)
TOLERANCE = 1e-4
_DTYPES = {"torch.float32": FLOAT, "torch.int64": LONG, "torch.bool": "bool"}
_INPLACE = {"iadd": "add", "isub": "sub", "imul": "mul", "itruediv": "truediv", "ifloordiv": "floordiv",
            "imod": "mod", "ipow": "pow", "imatmul": "matmul", "iand": "and_", "ior": "or_", "ixor": "xor"}
#: graph.torch_modules classes that exported scripts copy; they map back to their layers
_OUR_CLASSES = ("Reshape", "GlobalAvgPool", "SequencePool", "RecurrentLayer", "Attention", "PositionalEncoding",
                "TransformerEncoderStack", "TransformerDecoderStack", "Add", "Multiply", "Concat", "ImportedOp")


class TorchImportError(GraphError):
    """The model cannot be imported; the message says which part and why."""


@dataclass
class ImportReport:
    project: Project
    #: the network's state dict, keyed like the compiled network's
    weights: dict[str, Any]
    source: str
    mapped: list[tuple[str, str]] = field(default_factory=list)       # (node name, layer type)
    opaque: list[tuple[str, str]] = field(default_factory=list)       # (node name, why)
    warnings: list[str] = field(default_factory=list)
    params_source: int = 0
    params_imported: int = 0
    max_difference: float = 0.0

    def format(self) -> str:
        lines = [f"imported {self.source}: {len(self.mapped)} layer node(s), {len(self.opaque)} imported op(s)"]
        counts: dict[str, int] = {}
        for _, type_id in self.mapped:
            counts[type_id] = counts.get(type_id, 0) + 1
        if counts:
            lines.append("  layers: " + ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in counts.items()))
        for name, why in self.opaque:
            lines.append(f"  imported op '{name}': {why}")
        lines.append(f"  parameters: {self.params_imported:,} (model: {self.params_source:,})")
        lines.append(f"  outputs match the model's (largest difference {self.max_difference:.2g})")
        lines += [f"  note: {w}" for w in self.warnings]
        return "\n".join(lines)


# -- finding the model and its example input --------------------------------------------------------
def load_target(target: str, kwargs: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """``MODULE:CLASS`` -> (model instance, Python module). MODULE is a dotted import path or a
    ``.py`` file; CLASS an nn.Module subclass (or a function returning a module) called with
    ``kwargs``."""
    import torch

    module_text, sep, class_name = target.rpartition(":")
    if not sep or not module_text or not class_name:
        raise TorchImportError(f"{target!r} is not MODULE:CLASS: write e.g. my_models.py:LeNet or "
                               f"package.models:LeNet")
    pymod = _import_module(module_text)
    obj = getattr(pymod, class_name, None)
    if obj is None:
        classes = sorted(n for n, v in vars(pymod).items()
                         if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == pymod.__name__)
        hint = f"; it defines {', '.join(classes)}" if classes else "; it defines no nn.Module class"
        raise TorchImportError(f"{module_text} has no {class_name!r}{hint}")
    if not callable(obj):
        raise TorchImportError(f"{module_text}:{class_name} is not a class or function")
    try:
        model = obj(**(kwargs or {}))
    except Exception as exc:
        raise TorchImportError(f"{class_name}({_kwargs_text(kwargs)}) failed: {type(exc).__name__}: {exc}. "
                               f"Pass its constructor arguments with --kwargs JSON.") from None
    if not isinstance(model, torch.nn.Module):
        raise TorchImportError(f"{module_text}:{class_name} gave a {type(model).__name__}, not a torch.nn.Module")
    return model, pymod


def _kwargs_text(kwargs: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in (kwargs or {}).items())


def _import_module(text: str) -> Any:
    path = Path(text)
    if text.endswith(".py") or path.suffix == ".py" or path.is_file():
        if not path.is_file():
            raise TorchImportError(f"no such Python file: {path}")
        name = f"_deepcanvas_import_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise TorchImportError(f"{path} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise TorchImportError(f"running {path} failed: {type(exc).__name__}: {exc}") from None
        return module
    try:
        return importlib.import_module(text)
    except ModuleNotFoundError as exc:
        raise TorchImportError(f"no module named {exc.name!r} (give a dotted module path on the Python path, "
                               f"or a path to a .py file)") from None
    except Exception as exc:
        raise TorchImportError(f"importing {text} failed: {type(exc).__name__}: {exc}") from None


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """``1,28,28`` -> [(1, 28, 28)]; several inputs are separated by ``;`` (``20;20``)."""
    shapes = []
    for part in text.split(";"):
        try:
            dims = tuple(int(d) for d in re.split(r"[,x× ]+", part.strip()) if d)
        except ValueError:
            raise TorchImportError(f"input shape {part.strip()!r} is not whole numbers such as 1,28,28") from None
        if not dims or any(d < 1 for d in dims):
            raise TorchImportError(f"input shape {part.strip()!r} needs positive sizes such as 1,28,28 "
                                   f"(per sample, without the batch)")
        shapes.append(dims)
    return shapes


def example_inputs(pymod: Any, shapes: Sequence[tuple[int, ...]] | None = None,
                   dtypes: Sequence[str] | None = None) -> list[Any]:
    """Per-sample shapes (and dtypes) when given, else the module's own ``sample_inputs()``."""
    import torch

    if shapes:
        dtypes = list(dtypes or [FLOAT])
        if len(dtypes) == 1:
            dtypes = dtypes * len(shapes)
        if len(dtypes) != len(shapes):
            raise TorchImportError(f"{len(shapes)} input shape(s) but {len(dtypes)} dtype(s)")
        gen = torch.Generator().manual_seed(0)
        out = []
        for shape, dtype in zip(shapes, dtypes, strict=True):
            if dtype not in (FLOAT, LONG):
                raise TorchImportError(f"dtype {dtype!r} is not float32 or int64")
            if dtype == LONG:  # token ids: 0 and 1 fit every embedding
                out.append(torch.randint(0, 2, (2, *shape), generator=gen))
            else:
                out.append(torch.randn((2, *shape), generator=gen))
        return out
    fn = getattr(pymod, "sample_inputs", None)
    if not callable(fn):
        raise TorchImportError("the module defines no sample_inputs(): give the input shape, e.g. "
                               "--input-shape 1,28,28 (and --dtype int64 for token ids)")
    try:
        try:
            value = fn(batch_size=2)
        except TypeError:
            value = fn()
    except Exception as exc:
        raise TorchImportError(f"sample_inputs() failed: {type(exc).__name__}: {exc}") from None
    items = [value] if isinstance(value, torch.Tensor) else list(value) if isinstance(value, list | tuple) else None
    if not items or not all(isinstance(t, torch.Tensor) and t.dim() >= 1 for t in items):
        raise TorchImportError("sample_inputs() must return a tensor or a list of batched tensors")
    return items


# -- tracing ---------------------------------------------------------------------------------------
def _our_class(module: Any) -> str | None:
    """The graph.torch_modules class a module is (or a verbatim copy of, as exported scripts hold)."""
    from graph import torch_modules

    cls = type(module)
    name = cls.__name__
    if name not in _OUR_CLASSES:
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


def _trace(model: Any) -> Any:
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return _our_class(m) is not None or super().is_leaf_module(m, qualname)

    tracer = Tracer()
    try:
        graph = tracer.trace(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TorchImportError(
            f"{type(model).__name__} cannot be traced with torch.fx ({type(exc).__name__}: {first}). torch.fx "
            f"records the forward once with symbolic tensors, so it cannot follow Python decisions on tensor "
            f"values (`if x.sum() > 0`), loops over a tensor, or calls into numpy; move such code out of "
            f"forward.") from None
    gm = torch.fx.GraphModule(tracer.root, graph)
    # unpacking leaves unused steps (`_, (h, _) = self.lstm(x)`); only what reaches the output counts
    gm.graph.eliminate_dead_code()
    gm.recompile()
    return gm


def _rebatch(tensor: Any, size: int) -> Any:
    import torch

    return tensor[torch.arange(size) % tensor.shape[0]]


def _run(gm: Any, inputs: list[Any]) -> dict[Any, Any]:
    import torch
    import torch.fx

    values: dict[Any, Any] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            result = super().run_node(n)
            values[n] = result
            return result

    with torch.no_grad():
        try:
            Recorder(gm).run(*inputs)
        except Exception as exc:
            raise TorchImportError(f"the model fails on the example input: {type(exc).__name__}: {exc}. "
                                   f"Check --input-shape (per sample, without the batch).") from None
    return values


# -- the conversion ----------------------------------------------------------------------------------
@dataclass
class _Source:
    node_id: str
    type: TensorType


@dataclass
class _Tuple:
    """A traced value that is a tuple (an RNN's (output, state), torch.max's (values, indices)):
    what it becomes is decided by the getitem that reads it."""
    fx_node: Any
    path: tuple[int, ...] = ()


class _Unsupported(Exception):
    """A module or call that has no registry layer in this form; it becomes an imported op."""


class _Converter:
    def __init__(self, model: Any, gm: Any, values: tuple[dict, dict], name: str) -> None:
        self.model = model
        self.gm = gm
        self.v1, self.v2 = values
        self.builder = NetworkBuilder("main")
        self.net = self.builder.network
        self.env: dict[Any, Any] = {}
        self.report_mapped: list[tuple[str, str]] = []
        self.report_opaque: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        #: node id -> (prefix inside the compiled node's module, state dict of the source module)
        self.states: dict[str, tuple[str, dict[str, Any]]] = {}
        self.used_modules: dict[int, str] = {}
        self.name = name
        self.live = self._live_nodes()

    # .. helpers ........................................................................
    def _live_nodes(self) -> set:
        live = set()
        for n in self.gm.graph.nodes:
            if n.op == "placeholder" or any(a in live for a in n.all_input_nodes):
                live.add(n)
        return live

    def tensor_type(self, n: Any, index: tuple[int, ...] = ()) -> TensorType:
        import torch

        a, b = self.v1[n], self.v2[n]
        for i in index:
            a, b = a[i], b[i]
        if not isinstance(a, torch.Tensor):
            raise TorchImportError(f"step '{n.name}' gives a {type(a).__name__} where a tensor was expected")
        dtype = _DTYPES.get(str(a.dtype))
        if dtype is None:
            raise TorchImportError(f"step '{n.name}' makes a {str(a.dtype).removeprefix('torch.')} tensor; "
                                   f"DeepCanvas networks carry float32, int64 and bool tensors: convert it "
                                   f"in the model (e.g. .float())")
        batched = (n in self.live and a.dim() >= 1 and b.dim() == a.dim() and a.shape[0] == BATCHES[0]
                   and b.shape[0] == BATCHES[1] and tuple(a.shape[1:]) == tuple(b.shape[1:]))
        return TensorType((None, *a.shape[1:]) if batched else tuple(a.shape), dtype)

    def literal(self, n: Any, a: Any, b: Any) -> Any:
        """A non-tensor traced value as JSON, or the batch marker where it follows the batch size."""
        import torch

        if isinstance(a, torch.Size):
            a, b = tuple(a), tuple(b)
        if isinstance(a, bool) or a is None or isinstance(a, str):
            if a != b:
                raise self._varies(n)
            return ("$$" + a) if isinstance(a, str) and a.startswith("$") else a
        if isinstance(a, int):
            if a == b:
                return a
            if (a, b) == BATCHES:
                return "$N"
            raise self._varies(n)
        if isinstance(a, float):
            if a != b and not (math.isnan(a) and math.isnan(b)):
                raise self._varies(n)
            if math.isnan(a):
                return "$nan"
            return a if math.isfinite(a) else ("$inf" if a > 0 else "$-inf")
        if isinstance(a, tuple | list) and isinstance(b, tuple | list) and len(a) == len(b):
            return [self.literal(n, x, y) for x, y in zip(a, b, strict=True)]
        if isinstance(a, slice):
            return {"$slice": [self.literal(n, a.start, b.start), self.literal(n, a.stop, b.stop),
                               self.literal(n, a.step, b.step)]}
        if a is Ellipsis:
            return "$..."
        if isinstance(a, torch.dtype):
            return f"$dtype:{str(a).removeprefix('torch.')}"
        if isinstance(a, torch.device):
            return "$device"
        raise TorchImportError(f"step '{n.name}' passes a {type(a).__name__} value, which DeepCanvas cannot "
                               f"record")

    def _varies(self, n: Any) -> TorchImportError:
        return TorchImportError(f"step '{n.name}' ({_describe(n)}) computes a number from the data or from the "
                                f"batch size in a way DeepCanvas cannot record: compute it from per-sample "
                                f"sizes, or use x.shape[0] for the batch")

    def add_node(self, type_id: str, inputs: list[_Source], name: str, params: dict[str, Any],
                 ports: list[str] | None = None) -> str:
        node = self.net.add_node(type_id, params, name=self.net.unique_name(name[:90] or type_id))
        spec = node.spec
        if spec.is_merge:
            for src in inputs:
                self.net.connect(src.node_id, node.id, "out", spec.inputs[0].name)
        else:
            for port, src in zip(ports or [p.name for p in spec.inputs], inputs, strict=False):
                self.net.connect(src.node_id, node.id, "out", port)
        return node.id

    def mapped(self, n: Any, type_id: str, inputs: list[_Source], params: dict[str, Any], name: str | None = None,
               state: tuple[str, Any] | None = None, ports: list[str] | None = None) -> _Source:
        node_id = self.add_node(type_id, inputs, name or n.name, params, ports)
        if state is not None:
            prefix, module = state
            self.states[node_id] = (prefix, dict(module.state_dict()))
        self.report_mapped.append((self.net.node(node_id).name, type_id))
        return _Source(node_id, self.tensor_type(n))

    def source(self, arg: Any, n: Any) -> _Source:
        value = self.env.get(arg) if hasattr(arg, "op") else None
        if not isinstance(value, _Source):
            raise TorchImportError(f"step '{n.name}' ({_describe(n)}) expects a tensor from '{getattr(arg, 'name', arg)}'")
        return value

    def is_tensor_arg(self, arg: Any) -> bool:
        return hasattr(arg, "op") and isinstance(self.env.get(arg), _Source)

    # .. the walk ........................................................................
    def convert(self) -> None:
        import torch

        for n in self.gm.graph.nodes:
            if n.op == "placeholder":
                self.env[n] = self.placeholder(n)
            elif n.op == "output":
                self.output(n)
            elif n.op == "get_attr":
                self.env[n] = self.stored_tensor(n) if isinstance(self.v1[n], torch.Tensor) else \
                    self.literal(n, self.v1[n], self.v2[n])
            elif isinstance(self.v1.get(n), torch.Tensor) or self._tuple_of_tensors(self.v1.get(n)):
                self.env[n] = self.call(n)
            else:
                self.env[n] = self.literal(n, self.v1[n], self.v2[n])

    @staticmethod
    def _tuple_of_tensors(value: Any) -> bool:
        import torch

        if isinstance(value, tuple | list) and value:
            return any(isinstance(v, torch.Tensor) or _Converter._tuple_of_tensors(v) for v in value)
        return False

    def placeholder(self, n: Any) -> Any:
        import torch

        value = self.v1.get(n)
        if not isinstance(value, torch.Tensor):
            return self.literal(n, value, self.v2.get(n))
        t = self.tensor_type(n)
        if t.dtype not in (FLOAT, LONG) or t.shape[:1] != (None,) or t.rank < 2:
            raise TorchImportError(f"input '{n.name}' is a {t} {t.dtype} tensor; DeepCanvas inputs are batched "
                                   f"float32 or int64 tensors with at least one per-sample dimension")
        node_id = self.builder.input(t.shape[1:], t.dtype, name=n.name)
        return _Source(node_id, t)

    def output(self, n: Any) -> None:
        result = n.args[0]
        items = list(result) if isinstance(result, tuple | list) else [result]
        if isinstance(result, dict):
            raise TorchImportError("forward returns a dict; DeepCanvas networks return tensors (or a tuple)")
        for i, item in enumerate(items):
            src = self.source(item, n)
            name = "output" if len(items) == 1 else f"output_{i + 1}"
            self.builder.output(src.node_id, name=name)

    def stored_tensor(self, n: Any) -> _Source:
        """A parameter or buffer the forward reads directly (``self.cls_token``): one ImportedOp
        holding it, so it keeps its value and trains like the original."""
        import torch

        value = self.v1[n]
        owner_path, _, attr = n.target.rpartition(".")
        owner = self.model.get_submodule(owner_path) if owner_path else self.model
        trainable = isinstance(getattr(owner, attr, None), torch.nn.Parameter)
        init = {"shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch."), "trainable": trainable}
        t = self.tensor_type(n)
        node_id = self.add_node("ImportedOp", [], n.target, {
            "op": "tensor", "args": "[]", "kwargs": "{}", "init": _json(init, n), "pick": -1, "in_shapes": "",
            "out_shape": tuple(t.shape), "out_dtype": t.dtype, "batched": False,
            "param_count": value.numel() if trainable else 0})
        self.states[node_id] = ("", {"value": value.detach().clone()})
        self.report_opaque.append((self.net.node(node_id).name, f"the model's own tensor {n.target}"))
        return _Source(node_id, t)

    def call(self, n: Any) -> Any:
        if n.op == "call_module":
            module = self.gm.get_submodule(n.target)
            if isinstance(self.v1[n], tuple | list):
                return _Tuple(n)
            if type(module).__name__ == "Identity" and len(n.args) == 1:
                return self.source(n.args[0], n)
            try:
                return self.map_module(n, module)
            except _Unsupported as why:
                return self.opaque_module(n, module, str(why))
        if n.op in ("call_function", "call_method") and _is_getitem(n):
            holder = self.env.get(n.args[0])
            if isinstance(holder, _Tuple):
                return self.pick(n, holder, n.args[1])
        if isinstance(self.v1[n], tuple | list):
            return _Tuple(n)
        found = self.map_function(n)
        if found is not None:
            return found
        return self.opaque_call(n)

    # .. tuples: recurrent layers, attention, multi-output functions ............................
    def pick(self, n: Any, holder: _Tuple, index: Any) -> Any:
        import torch

        base = holder.fx_node
        if not isinstance(index, int):
            raise TorchImportError(f"step '{n.name}' indexes the tuple from '{base.name}' with {index!r}")
        path = (*holder.path, index)
        value = self.v1[base]
        for i in path:
            value = value[i]
        if not isinstance(value, torch.Tensor):
            return _Tuple(base, path)
        if base.op == "call_module":
            module = self.gm.get_submodule(base.target)
            kind = type(module).__name__
            if kind in ("LSTM", "GRU", "RNN") and _maps_recurrent(module):
                return self.recurrent(n, base, module, path)
            if kind == "MultiheadAttention" and path == (0,):
                try:
                    return self.attention(n, base, module)
                except _Unsupported as why:
                    return self.opaque_module(base, module, str(why), pick=0, value_node=n)
            return self.opaque_module(base, module, f"{kind} returns several values", pick=path, value_node=n)
        return self.opaque_call(base, pick=path, value_node=n)

    def recurrent(self, n: Any, base: Any, module: Any, path: tuple[int, ...]) -> Any:
        kind = type(module).__name__
        if path == (0,):
            return self._recurrent_node(n, base, module, "sequence")
        hidden = (1, 0) if kind == "LSTM" else (1,)
        if path == hidden:
            return _Tuple(base, path)  # h_n: waits for the [-1] that picks the last layer's state
        last_layer = module.num_layers - 1
        if path[:-1] == hidden and path[-1] in (-1, last_layer) and not module.bidirectional:
            # the last layer's final state of a one-directional stack is the output's last step
            return self._recurrent_node(n, base, module, "last")
        raise TorchImportError(f"step '{n.name}' reads the {kind} '{base.target}''s cell state or its states in "
                               f"a form DeepCanvas's {kind} does not give (it passes on the output sequence or "
                               f"the last step)")

    def _recurrent_node(self, n: Any, base: Any, module: Any, output: str) -> _Source:
        kind = type(module).__name__
        if id(module) in self.used_modules:
            raise TorchImportError(f"the {kind} '{base.target}' is read twice (its output and its state, or "
                                   f"called twice); DeepCanvas makes one node per layer: read one of them")
        self.used_modules[id(module)] = base.target
        params = {"hidden_size": module.hidden_size, "num_layers": module.num_layers,
                  "bidirectional": module.bidirectional, "dropout": float(module.dropout), "output": output}
        src = self.source(base.args[0], base)
        return self.mapped(n, kind, [src], params, name=base.target, state=("rnn.", module))

    def attention(self, n: Any, base: Any, module: Any) -> _Source:
        args = list(base.args) + [None] * 3
        names = ("query", "key", "value")
        kw = dict(base.kwargs)
        for i, key in enumerate(names):
            if key in kw:
                args[i] = kw.pop(key)
        for key, value in kw.items():
            if key == "need_weights" or value is None or value is False:
                continue
            raise _Unsupported(f"called with {key}")
        if not module.batch_first or module.bias_k is not None or module.add_zero_attn:
            raise _Unsupported("not batch-first or with extra key/value biases")
        q, k, v = args[:3]
        wired = [q] if (k is q or k is None) and (v is k or v is None) else [q, k] if v is k else [q, k, v]
        inputs = [self.source(a, base) for a in wired]
        params = {"num_heads": module.num_heads, "dropout": float(module.dropout),
                  "bias": module.in_proj_bias is not None, "causal": False}
        return self.mapped(n, "MultiheadAttention", inputs, params, name=base.target, state=("attn.", module),
                           ports=list(names[:len(inputs)]))

    # .. modules ...........................................................................
    def map_module(self, n: Any, m: Any) -> _Source:
        ours = _our_class(m)
        if ours is not None:
            return self.our_module(n, m, ours)
        kind = type(m).__name__
        if type(m).__module__.split(".")[:2] != ["torch", "nn"]:
            raise _Unsupported(f"{kind} is not a torch.nn module")
        args = [a for a in n.args]
        if len(args) != 1 or n.kwargs or not self.is_tensor_arg(args[0]):
            if kind in ("TransformerEncoder", "TransformerEncoderLayer"):
                return self.encoder(n, m)
            raise _Unsupported(f"{kind} called with extra arguments")
        src = self.source(args[0], n)
        spec = _module_layer(m, self.tensor_type(n), src.type)
        if spec is None:
            if kind in ("TransformerEncoder", "TransformerEncoderLayer"):
                return self.encoder(n, m)
            raise _Unsupported(f"DeepCanvas has no layer for {kind} in this form")
        type_id, params, with_state = spec
        if kind == "Embedding" and m.padding_idx is not None:
            self.warnings.append(f"Embedding '{n.target}' had padding_idx={m.padding_idx}; the imported layer "
                                 f"computes the same but also trains that row")
        return self.mapped(n, type_id, [src], params, name=n.target, state=("", m) if with_state else None)

    def encoder(self, n: Any, m: Any) -> _Source:
        import torch

        for key, value in n.kwargs.items():
            if value is not None and value is not False and key not in ("src_key_padding_mask",):
                raise _Unsupported(f"called with {key}")
        if len(n.args) != 1 or n.kwargs.get("src_key_padding_mask") is not None:
            raise _Unsupported("called with a mask")
        layers = list(m.layers) if isinstance(m, torch.nn.TransformerEncoder) else [m]
        if isinstance(m, torch.nn.TransformerEncoder) and m.norm is not None:
            raise _Unsupported("has a final norm")
        first = layers[0]
        params = _encoder_params(first)
        if params is None or any(_encoder_params(layer) != params for layer in layers):
            raise _Unsupported("its layers differ from DeepCanvas's (post/pre-norm, relu/gelu, eps 1e-5, "
                               "batch-first)")
        params["num_layers"] = len(layers)
        prefix = "layers." if isinstance(m, torch.nn.TransformerEncoder) else "layers.layers.0."
        src = self.source(n.args[0], n)
        return self.mapped(n, "TransformerEncoder", [src], params, name=n.target, state=(prefix, m))

    def our_module(self, n: Any, m: Any, cls: str) -> _Source:
        inputs = [self.source(a, n) for a in n.args if a is not None]
        if n.kwargs:
            raise TorchImportError(f"'{n.target}' ({cls}) is called with keyword arguments")
        state = ("", m)
        if cls == "Reshape":
            return self.mapped(n, "Reshape", inputs, {"shape": tuple(m.shape)}, n.target, state)
        if cls in ("GlobalAvgPool", "Add", "Multiply"):
            return self.mapped(n, cls, inputs, {}, n.target, state)
        if cls == "Concat":
            return self.mapped(n, "Concat", inputs, {"dim": m.dim}, n.target, state)
        if cls == "SequencePool":
            return self.mapped(n, "SequencePool", inputs, {"mode": m.mode}, n.target, state)
        if cls == "RecurrentLayer":
            kind = type(m.rnn).__name__
            params = {"hidden_size": m.hidden_size, "num_layers": m.rnn.num_layers, "bidirectional": m.bidirectional,
                      "dropout": float(m.rnn.dropout), "output": "sequence" if m.return_sequence else "last"}
            return self.mapped(n, kind, inputs, params, n.target, state)
        if cls == "Attention":
            params = {"num_heads": m.attn.num_heads, "dropout": float(m.attn.dropout),
                      "bias": m.attn.in_proj_bias is not None, "causal": bool(m.causal)}
            return self.mapped(n, "MultiheadAttention", inputs, params, n.target, state,
                               ports=["query", "key", "value"][:len(inputs)])
        if cls == "PositionalEncoding":
            params = {"kind": m.kind, "max_len": int(m.table.shape[0]), "dropout": float(m.dropout.p)}
            return self.mapped(n, "PositionalEncoding", inputs, params, n.target, state)
        if cls in ("TransformerEncoderStack", "TransformerDecoderStack"):
            layers = list(m.layers.layers)
            params = _encoder_params(layers[0]) or {}
            params.update(num_layers=len(layers), causal=bool(m.causal))
            type_id = "TransformerEncoder" if cls == "TransformerEncoderStack" else "TransformerDecoder"
            return self.mapped(n, type_id, inputs, params, n.target, state)
        assert cls == "ImportedOp"
        return self.imported_again(n, m, inputs)

    def imported_again(self, n: Any, m: Any, inputs: list[_Source]) -> _Source:
        """An ImportedOp of a project exported earlier: the same op again, with fresh records."""
        init = {}
        if m.op == "tensor":
            init = {"shape": list(m.value.shape), "dtype": str(m.value.dtype).removeprefix("torch."),
                    "trainable": any(p is m.value for p in m.parameters())}
        elif m.op.startswith("nn."):
            init = _module_init(m.module) or {}
        t = self.tensor_type(n)
        params = _opaque_params(n, m.op, _to_json(m.args), _to_json(m.kwargs), init, m.pick, inputs, t,
                                sum(p.numel() for p in m.parameters()))
        node_id = self.add_node("ImportedOp", inputs, n.target, params)
        self.states[node_id] = ("", dict(m.state_dict()))
        self.report_opaque.append((self.net.node(node_id).name, f"imported op {m.op}"))
        return _Source(node_id, t)

    def opaque_module(self, n: Any, m: Any, why: str, pick: int | tuple[int, ...] = -1,
                      value_node: Any = None) -> _Source:
        import torch

        kind = type(m).__name__
        if getattr(torch.nn, kind, None) is not type(m):
            raise TorchImportError(f"'{n.target}' ({kind}) cannot be imported: {why}")
        if id(m) in self.used_modules:
            raise TorchImportError(f"module '{n.target}' ({kind}) is used twice; DeepCanvas makes one node per "
                                   f"layer and would duplicate its weights")
        init = _module_init(m)
        if init is None:
            raise TorchImportError(f"'{n.target}' ({kind}) cannot be imported: {why}, and its settings cannot be "
                                   f"read back to rebuild it")
        self.used_modules[id(m)] = n.target
        inputs, args, kwargs = self.encode_call(n)
        pick_index = _single_pick(pick, n)
        t = self.tensor_type(value_node or n, () if value_node is not None else ())
        params = _opaque_params(n, f"nn.{kind}", args, kwargs, init, pick_index, inputs, t,
                                sum(p.numel() for p in m.parameters()))
        node_id = self.add_node("ImportedOp", inputs, n.target, params)
        self.states[node_id] = ("module.", dict(m.state_dict()))
        self.report_opaque.append((self.net.node(node_id).name, f"torch.nn.{kind}: {why}"))
        return _Source(node_id, t)

    # .. functions and methods ..............................................................
    def map_function(self, n: Any) -> _Source | None:
        name = _function_name(n)
        if name is None:
            return None
        tensors = [a for a in n.args if self.is_tensor_arg(a)]
        out = self.tensor_type(n)
        if out.shape[:1] != (None,) or not tensors:
            return None
        first = self.env[n.args[0]] if self.is_tensor_arg(n.args[0]) else None
        kw = dict(n.kwargs)
        rest = list(n.args[1:])

        def arg(i: int, key: str, default: Any) -> Any:
            value = rest[i] if i < len(rest) else kw.get(key, default)
            return self.literal(n, value, value) if not hasattr(value, "op") else self.env.get(value)

        if first is None or first.type.shape[:1] != (None,):
            return None
        simple = {"relu": "ReLU", "silu": "SiLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}
        if name in simple and len(n.args) == 1 and set(kw) <= {"inplace"}:
            return self.mapped(n, simple[name], [first], {})
        if name == "gelu" and len(n.args) == 1 and kw.get("approximate", "none") == "none" and set(kw) <= {"approximate"}:
            return self.mapped(n, "GELU", [first], {})
        if name == "leaky_relu" and set(kw) <= {"negative_slope", "inplace"}:
            slope = arg(0, "negative_slope", 0.01)
            if isinstance(slope, float | int) and 0 <= slope <= 1:
                return self.mapped(n, "LeakyReLU", [first], {"negative_slope": float(slope)})
        if name in ("softmax", "log_softmax") and set(kw) <= {"dim"} and len(rest) <= 1:
            dim = arg(0, "dim", None)
            if isinstance(dim, int) and _feature_dim(first.type, dim):
                return self.mapped(n, "Softmax" if name == "softmax" else "LogSoftmax", [first], {"dim": dim})
        if name == "dropout" and set(kw) <= {"p", "training", "inplace"}:
            p = arg(0, "p", 0.5)
            if isinstance(p, float | int) and 0 <= p <= 0.99:
                return self.mapped(n, "Dropout", [first], {"p": float(p)})
        if name in ("add", "mul") and len(n.args) == 2 and not kw and len(tensors) == 2:
            a, b = (self.env[x] for x in n.args)
            if a.type == b.type == out:
                return self.mapped(n, "Add" if name == "add" else "Multiply", [a, b], {})
        if name in ("cat", "concat", "concatenate") and isinstance(n.args[0], list | tuple):
            items = list(n.args[0])
            dim = arg(0, "dim", 0)
            if (len(items) >= 2 and all(self.is_tensor_arg(x) for x in items) and isinstance(dim, int)
                    and set(kw) <= {"dim"}):
                srcs = [self.env[x] for x in items]
                if all(s.type.shape[:1] == (None,) for s in srcs) and _feature_dim(srcs[0].type, dim):
                    return self.mapped(n, "Concat", srcs, {"dim": dim})
        if name in ("flatten", "view", "reshape") and len(tensors) == 1:
            if name == "flatten" and arg(0, "start_dim", 0) == 1 and arg(1, "end_dim", -1) in (-1, first.type.rank - 1):
                return self.mapped(n, "Flatten", [first], {})
            if 1 <= out.rank - 1 <= 8 and all(d >= 1 for d in out.shape[1:]) and out.dtype == first.type.dtype:
                return self.mapped(n, "Reshape", [first], {"shape": tuple(out.shape[1:])})
        if name in ("mean", "amax") and len(tensors) == 1 and first.type.rank >= 3:
            dims = arg(0, "dim", None)
            dims = [dims] if isinstance(dims, int) else dims
            if isinstance(dims, list) and not arg(1, "keepdim", False) and set(kw) <= {"dim", "keepdim"}:
                rank = first.type.rank
                norm = sorted(d % rank for d in dims)
                if norm == [1] and rank == 3:
                    return self.mapped(n, "SequencePool", [first], {"mode": "mean" if name == "mean" else "max"})
                if name == "mean" and norm == list(range(2, rank)):
                    return self.mapped(n, "GlobalAvgPool", [first], {})
        if name == "getitem" and first.type.rank == 3 and isinstance(n.args[1], tuple) and not _has_node(n.args[1]):
            index = self.literal(n, n.args[1], n.args[1])
            full = {"$slice": [None, None, None]}
            if index and index[0] == full and len(index) in (2, 3) and index[1] in (0, -1, first.type.shape[1] - 1) \
                    and (len(index) == 2 or index[2] in (full, "$...")):
                return self.mapped(n, "SequencePool", [first], {"mode": "first" if index[1] == 0 else "last"})
        return None

    def encode_call(self, n: Any) -> tuple[list[_Source], list[Any], dict[str, Any]]:
        """The call's arguments as JSON with its tensors replaced by "$0", "$1"... in first-use order."""
        inputs: list[_Source] = []
        refs: dict[str, int] = {}

        def enc(value: Any) -> Any:
            if hasattr(value, "op"):
                held = self.env.get(value)
                if isinstance(held, _Source):
                    if held.node_id not in refs:
                        refs[held.node_id] = len(inputs)
                        inputs.append(held)
                    return f"${refs[held.node_id]}"
                if isinstance(held, _Tuple):
                    raise TorchImportError(f"step '{n.name}' ({_describe(n)}) uses a whole tuple from "
                                           f"'{value.name}'; DeepCanvas edges carry single tensors")
                return held
            if isinstance(value, tuple | list):
                return [enc(v) for v in value]
            if isinstance(value, dict):
                return {str(k): enc(v) for k, v in value.items()}
            return self.literal(n, value, value)

        args = [enc(a) for a in n.args]
        kwargs = {k: enc(v) for k, v in n.kwargs.items()}
        return inputs, args, kwargs

    def opaque_call(self, n: Any, pick: int | tuple[int, ...] = -1, value_node: Any = None) -> _Source:
        op = _qualified(n)
        if op is None or not op_allowed(op):
            raise TorchImportError(
                f"step '{n.name}' calls {op or _describe(n)}, which imported code may not run: imported ops are "
                f"limited to pure tensor operations of torch, torch.nn.functional, Tensor methods and operators. "
                f"Rewrite that step with allowed operations.")
        inputs, args, kwargs = self.encode_call(n)
        if op.startswith("Tensor.") and args and args[0] != "$0":
            raise TorchImportError(f"step '{n.name}' calls the method {op} on a value that is not a tensor")
        t = self.tensor_type(value_node or n)
        params = _opaque_params(n, op, args, kwargs, {}, _single_pick(pick, n), inputs, t, 0)
        node_id = self.add_node("ImportedOp", inputs, n.name, params)
        self.report_opaque.append((self.net.node(node_id).name, f"{op} has no DeepCanvas layer"))
        return _Source(node_id, t)


def _single_pick(pick: int | tuple[int, ...], n: Any) -> int:
    if isinstance(pick, int):
        return pick
    if len(pick) != 1:
        raise TorchImportError(f"step '{n.name}' reads a value nested inside a tuple; DeepCanvas can keep one "
                               f"element of a tuple result")
    return pick[0]


def _opaque_params(n: Any, op: str, args: Any, kwargs: Any, init: Any, pick: int, inputs: list[_Source],
                   out: TensorType, param_count: int) -> dict[str, Any]:
    params = {"op": op, "args": _json(args, n), "kwargs": _json(kwargs, n), "init": _json(init, n),
              "pick": pick, "in_shapes": format_in_shapes([s.type for s in inputs]),
              "out_shape": tuple(out.shape[1:]) if out.shape[:1] == (None,) else tuple(out.shape),
              "out_dtype": out.dtype, "batched": out.shape[:1] == (None,), "param_count": param_count}
    if len(params["in_shapes"]) > MAX_TEXT:
        raise TorchImportError(f"step '{n.name}' ({_describe(n)}) reads too many tensors to be recorded")
    if len(params["out_shape"]) > 8:
        raise TorchImportError(f"step '{n.name}' makes a tensor of more than 8 dimensions")
    return params


def _json(value: Any, n: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_TEXT:
        raise TorchImportError(f"step '{n.name}' ({_describe(n)}) has arguments too long to record "
                               f"({len(text)} characters, at most {MAX_TEXT})")
    return text


def _to_json(value: Any) -> Any:
    """An ImportedOp's decoded arguments back to their JSON form."""
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, slice):
        return {"$slice": [_to_json(value.start), _to_json(value.stop), _to_json(value.step)]}
    if value is Ellipsis:
        return "$..."
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _has_node(value: Any) -> bool:
    if hasattr(value, "op"):
        return True
    if isinstance(value, tuple | list):
        return any(_has_node(v) for v in value)
    if isinstance(value, slice):
        return any(_has_node(v) for v in (value.start, value.stop, value.step))
    return False


def _describe(n: Any) -> str:
    if n.op == "call_method":
        return f".{n.target}()"
    if n.op == "call_module":
        return f"module {n.target}"
    target = n.target
    return f"{getattr(target, '__module__', '') or ''}.{getattr(target, '__name__', target)}".lstrip(".")


def _is_getitem(n: Any) -> bool:
    return (n.op == "call_function" and n.target is operator.getitem) or (
        n.op == "call_method" and n.target == "__getitem__")


def _function_name(n: Any) -> str | None:
    """The plain name a call_function / call_method is known by (relu, add, cat, view, ...)."""
    op = _qualified(n)
    if op is None:
        return None
    name = op.split(".", 1)[1]
    return {"truediv": "div", "and_": "and", "concatenate": "cat", "concat": "cat"}.get(name, name)


def _qualified(n: Any) -> str | None:
    """``torch.cat``, ``F.relu``, ``Tensor.view``, ``operator.add`` for a traced call, if it is one."""
    import torch
    import torch.nn.functional as F

    if n.op == "call_method":
        return f"Tensor.{n.target}" if isinstance(n.target, str) else None
    if n.op != "call_function":
        return None
    target = n.target
    name = getattr(target, "__name__", None)
    if not isinstance(name, str):
        return None
    if getattr(target, "__module__", None) in ("_operator", "operator") and getattr(operator, name, None) is target:
        return f"operator.{_INPLACE.get(name, name)}"
    if getattr(F, name, None) is target:
        return f"F.{name}"
    if getattr(torch, name, None) is target:
        return f"torch.{name}"
    return None


def _feature_dim(t: TensorType, dim: int) -> bool:
    d = dim if dim >= 0 else t.rank + dim
    return 1 <= d < t.rank


def _maps_recurrent(m: Any) -> bool:
    return bool(m.batch_first and m.bias and getattr(m, "proj_size", 0) == 0
                and (type(m).__name__ != "RNN" or m.nonlinearity == "tanh"))


def _encoder_params(layer: Any) -> dict[str, Any] | None:
    """A Transformer layer's settings in TransformerEncoder/Decoder params, or None when DeepCanvas
    builds its layers differently."""
    import torch.nn.functional as F
    from torch import nn

    attn = layer.self_attn
    act = layer.activation
    code = 1 if act is F.relu or isinstance(act, nn.ReLU) else \
        2 if act is F.gelu or (isinstance(act, nn.GELU) and act.approximate == "none") else 0
    norms = [m for name, m in layer.named_children() if name.startswith("norm")]
    if (not attn.batch_first or code not in (1, 2) or layer.linear1.bias is None or attn.in_proj_bias is None
            or any(abs(m.eps - 1e-5) > 1e-12 or m.bias is None for m in norms)):
        return None
    return {"num_heads": attn.num_heads, "dim_feedforward": layer.linear1.out_features,
            "dropout": float(layer.dropout.p), "activation": "relu" if code == 1 else "gelu",
            "norm_first": bool(layer.norm_first), "causal": False}


def _ints(value: Any, nd: int) -> tuple[int, ...] | None:
    if isinstance(value, int):
        return (value,) * nd
    if isinstance(value, tuple | list) and len(value) == nd and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def _module_layer(m: Any, out: TensorType, inp: TensorType) -> tuple[str, dict[str, Any], bool] | None:
    """(layer type, params, carries weights) for a torch.nn module that a registry layer builds
    exactly, else None."""
    kind = type(m).__name__
    if inp.shape[:1] != (None,) or out.shape[:1] != (None,):
        return None
    if kind == "Linear":
        return "Dense", {"units": m.out_features, "bias": m.bias is not None}, True
    if kind in ("Conv1d", "Conv2d", "ConvTranspose2d"):
        nd = 1 if kind == "Conv1d" else 2
        padding = _ints(m.padding, nd)
        if padding is None or m.padding_mode != "zeros":
            return None
        params = {"filters": m.out_channels, "kernel_size": tuple(m.kernel_size), "stride": tuple(m.stride),
                  "padding": padding, "dilation": tuple(m.dilation), "groups": m.groups, "bias": m.bias is not None}
        if kind == "ConvTranspose2d":
            params["output_padding"] = tuple(m.output_padding)
        return kind, params, True
    if kind in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        nd = int(kind[-2])
        k, s, p = _ints(m.kernel_size, nd), _ints(m.stride if m.stride is not None else m.kernel_size, nd), \
            _ints(m.padding, nd)
        if None in (k, s, p) or m.ceil_mode:
            return None
        if kind.startswith("Max") and (_ints(m.dilation, nd) != (1,) * nd or m.return_indices):
            return None
        if kind.startswith("Avg") and (not m.count_include_pad or getattr(m, "divisor_override", None)):
            return None
        return kind, {"kernel_size": k, "stride": s, "padding": p}, False
    if kind in ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d"):
        size = _ints(m.output_size, int(kind[-2]))
        return (kind, {"output_size": size}, False) if size else None
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        if m.momentum is None or not m.track_running_stats:
            return None
        return kind, {"momentum": float(m.momentum), "eps": float(m.eps), "affine": bool(m.affine)}, True
    if kind == "LayerNorm":
        if len(m.normalized_shape) != 1 or (m.elementwise_affine and m.bias is None):
            return None
        return "LayerNorm", {"eps": float(m.eps), "elementwise_affine": bool(m.elementwise_affine)}, True
    if kind == "Dropout":
        return ("Dropout", {"p": float(m.p)}, False) if m.p <= 0.99 else None
    if kind in ("ReLU", "SiLU", "Sigmoid", "Tanh"):
        return kind, {}, False
    if kind == "GELU":
        return ("GELU", {}, False) if m.approximate == "none" else None
    if kind == "LeakyReLU":
        return ("LeakyReLU", {"negative_slope": float(m.negative_slope)}, False) if 0 <= m.negative_slope <= 1 else None
    if kind in ("Softmax", "LogSoftmax"):
        return (kind, {"dim": m.dim}, False) if isinstance(m.dim, int) and _feature_dim(inp, m.dim) else None
    if kind == "Flatten":
        if m.start_dim == 1 and m.end_dim in (-1, inp.rank - 1):
            return "Flatten", {}, False
        if 1 <= out.rank - 1 <= 8:
            return "Reshape", {"shape": tuple(out.shape[1:])}, False
        return None
    if kind == "Embedding":
        if m.max_norm is not None or m.scale_grad_by_freq or m.sparse:
            return None
        return "Embedding", {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}, True
    return None


def _module_init(m: Any) -> dict[str, Any] | None:
    """Constructor arguments that rebuild a torch.nn module, read back from its attributes
    (torch.nn modules keep most of them under the same names); None when one cannot be found."""
    import torch

    cls = type(m)
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return None
    init: dict[str, Any] = {}
    for name, p in list(signature.parameters.items())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in ("device", "dtype", "inplace"):
            continue
        if hasattr(m, name) and not isinstance(getattr(m, name), torch.Tensor | torch.nn.Module):
            value = getattr(m, name)
            value = list(value) if isinstance(value, tuple | torch.Size) else value
            if not _plain(value):
                return None
            if p.default is inspect.Parameter.empty or _differs(value, p.default):
                init[name] = value
        elif p.default is inspect.Parameter.empty:
            return None
    try:
        rebuilt = cls(**init)
    except Exception:
        return None
    own = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    if {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} != own:
        return None
    return init


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def _differs(value: Any, default: Any) -> bool:
    try:
        return bool(value != (list(default) if isinstance(default, tuple) else default))
    except Exception:
        return True


# -- the whole import ---------------------------------------------------------------------------
def import_model(model: Any, inputs: Sequence[Any], name: str | None = None, source: str | None = None) -> ImportReport:
    """Trace ``model`` on example ``inputs`` (batched tensors) into a project with its weights."""
    import torch

    from graph.compiler import compile_network

    model.eval()
    title = name or type(model).__name__
    gm = _trace(model)
    runs = tuple(_run(gm, [_rebatch(t, b) for t in inputs]) for b in BATCHES)
    conv = _Converter(model, gm, runs, title)  # type: ignore[arg-type]
    try:
        conv.convert()
    except GraphError as exc:
        if isinstance(exc, TorchImportError):
            raise
        raise TorchImportError(f"the traced model does not fit a DeepCanvas network: {exc}") from None
    project = conv.builder.project(title)
    net = project.main
    from graph.shapes import analyze

    problems = analyze(net).problems
    if problems:
        raise TorchImportError("the imported network has problems:\n" + "\n".join(f"- {p.message}" for p in problems))
    compiled = compile_network(net, seed=0)
    state: dict[str, Any] = {}
    for node_id, (prefix, tensors) in conv.states.items():
        code = compiled.node_names[node_id]
        for key, value in tensors.items():
            state[f"{code}.{prefix}{key}"] = value
    own = compiled.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or extra or wrong:
        raise TorchImportError(f"the model's weights do not fit the imported network (missing {missing[:3]}, "
                               f"unexpected {extra[:3]}, other shapes {wrong[:3]}); please report this model")
    compiled.load_state_dict(state, strict=True)
    compiled.eval()
    weights = {k: v.detach().clone() for k, v in compiled.state_dict().items()}
    sample = [_rebatch(t, BATCHES[0]) for t in inputs]
    with torch.no_grad():
        expected = _flat(model(*sample))
        got = _flat(compiled(*sample))
    if len(expected) != len(got):
        raise TorchImportError(f"the imported network returns {len(got)} value(s), the model {len(expected)}")
    diff = 0.0
    for a, b in zip(expected, got, strict=True):
        if a.shape != b.shape:
            raise TorchImportError(f"an imported output has shape {tuple(b.shape)}, the model's {tuple(a.shape)}")
        if a.numel():
            diff = max(diff, float((a.double() - b.double()).abs().max()))
    scale = max((float(a.double().abs().max()) for a in expected if a.numel()), default=1.0)
    if diff > TOLERANCE * max(1.0, scale):
        raise TorchImportError(f"the imported network computes different outputs than the model (largest "
                               f"difference {diff:.3g}); please report this model")
    report = ImportReport(project, weights, source or title, conv.report_mapped, conv.report_opaque, conv.warnings,
                          params_source=sum(p.numel() for p in model.parameters()),
                          params_imported=sum(p.numel() for p in compiled.parameters()), max_difference=diff)
    if report.params_source != report.params_imported:
        report.warnings.append(f"the model has {report.params_source:,} parameters, the import "
                               f"{report.params_imported:,} (weights shared between layers are now separate)")
    return report


def _flat(value: Any) -> list[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for v in value for t in _flat(v)]
    raise TorchImportError(f"forward returns a {type(value).__name__}; DeepCanvas networks return tensors")


def import_torch(target: str, input_shapes: Sequence[tuple[int, ...]] | None = None,
                 dtypes: Sequence[str] | None = None, kwargs: dict[str, Any] | None = None,
                 name: str | None = None) -> ImportReport:
    """``MODULE:CLASS`` -> an ImportReport (project, weights, summary)."""
    model, pymod = load_target(target, kwargs)
    inputs = example_inputs(pymod, input_shapes, dtypes)
    class_name = target.rpartition(":")[2]
    return import_model(model, inputs, name=name or class_name, source=target)


__all__ = ["ImportReport", "TorchImportError", "example_inputs", "import_model", "import_torch", "load_target",
           "parse_shapes"]
