"""The torch.export path: models torch.fx cannot trace are recorded with ``torch.export`` instead.

torch.fx runs the forward once on symbolic tensors, so it stops at a Python decision on a tensor's
value (``if x.sum() > 0:``, ``while y.abs().max() > 1:``) or at code it cannot follow. torch.export
(non-strict, through ``draft_export``) runs the forward on the example and records the ATen ops
with the branches the example takes; the batch dimension stays symbolic. Its graph is rewritten
here into the same kind of torch.fx graph our tracer makes, so the rest of the import (the recorded
runs, the converter's module and function tables, the nested blocks, the weight and output checks)
is shared:

- the ATen ops that ran inside one torch.nn leaf module (``nn.Linear``, ``nn.Conv2d``,
  ``nn.BatchNorm2d``, ...) called on one tensor become one ``call_module`` step on that module, so
  it maps to its layer with its weights as on the fx path;
- every other ATen op becomes the torch function, ``torch.nn.functional`` function or Tensor method
  it comes from (``aten.relu`` -> ``torch.relu``, ``aten.view`` -> ``Tensor.view``,
  ``aten.adaptive_avg_pool2d`` -> ``F.adaptive_avg_pool2d``), which the function table maps to a
  layer or records as an imported op by name; an op with no such name is refused with the model's
  source line;
- the checks torch.export inserts for the recorded branches are dropped, and the report says which
  lines were decided on the example.

Parameters reach the export as inputs (``torch.func.functional_call``), because draft_export's
value propagation does not see a module's own parameters' values, only its inputs' (with torch
2.13 it decides branches on uninitialised memory otherwise).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import operator
from collections.abc import Sequence
from typing import Any

from graph.import_torch.report import TorchImportError
from graph.import_torch.tracing import (
    BATCHES,
    is_named_leaf,
    node_line,
    our_class,
    rebatch,
    run_recorded,
    trace,
    user_line,
)

log = logging.getLogger(__name__)

#: which tracer made the graph, for the report
EXPORT = "torch.export"
#: ATen ops torch.export inserts to check its recorded assumptions at run time; the import drops them
#: (the report names the decisions instead)
CHECKS = ("_assert_scalar", "_assert_tensor_metadata", "sym_constrain_range", "sym_constrain_range_for_size",
          "_assert_async", "_functional_assert_async")
#: why an exported graph fails on another batch size, most often
FIXED_BATCH = ("torch.export fixed the batch size while recording the branches the example takes (a layer "
               "inside computes sizes from it); DeepCanvas networks take any batch size.")
#: ATen ops that read a tensor's value into Python: each is a decision on the example's values
DECISIONS = ("item", "_local_scalar_dense", "is_nonzero")
#: ATen ops whose torch.nn.functional function takes the same positional arguments
SAME_AS_F = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
             "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
             "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
             "adaptive_max_pool2d", "gelu", "silu", "mish", "hardswish", "hardsigmoid", "hardtanh", "leaky_relu",
             "relu6", "softplus", "pixel_shuffle", "pad", "glu", "logsigmoid", "softsign", "tanhshrink",
             "scaled_dot_product_attention")
#: ATen ops that are Tensor methods (torch has no function of that name)
AS_METHOD = ("view", "_unsafe_view", "expand", "contiguous", "repeat", "new_zeros", "new_ones", "new_full",
             "new_empty", "type_as", "expand_as")
#: ATen ops that pass their input on unchanged
IDENTITY = ("alias", "lift_fresh_copy", "detach", "detach_")
#: keyword arguments torch.export writes out at their defaults, which a recorded call does without
_DEFAULT_KWARGS = {"layout", "pin_memory", "memory_format", "non_blocking"}


def trace_or_export(model: Any, inputs: Sequence[Any]) -> tuple[Any, str, list[str]]:
    """(graph module, the tracer used, notes): torch.fx with our tracer, or torch.export when fx
    cannot trace the model or would keep a submodule of the model's own code as one step (which
    imported ops may not run)."""
    try:
        gm, tracer, notes = trace(model)
    except TorchImportError as fx_error:
        fx_reason = str(fx_error).partition(". torch.fx records")[0]
        try:
            gm, tracer, notes = export_trace(model, inputs)
        except TorchImportError as exc:
            raise TorchImportError(f"{fx_reason}, and torch.export cannot record it either ({exc})") from None
        notes.insert(0, f"{fx_reason.replace(' cannot be traced', ' could not be traced')} — it was "
                        f"recorded with torch.export instead")
        return gm, tracer, notes
    kept = _kept_own_code(gm)
    if not kept:
        return gm, tracer, notes
    try:
        exported, how, more = export_trace(model, inputs)
    except TorchImportError as exc:
        log.info("torch.export could not record %s either: %s", type(model).__name__, exc)
        return gm, tracer, notes  # the fx graph is refused with its own, more specific reason
    more.insert(0, f"torch.fx could not follow {', '.join(repr(k) for k in kept)}; the model was recorded "
                   f"with torch.export instead")
    return exported, how, more


def _kept_own_code(gm: Any) -> list[str]:
    """Submodules the fx tracer kept as one step that are the model's own code (not torch.nn,
    not DeepCanvas's classes): the converter would refuse them."""
    import torch

    kept = []
    for n in gm.graph.nodes:
        if n.op != "call_module":
            continue
        m = gm.get_submodule(n.target)
        if our_class(m) is None and not is_named_leaf(m) and getattr(torch.nn, type(m).__name__, None) is not type(m):
            kept.append(n.target)
    return kept


def export_trace(model: Any, inputs: Sequence[Any]) -> tuple[Any, str, list[str]]:
    """The model recorded with torch.export on the example (batch :data:`BATCHES`[0], the batch the
    import's output check uses) as a torch.fx graph module of torch-level steps, plus notes."""
    import torch

    if not all(isinstance(t, torch.Tensor) for t in inputs):
        raise TorchImportError("the torch.export path takes models whose inputs are single batched tensors")
    sample = [rebatch(t, BATCHES[0]) for t in inputs]
    ep, state = _export(model, sample)
    gm, how, notes = Rewriter(model, ep.module(), state, len(sample)).run()
    run_recorded(gm, [rebatch(t, BATCHES[1]) for t in inputs], hint=FIXED_BATCH)
    return gm, how, notes


def _export(model: Any, sample: list[Any]) -> tuple[Any, dict[str, Any]]:
    import torch

    class Functional(torch.nn.Module):
        """The model with its parameters and buffers passed in, so the export sees their values."""

        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, state: dict[str, Any], *xs: Any) -> Any:
            return torch.func.functional_call(self.m, state, xs)

    wrapper = Functional().eval()
    state = {k: v.detach() for k, v in model.state_dict(keep_vars=True).items()}
    batch = torch.export.Dim.AUTO
    shapes = ({k: None for k in state}, tuple({0: batch} for _ in sample))
    quiet = logging.getLogger("torch")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # draft_export reports every recorded decision as a warning
    args = (state, *sample)
    # a failed export prints its partial graph on stderr; the import's error says what failed
    hushed = contextlib.redirect_stderr(io.StringIO())
    try:
        with hushed:
            try:  # the batch stays free where the forward decides nothing on values
                ep = torch.export.export(wrapper, args, dynamic_shapes=shapes, strict=False)
            except Exception:  # noqa: BLE001 - any refusal: record the branches the example takes instead
                ep = torch.export.draft_export(wrapper, args, dynamic_shapes=shapes, strict=False)
    except Exception as exc:  # torch.export raises many kinds; the user gets one sentence
        where = user_line(exc.__traceback__)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TorchImportError(f"{type(exc).__name__}: {text[:300]}{f' at {where}' if where else ''}") from None
    finally:
        quiet.setLevel(level)
    return ep, state


class Rewriter:
    """An exported program's graph (ATen ops) -> a torch.fx graph of torch.nn module calls, torch
    functions and Tensor methods on ``model``, in the form our tracer gives."""

    def __init__(self, model: Any, exported: Any, state: dict[str, Any], n_inputs: int) -> None:
        import torch.fx

        self.model = model
        self.src = exported
        self.state = state
        self.n_inputs = n_inputs
        self.graph = torch.fx.Graph()
        self.env: dict[Any, Any] = {}
        #: attribute path in the new graph module -> the model's tensor or module it names
        self.root: dict[str, Any] = {}
        #: placeholder of the export -> state key of the parameter or buffer it passes
        self.state_inputs: dict[Any, str] = {}
        self.decisions: dict[str, int] = {}

    def run(self) -> tuple[Any, str, list[str]]:
        import torch.fx

        self._prune()
        self._placeholders()
        nodes = [n for n in self.src.graph.nodes if n.op not in ("placeholder", "get_attr")]
        i = 0
        while i < len(nodes):
            n = nodes[i]
            group = self._group(nodes, i)
            if len(group) and self._collapse(group):
                i += len(group)
                continue
            if n.op == "output":
                self.graph.output(torch.fx.node.map_arg(n.args[0], self._value))
            else:
                self.env[n] = self._step(n)
            i += 1
        gm = torch.fx.GraphModule(self.root, self.graph, class_name=type(self.model).__name__)
        gm.graph.eliminate_dead_code()
        gm.recompile()
        return gm, EXPORT, self._notes()

    # .. the exported graph .......................................................................
    def _prune(self) -> None:
        """Drop the export's run-time checks (and its guard function); note the decisions they
        checked. What only fed them is then dead and goes too."""
        graph = self.src.graph
        for n in list(graph.nodes):
            name = _aten_name(n)
            if name in DECISIONS:
                where = node_line(n) or "a line of the model"
                self.decisions[where] = self.decisions.get(where, 0) + 1
            if name in CHECKS or (n.op == "call_module" and n.target == "_guards_fn"):
                graph.erase_node(n)
        graph.eliminate_dead_code()

    def _placeholders(self) -> None:
        import torch.utils._pytree as pytree

        keys = [path[0].key for path, _ in pytree.tree_flatten_with_path(self.state)[0]]
        holders = [n for n in self.src.graph.nodes if n.op == "placeholder"]
        if len(holders) != len(keys) + self.n_inputs:
            raise TorchImportError(f"the exported graph takes {len(holders)} inputs, not the model's "
                                   f"{len(keys)} tensors and {self.n_inputs} input(s)")
        for n, key in zip(holders, keys, strict=False):
            self.state_inputs[n] = key
        for n, name in zip(holders[len(keys):], _input_names(self.model, self.n_inputs), strict=True):
            self.env[n] = self.graph.placeholder(name)

    def _value(self, n: Any) -> Any:
        """The new graph's node for an exported node; parameters and constants become get_attr
        steps on first use."""
        if n in self.env:
            return self.env[n]
        if n in self.state_inputs:
            target = self.state_inputs[n]
            self.root[target] = self.model.get_parameter(target) if _is_parameter(self.model, target) \
                else self.model.get_buffer(target)
        elif n.op == "get_attr":
            held = operator.attrgetter(n.target)(self.src)
            target = n.target.removeprefix("m.")
            if target == n.target or not _has_attr(self.model, target):
                target = "constant_" + target.replace(".", "_")
            self.root[target] = operator.attrgetter(target)(self.model) if _has_attr(self.model, target) else held
        else:
            raise TorchImportError(f"step '{n.name}' of the exported graph reads '{n.name}' before it is made")
        self.env[n] = self.graph.get_attr(target)
        return self.env[n]

    # .. leaf modules ............................................................................
    def _leaf(self, n: Any) -> tuple[str, str] | None:
        """(stack key, module path) of the outermost torch.nn leaf module a step ran in."""
        import torch.fx

        for key, entry in _stack(n):
            path = entry[0]
            try:
                m = self.model.get_submodule(path)
            except AttributeError:
                return None
            if our_class(m) is not None or is_named_leaf(m) or torch.fx.Tracer().is_leaf_module(m, path):
                return key, path
        return None

    def _group(self, nodes: list[Any], i: int) -> list[Any]:
        """The run of steps from ``nodes[i]`` made by one call of one leaf module (empty when
        ``nodes[i]`` ran in none)."""
        leaf = self._leaf(nodes[i]) if nodes[i].op == "call_function" else None
        if leaf is None:
            return []
        j = i
        while j < len(nodes) and nodes[j].op == "call_function" and self._leaf(nodes[j]) == leaf:
            j += 1
        return nodes[i:j]

    def _collapse(self, group: list[Any]) -> bool:
        """One ``call_module`` step for a leaf module's steps, when the module read exactly one
        tensor from outside and gave one tensor back; False leaves the steps to be rewritten one by one."""
        import torch

        _, path = self._leaf(group[0])  # type: ignore[misc]
        module = self.model.get_submodule(path)
        if isinstance(module, torch.nn.RNNBase) or _required_args(module) != 1:
            return False  # (output, state) tuples and several inputs: which is which is not recorded
        members = set(group)
        outside: list[Any] = []
        for n in group:
            for a in n.all_input_nodes:
                if a in members or self.state_inputs.get(a, "").startswith(f"{path}."):
                    continue
                if a not in outside:
                    outside.append(a)
        results = [n for n in group if any(u not in members for u in n.users)]
        if len(outside) != 1 or len(results) != 1 or outside[0] not in self.env:
            return False
        if not _is_tensor(outside[0]) or not _is_tensor(results[0]):
            return False
        new = self.graph.call_module(path, (self.env[outside[0]],))
        self.root[path] = module
        _copy_meta(group[0], new, leaf_path=path)
        self.env[results[0]] = new
        return True

    # .. single ATen ops ..........................................................................
    def _step(self, n: Any) -> Any:
        import torch.fx

        args = torch.fx.node.map_arg(n.args, self._value)
        kwargs = torch.fx.node.map_arg(n.kwargs, self._value)
        if n.op != "call_function":
            raise TorchImportError(f"the exported graph has a '{n.op}' step ('{n.name}')")
        name = _aten_name(n)
        if name is None:  # Python operators on sizes (operator.mul, getitem), torch.sym_* helpers
            return self._made("call_function", n.target, args, kwargs, n)
        kwargs = {k: v for k, v in kwargs.items() if v is not None and k not in _DEFAULT_KWARGS}
        op, target, args, kwargs = self._torch_form(n, name, list(args), kwargs)
        if op == "identity":
            return args[0]
        return self._made(op, target, tuple(args), kwargs, n)

    def _torch_form(self, n: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, Any, list, dict]:
        """How an ATen op is written with torch: (fx op, target, args, kwargs)."""
        import torch
        import torch.nn.functional as F

        if name in IDENTITY:
            return "identity", None, args, kwargs
        if name.endswith("_") and not name.startswith("_") and hasattr(torch, name[:-1]):
            name = name[:-1]  # relu_ -> relu: the recorded value is the same (the output check confirms it)
        if name == "sym_size":
            return "call_method", "size", args, kwargs
        if name in ("_to_copy", "to", "_to_dtype"):
            return "call_method", "to", args, kwargs
        if name in AS_METHOD:
            return "call_method", name.removeprefix("_unsafe_"), args, kwargs
        if name == "slice":  # x[:, a:b]
            dim, start, end, step = (args[1:] + [0, None, None, 1][len(args) - 1:])[:4]
            if start in (None, 0) and (end is None or (isinstance(end, int) and end >= 2 ** 62)) and step == 1:
                return "identity", None, args, kwargs  # x[:] along one dimension: the same tensor
            index = (slice(None),) * dim + (slice(start, end, step),) if isinstance(dim, int) and dim >= 0 else None
            if index is None:
                raise self._refused(n, "aten.slice on a negative dimension")
            return "call_function", operator.getitem, [args[0], index], {}
        if name == "select":  # x[:, i]
            dim, index = args[1], args[2]
            if not isinstance(dim, int) or dim < 0:
                raise self._refused(n, "aten.select on a negative dimension")
            return "call_function", operator.getitem, [args[0], (slice(None),) * dim + (index,)], {}
        if name == "batch_norm":  # (x, w, b, mean, var, training, momentum, eps, cudnn)
            x, w, b, mean, var, training, momentum, eps = args[:8]
            return "call_function", F.batch_norm, [x, mean, var, w, b, training, momentum, eps], {}
        if name == "layer_norm":  # (x, shape, w, b, eps, cudnn)
            return "call_function", F.layer_norm, args[:5], {}
        if name == "group_norm":  # (x, groups, w, b, eps, cudnn)
            return "call_function", F.group_norm, args[:5], {}
        if name in ("softmax", "log_softmax", "_softmax", "_log_softmax"):
            fn = torch.softmax if "log" not in name else torch.log_softmax
            dtype = kwargs.get("dtype") if not name.startswith("_") else None
            return "call_function", fn, args[:2], ({"dtype": dtype} if dtype is not None else {})
        if name == "dropout":  # (x, p, train)
            return "call_function", F.dropout, args, kwargs
        if name == "embedding":  # (weight, indices, padding_idx, scale_grad_by_freq, sparse)
            return "call_function", F.embedding, [args[1], args[0]], {}
        if name == "elu" and args[2:] in ([], [1], [1.0], [1, 1], [1.0, 1.0], [1, 1.0], [1.0, 1]):
            return "call_function", F.elu, args[:2], {}
        if name in SAME_AS_F:
            return "call_function", getattr(F, name), args, kwargs
        fn = getattr(torch, name, None)
        if callable(fn) and not inspect.isclass(fn) and not name.startswith("_"):
            return "call_function", fn, args, kwargs
        if hasattr(torch.Tensor, name) and not name.startswith("_"):
            return "call_method", name, args, kwargs
        raise self._refused(n, f"aten.{name}")

    def _refused(self, n: Any, what: str) -> TorchImportError:
        where = node_line(n)
        return TorchImportError(f"step '{n.name}' of the exported model calls {what}, which has no torch function "
                                f"DeepCanvas can record{f' (at {where})' if where else ''}")

    def _made(self, op: str, target: Any, args: Any, kwargs: Any, n: Any) -> Any:
        new = self.graph.create_node(op, target, tuple(args), dict(kwargs), name=n.name)
        _copy_meta(n, new)
        return new

    def _notes(self) -> list[str]:
        notes = []
        for where, times in self.decisions.items():
            often = f" (decided {times} times on the example)" if times > 1 else ""
            notes.append(f"torch.export recorded the branch the example input takes at {where}{often}; the "
                         f"imported network always follows the branch taken on the example input")
        return notes


def _aten_name(n: Any) -> str | None:
    """``relu`` for ``torch.ops.aten.relu.default``; None for any other kind of step."""
    import torch

    target = getattr(n, "target", None)
    if n.op == "call_function" and isinstance(target, torch._ops.OpOverload) and target.namespace == "aten":
        return target.overloadpacket.__name__
    return None


def _stack(n: Any) -> list[tuple[str, tuple[str, Any]]]:
    """The module stack a step ran in, outermost first, with paths inside the model (the export's
    wrapper and its ``m.`` prefix taken off)."""
    stack = n.meta.get("nn_module_stack") or {}
    out = []
    for key, entry in stack.items():
        if not isinstance(entry, tuple) or not entry or not isinstance(entry[0], str):
            continue
        path = entry[0]
        if not path.startswith("m."):
            continue
        out.append((key, (path[2:], *entry[1:])))
    return out


def _copy_meta(n: Any, new: Any, leaf_path: str | None = None) -> None:
    """The step's source line and module stack, as our tracer records them."""
    if n.meta.get("stack_trace"):
        new.meta["stack_trace"] = n.meta["stack_trace"]
    stack = {}
    for key, entry in _stack(n):
        stack[key] = entry
        if leaf_path is not None and entry[0] == leaf_path:
            break
    if stack:
        new.meta["nn_module_stack"] = stack


def _input_names(model: Any, count: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = params[:count]
    return names + [f"input_{i + 1}" for i in range(len(names), count)]


def _required_args(module: Any) -> int:
    """How many arguments the module's forward needs (None for *args)."""
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return -1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return -1
    return sum(1 for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _is_tensor(n: Any) -> bool:
    import torch

    return isinstance(n.meta.get("val"), torch.Tensor)


def _is_parameter(model: Any, target: str) -> bool:
    return target in dict(model.named_parameters(remove_duplicate=False))


def _has_attr(model: Any, target: str) -> bool:
    try:
        operator.attrgetter(target)(model)
    except AttributeError:
        return False
    return True
