"""The walk over a traced graph that builds the network: each step becomes a registry layer,
literals, or an ImportedOp node (graph/layers/opaque.py) recording the call."""

from __future__ import annotations

import math
from typing import Any

from graph.builder import NetworkBuilder
from graph.import_torch.function_table import map_function, map_pick
from graph.import_torch.fx_calls import describe, has_node, is_getitem, qualified
from graph.import_torch.module_table import encoder_params, maps_recurrent, module_init, module_layer
from graph.import_torch.records import Source, TupleValue, json_text, opaque_params, single_pick, to_json
from graph.import_torch.report import TorchImportError
from graph.import_torch.tracing import BATCHES, is_named_leaf, node_line, our_class
from graph.layers.opaque import op_allowed
from graph.tensor_type import FLOAT, LONG, TensorType

DTYPES = {"torch.float32": FLOAT, "torch.int64": LONG, "torch.bool": "bool"}


def _mentions(value: Any, marker: str) -> bool:
    if isinstance(value, list):
        return any(_mentions(v, marker) for v in value)
    if isinstance(value, dict):
        return any(_mentions(v, marker) for v in value.values())
    return value == marker


def _replaced(value: Any, marker: str, by: str) -> Any:
    if isinstance(value, list):
        return [_replaced(v, marker, by) for v in value]
    if isinstance(value, dict):
        return {k: _replaced(v, marker, by) for k, v in value.items()}
    return by if value == marker else value


class Unsupported(Exception):
    """A module or call that has no registry layer in this form; it becomes an imported op."""


class Converter:
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
        #: notes on submodules the tracer kept as one step because fx could not follow them
        self.kept_whole: list[str] = []
        #: where the batch is in each of the model's input tensors (tuples flattened), as found by
        #: the import; the drawn Input nodes are batch-first whatever the model takes
        self.input_axes: list[int] = []
        #: per drawn Input / Output node, in order: the batch dimension in the model's tensor, and
        #: for outputs whether the model flattens its leading dimensions into one (``view(-1, k)``)
        self.input_layouts: list[int] = []
        self.output_layouts: list[tuple[int, bool]] = []
        #: traced recurrent calls -> their stateful node, whose outputs several picks read
        self.stateful_nodes: dict[Any, str] = {}
        #: nodes made for a value a layer now computes itself (a causal mask): removed at the end
        self.unused: set[str] = set()
        self.live = self._live_nodes()

    # .. helpers ........................................................................
    def _live_nodes(self) -> set:
        live = set()
        for n in self.gm.graph.nodes:
            if n.op == "placeholder" or any(a in live for a in n.all_input_nodes):
                live.add(n)
        return live

    def tensor_type(self, n: Any, index: tuple[int, ...] = (), batch_dim: int = 0) -> TensorType:
        """The drawn (batch-first) type of a traced tensor whose batch is at ``batch_dim``."""
        import torch

        a, b = self.v1[n], self.v2[n]
        for i in index:
            a, b = a[i], b[i]
        if not isinstance(a, torch.Tensor):
            raise TorchImportError(f"step '{n.name}' gives a {type(a).__name__} where a tensor was expected")
        if batch_dim:
            if a.dim() <= batch_dim or b.dim() != a.dim():
                raise TorchImportError(f"step '{n.name}' ({describe(n)}) gives a tensor without the batch at "
                                       f"dimension {batch_dim}")
            a, b = a.movedim(batch_dim, 0), b.movedim(batch_dim, 0)
        dtype = DTYPES.get(str(a.dtype))
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
        return TorchImportError(f"step '{n.name}' ({describe(n)}) computes a number from the data or from the "
                                f"batch size in a way DeepCanvas cannot record: compute it from per-sample "
                                f"sizes, or use x.shape[0] for the batch")

    def add_node(self, type_id: str, inputs: list[Source], name: str, params: dict[str, Any],
                 ports: list[str] | None = None) -> str:
        node = self.net.add_node(type_id, params, name=self.net.unique_name(name[:90] or type_id))
        spec = node.spec
        if spec.is_merge:
            for src in inputs:
                self.net.connect(src.node_id, node.id, src.port, spec.inputs[0].name)
        else:
            for port, src in zip(ports or [p.name for p in spec.inputs], inputs, strict=False):
                self.net.connect(src.node_id, node.id, src.port, port)
        return node.id

    def mapped(self, n: Any, type_id: str, inputs: list[Source], params: dict[str, Any], name: str | None = None,
               state: tuple[str, Any] | None = None, ports: list[str] | None = None) -> Source:
        node_id = self.add_node(type_id, inputs, name or n.name, params, ports)
        if state is not None:
            prefix, module = state
            self.states[node_id] = (prefix, dict(module.state_dict()))
        self.report_mapped.append((self.net.node(node_id).name, type_id))
        return Source(node_id, self.tensor_type(n))

    def source(self, arg: Any, n: Any) -> Source:
        value = self.env.get(arg) if hasattr(arg, "op") else None
        if not isinstance(value, Source):
            raise TorchImportError(f"step '{n.name}' ({describe(n)}) expects a tensor from '{getattr(arg, 'name', arg)}'")
        return value

    def is_tensor_arg(self, arg: Any) -> bool:
        return hasattr(arg, "op") and isinstance(self.env.get(arg), Source)

    # .. the walk ........................................................................
    def convert(self) -> None:
        """Every traced step in order; a refusal names the model's source line that made it."""
        for n in self.gm.graph.nodes:
            try:
                self.convert_node(n)
            except TorchImportError as exc:
                where = node_line(n)
                if where is None or where in str(exc):
                    raise
                raise TorchImportError(f"{exc} (at {where})") from None
        self._prune_unused()

    def convert_node(self, n: Any) -> None:
        import torch

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
            return any(isinstance(v, torch.Tensor) or Converter._tuple_of_tensors(v) for v in value)
        return False

    def placeholder(self, n: Any) -> Any:
        """One Input node per tensor the argument holds: a tuple such as an LSTM's (h, c) becomes
        a tuple of Sources, which the call that takes it unpacks."""
        import torch

        value = self.v1.get(n)
        if isinstance(value, tuple | list) and value and all(isinstance(v, torch.Tensor) for v in value):
            return tuple(self._input(n, (i,), f"{n.name}_{i}") for i in range(len(value)))
        if not isinstance(value, torch.Tensor):
            return self.literal(n, value, self.v2.get(n))
        return self._input(n, (), n.name)

    def _input(self, n: Any, index: tuple[int, ...], name: str) -> Source:
        k = len(self.input_layouts)
        axis = self.input_axes[k] if k < len(self.input_axes) else 0
        t = self.tensor_type(n, index, batch_dim=axis)
        if t.dtype not in (FLOAT, LONG) or t.shape[:1] != (None,) or t.rank < 2:
            raise TorchImportError(f"input '{name}' is a {t} {t.dtype} tensor; DeepCanvas inputs are batched "
                                   f"float32 or int64 tensors with at least one per-sample dimension")
        self.input_layouts.append(axis)
        node_id = self.builder.input(t.shape[1:], t.dtype, name=name)
        return Source(node_id, t, batch_dim=axis)

    def output(self, n: Any) -> None:
        result = n.args[0]
        if isinstance(result, dict):
            raise TorchImportError("forward returns a dict; DeepCanvas networks return tensors (or a tuple)")
        items = self._returned(result, n)
        for i, src in enumerate(items):
            name = "output" if len(items) == 1 else f"output_{i + 1}"
            self.builder.output(src.node_id if src.port == "out" else (src.node_id, src.port), name=name)
            self.output_layouts.append((src.batch_dim, src.merged))

    def _returned(self, value: Any, n: Any) -> list[Source]:
        """The tensors a forward returns, tuples (``output, (h, c)``) flattened in order."""
        import torch

        if isinstance(value, tuple | list):
            return [src for v in value for src in self._returned(v, n)]
        held = self.env.get(value) if hasattr(value, "op") else None
        if isinstance(held, tuple):
            return list(held)
        if isinstance(held, TupleValue):
            found = self.v1[held.fx_node]
            for i in held.path:
                found = found[i]
            picked = [self._pick_path(n, held, i) for i in range(len(found))]
            return [src for v in picked for src in (self._returned_held(v, n))]
        if isinstance(self.v1.get(value), torch.Tensor) or isinstance(held, Source):
            return [self.source(value, n)]
        raise TorchImportError(f"forward returns a {type(held).__name__}; DeepCanvas networks return tensors")

    def _returned_held(self, held: Any, n: Any) -> list[Source]:
        if isinstance(held, Source):
            return [held]
        if isinstance(held, TupleValue):
            found = self.v1[held.fx_node]
            for i in held.path:
                found = found[i]
            return [src for i in range(len(found)) for src in self._returned_held(self._pick_path(n, held, i), n)]
        raise TorchImportError("forward returns a value DeepCanvas cannot follow")

    def stored_tensor(self, n: Any) -> Source:
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
            "op": "tensor", "args": "[]", "kwargs": "{}", "init": json_text(init, n), "pick": -1, "in_shapes": "",
            "out_shape": tuple(t.shape), "out_dtype": t.dtype, "batched": False,
            "param_count": value.numel() if trainable else 0})
        self.states[node_id] = ("", {"value": value.detach().clone()})
        self.report_opaque.append((self.net.node(node_id).name, f"the model's own tensor {n.target}"))
        return Source(node_id, t)

    def call(self, n: Any) -> Any:
        if n.op == "call_module":
            module = self.gm.get_submodule(n.target)
            if isinstance(self.v1[n], tuple | list):
                return TupleValue(n)
            if self._reads_moved(n):
                return self.moved_call(n)
            if type(module).__name__ == "Identity" and len(n.args) == 1:
                return self.source(n.args[0], n)
            try:
                return self.map_module(n, module)
            except Unsupported as why:
                return self.opaque_module(n, module, str(why))
        if n.op in ("call_function", "call_method") and is_getitem(n):
            holder = self.env.get(n.args[0])
            if isinstance(holder, TupleValue):
                return self.pick(n, holder, n.args[1])
        if isinstance(self.v1[n], tuple | list):
            return TupleValue(n)
        if self._reads_moved(n):
            return self.moved_call(n)
        found = self.map_function(n)
        if found is not None:
            return found
        return self.opaque_call(n)

    # .. tuples: recurrent layers, attention, multi-output functions ............................
    def pick(self, n: Any, holder: TupleValue, index: Any) -> Any:
        base = holder.fx_node
        if not isinstance(index, int):
            raise TorchImportError(f"step '{n.name}' indexes the tuple from '{base.name}' with {index!r}")
        return self._pick_path(n, holder, index)

    def _pick_path(self, n: Any, holder: TupleValue, index: int) -> Any:
        import torch

        base = holder.fx_node
        path = (*holder.path, index)
        value = self.v1[base]
        for i in path:
            value = value[i]
        if base.op == "call_module":
            module = self.gm.get_submodule(base.target)
            kind = type(module).__name__
            if kind in ("LSTM", "GRU", "RNN") and self._needs_state(base, module):
                return self.stateful_pick(base, module, path)
        if not isinstance(value, torch.Tensor):
            return TupleValue(base, path)
        if base.op == "call_module":
            if kind in ("LSTM", "GRU", "RNN") and maps_recurrent(module):
                return self.recurrent(n, base, module, path)
            if kind == "MultiheadAttention" and path == (0,):
                try:
                    return self.attention(n, base, module)
                except Unsupported as why:
                    return self.opaque_module(base, module, str(why), pick=0, value_node=n)
            return self.opaque_module(base, module, f"{kind} returns several values", pick=path, value_node=n)
        found = map_pick(self, n, base, path)      # a piece of chunk/split: a Chunk or Split node
        if found is not None:
            return found
        return self.opaque_call(base, pick=path, value_node=n)

    def recurrent(self, n: Any, base: Any, module: Any, path: tuple[int, ...]) -> Any:
        kind = type(module).__name__
        if path == (0,):
            return self._recurrent_node(n, base, module, "sequence")
        hidden = (1, 0) if kind == "LSTM" else (1,)
        if path == hidden:
            return TupleValue(base, path)  # h_n: waits for the [-1] that picks the last layer's state
        last_layer = module.num_layers - 1
        if path[:-1] == hidden and path[-1] in (-1, last_layer) and not module.bidirectional:
            # the last layer's final state of a one-directional stack is the output's last step
            return self._recurrent_node(n, base, module, "last")
        raise TorchImportError(f"step '{n.name}' reads the {kind} '{base.target}''s cell state or its states in "
                               f"a form DeepCanvas's {kind} does not give (it passes on the output sequence or "
                               f"the last step)")

    def _recurrent_node(self, n: Any, base: Any, module: Any, output: str) -> Source:
        kind = type(module).__name__
        if id(module) in self.used_modules:
            raise TorchImportError(f"the {kind} '{base.target}' is read twice (its output and its state, or "
                                   f"called twice); DeepCanvas makes one node per layer: read one of them")
        self.used_modules[id(module)] = base.target
        params = {"hidden_size": module.hidden_size, "num_layers": module.num_layers,
                  "bidirectional": module.bidirectional, "dropout": float(module.dropout), "output": output}
        src = self.source(base.args[0], base)
        return self.mapped(n, kind, [src], params, name=base.target, state=("rnn.", module))

    # .. recurrent layers that take or give a state (language models) ...........................
    def _needs_state(self, base: Any, module: Any) -> bool:
        """Whether a traced LSTM/GRU/RNN call becomes a stateful node: it is given an initial state,
        or reads sequence-first input (``batch_first=False``, as word-level language models write)."""
        if len(base.args) > 1 or base.kwargs:
            return True
        held = self.env.get(base.args[0]) if base.args and hasattr(base.args[0], "op") else None
        return not module.batch_first or (isinstance(held, Source) and not held.canonical)

    def stateful_pick(self, base: Any, module: Any, path: tuple[int, ...]) -> Any:
        """One element of ``output, h_n`` (GRU, RNN) or ``output, (h_n, c_n)`` (LSTM): a port of the
        call's one stateful node."""
        kind = type(module).__name__
        node_id = self.stateful_nodes.get(base) or self._stateful_node(base, module)
        ports = {(0,): "out", (1,): "h_n"} if kind != "LSTM" else {(0,): "out", (1, 0): "h_n", (1, 1): "c_n"}
        if kind == "LSTM" and path == (1,):
            return TupleValue(base, path)
        if path not in ports:
            raise TorchImportError(f"step reads element {path} of the {kind} '{base.target}''s result")
        batch_dim = (0 if module.batch_first else 1) if path == (0,) else 1   # torch keeps states layers-first
        return Source(node_id, self.tensor_type(base, path, batch_dim=batch_dim), port=ports[path],
                      batch_dim=batch_dim)

    def _stateful_node(self, base: Any, module: Any) -> str:
        kind = type(module).__name__
        if id(module) in self.used_modules:
            raise TorchImportError(f"the {kind} '{base.target}' is called twice; DeepCanvas makes one node per "
                                   f"layer and would duplicate its weights")
        if not (module.bias and getattr(module, "proj_size", 0) == 0
                and (kind != "RNN" or module.nonlinearity == "tanh")):
            raise TorchImportError(f"the {kind} '{base.target}' has no bias, a projection or a relu "
                                   f"nonlinearity, which DeepCanvas's Stateful{kind} does not build")
        kwargs = dict(base.kwargs)
        state = base.args[1] if len(base.args) > 1 else kwargs.pop("hx", None)
        if kwargs or len(base.args) > 2:
            raise TorchImportError(f"the {kind} '{base.target}' is called with arguments besides the sequence "
                                   f"and the state")
        x = self.source(base.args[0], base)
        seq_first = not module.batch_first
        if x.merged or x.batch_dim != (1 if seq_first else 0):
            order = "sequence-first (L, N, features)" if seq_first else "batch-first (N, L, features)"
            raise TorchImportError(f"the {kind} '{base.target}' reads {order} input, but its input has the batch "
                                   f"at dimension {x.batch_dim}")
        states: list[Source] = []
        if state is not None:
            held = state if isinstance(state, tuple | list) else self.env.get(state)
            items = list(held) if isinstance(held, tuple | list) else [state]
            states = [item if isinstance(item, Source) else self.source(item, base) for item in items]
            if len(states) != (2 if kind == "LSTM" else 1) or any(s.merged or s.batch_dim != 1 for s in states):
                raise TorchImportError(f"the {kind} '{base.target}' is given a state DeepCanvas cannot follow "
                                       f"(it takes {'(h, c)' if kind == 'LSTM' else 'h'} shaped "
                                       f"(layers, batch, hidden))")
        self.used_modules[id(module)] = base.target
        params = {"hidden_size": module.hidden_size, "num_layers": module.num_layers,
                  "bidirectional": module.bidirectional, "dropout": float(module.dropout)}
        node_id = self.add_node(f"Stateful{kind}", [x, *states], base.target, params)
        self.states[node_id] = ("rnn.", dict(module.state_dict()))
        self.report_mapped.append((self.net.node(node_id).name, f"Stateful{kind}"))
        self.stateful_nodes[base] = node_id
        return node_id

    # .. values whose batch is not first (sequence-first models) ...................................
    def _reads_moved(self, n: Any) -> bool:
        found = False

        def visit(value: Any) -> None:
            nonlocal found
            if isinstance(value, tuple | list):
                for v in value:
                    visit(v)
            elif hasattr(value, "op"):
                held = self.env.get(value)
                if isinstance(held, Source) and not held.canonical:
                    found = True

        visit(list(n.args) + list(n.kwargs.values()))
        return found

    def moved_call(self, n: Any) -> Source:
        """A step on a value whose batch is not its first dimension. The drawn network keeps it
        batch-first, so only steps that mean the same on the moved value become nodes: modules and
        functions that work on the last dimension, element-wise scaling, and the ``view(-1, k)``
        that merges the leading dimensions (recorded, not drawn)."""
        tensors = [self.env[a] for a in n.args if hasattr(a, "op") and isinstance(self.env.get(a), Source)]
        src = tensors[0] if tensors else None
        why = self._moved_refusal(n, src)
        if len(tensors) == 2 and len(n.args) == 2 and not n.kwargs and n.op == "call_function":
            found = self._moved_binary(n, *tensors)
            if found is not None:
                return found
        if src is not None and (len(tensors) == 1 or n.op == "call_module") and n.args \
                and self.env.get(n.args[0]) is src:
            found = self._moved_module(n, src) if n.op == "call_module" else self._moved_function(n, src)
            if found is not None:
                return found
        raise TorchImportError(why)

    def _moved_binary(self, n: Any, a: Source, b: Source) -> Source | None:
        """``x + y``, ``x - y``, ``x * y`` where a value with a moved batch meets an equal one (an
        Add or Multiply node) or a stored tensor that broadcasts over the batch, such as a
        sequence-first positional table ``pe[:L]`` shaped (L, 1, D): that one is moved the same way
        and the operation recorded as an imported op."""
        op = qualified(n) or ""
        name = op.rpartition(".")[2]
        if op.split(".")[0] not in ("operator", "torch") or name not in ("add", "sub", "mul"):
            return None
        moved = a if not a.canonical else b
        if a.batch_dim == b.batch_dim and a.merged == b.merged and a.type == b.type and name in ("add", "mul"):
            type_id = "Add" if name == "add" else "Multiply"
            node_id = self.add_node(type_id, [a, b], n.name, {})
            self.report_mapped.append((self.net.node(node_id).name, type_id))
            return Source(node_id, a.type, batch_dim=a.batch_dim, merged=a.merged)
        fixed = b if moved is a else a
        if moved.merged or fixed.type.shape[:1] == (None,):
            return None
        rank = self.v1[n].dim()
        shape = tuple(fixed.type.shape)
        operands = [moved, fixed] if moved is a else [fixed, moved]
        if len(shape) == rank and shape[moved.batch_dim] == 1:
            # the table loses its size-1 batch dimension where the model has it and gains it first
            t = TensorType((1, *shape[:moved.batch_dim], *shape[moved.batch_dim + 1:]), fixed.type.dtype)
            params = opaque_params(n, "torch.movedim", ["$0", moved.batch_dim, 0], {}, {}, -1, [fixed], t, 0)
            node_id = self.add_node("ImportedOp", [fixed], f"{n.name}_batch_first", params)
            self.report_opaque.append((self.net.node(node_id).name, "moves a stored tensor's batch dimension first "
                                       "(the model is sequence-first)"))
            fixed = Source(node_id, t)
            operands = [moved, fixed] if moved is a else [fixed, moved]
        elif len(shape) >= rank - moved.batch_dim:
            return None   # it would broadcast over the batch's old place
        out = self._moved_type(n, moved)
        params = opaque_params(n, op, ["$0", "$1"], {}, {}, -1, operands, out, 0)
        node_id = self.add_node("ImportedOp", operands, n.name, params)
        self.report_opaque.append((self.net.node(node_id).name, f"{op} of a sequence-first value and a stored tensor"))
        return Source(node_id, out, batch_dim=moved.batch_dim)

    def _moved_refusal(self, n: Any, src: Source | None) -> str:
        where = f"the batch at dimension {src.batch_dim}" if src is not None else "its batch elsewhere"
        return (f"step '{n.name}' ({describe(n)}) works on a value with {where} (a sequence-first model); "
                f"DeepCanvas draws such models batch-first and follows them through embeddings, recurrent and "
                f"Transformer layers, Linear, dropout, activations, (log-)softmax over the last dimension, "
                f"scaling by a constant and flattening to (-1, features)")

    def _moved_type(self, n: Any, src: Source) -> TensorType:
        """The drawn type of a step's result that keeps its input's layout."""
        import torch

        if not src.merged:
            return self.tensor_type(n, batch_dim=src.batch_dim)
        out = self.v1[n]
        dtype = DTYPES.get(str(out.dtype), FLOAT) if isinstance(out, torch.Tensor) else FLOAT
        return TensorType((*src.type.shape[:-1], out.shape[-1]), dtype)

    def _moved_module(self, n: Any, src: Source) -> Source | None:
        m = self.gm.get_submodule(n.target)
        kind = type(m).__name__
        if type(m).__module__.split(".")[:2] != ["torch", "nn"] or len(n.args) != 1 or n.kwargs:
            if kind in ("TransformerEncoder", "TransformerEncoderLayer"):
                return self.encoder(n, m)
            return None
        if kind in ("TransformerEncoder", "TransformerEncoderLayer"):
            return self.encoder(n, m)
        rank = self.v1[n.args[0]].dim()
        last_dim = kind in ("Dropout", "Identity", "ReLU", "GELU", "Tanh", "Sigmoid", "SiLU", "LeakyReLU", "ELU",
                            "Linear", "LayerNorm")
        if kind in ("Softmax", "LogSoftmax"):
            last_dim = m.dim is not None and m.dim in (-1, rank - 1)
        if kind == "Embedding":
            last_dim = not src.merged
        if kind == "LayerNorm":
            last_dim = len(m.normalized_shape) == 1
        if not last_dim:
            return None
        out = self._moved_type(n, src)
        spec = module_layer(m, out, src.type)
        if spec is None:
            return None
        type_id, params, with_state = spec
        if type_id in ("Softmax", "LogSoftmax"):
            params["dim"] = -1
        node_id = self.add_node(type_id, [src], n.target, params)
        if with_state:
            self.states[node_id] = ("", dict(m.state_dict()))
        self.report_mapped.append((self.net.node(node_id).name, type_id))
        return Source(node_id, out, batch_dim=src.batch_dim, merged=src.merged)

    def _moved_function(self, n: Any, src: Source) -> Source | None:
        op = qualified(n) or ""
        name = op.rpartition(".")[2]
        a, b = self.v1[n.args[0]], self.v1[n]
        rest = [x for x in n.args[1:]]
        kw = {k: v for k, v in n.kwargs.items() if k not in ("_stacklevel", "dtype") or v not in (None, 3)}
        if name in ("contiguous", "clone") and not rest and not kw:
            return src
        if name in ("log_softmax", "softmax"):
            dim = rest[0] if rest else kw.pop("dim", None)
            if isinstance(dim, int) and dim in (-1, a.dim() - 1) and len(rest) <= 1 and not kw:
                type_id = "LogSoftmax" if name == "log_softmax" else "Softmax"
                return self._moved_node(n, src, type_id, {"dim": -1})
            return None
        if name in ("mul", "truediv", "div") and len(rest) == 1 and not kw \
                and isinstance(rest[0], float | int) and not isinstance(rest[0], bool):
            return self._moved_node(n, src, "Scale", {"factor": float(rest[0]), "divide": name != "mul"})
        if name == "dropout" and op.startswith("F."):
            return src if self.v1[n].equal(a) else None   # eval mode: the identity
        if name in ("view", "reshape", "flatten"):
            if tuple(b.shape) == tuple(a.shape):
                return src
            merged_shape = tuple(a.flatten(0, src.batch_dim).shape)
            other = self.v2[n.args[0]].flatten(0, src.batch_dim).shape
            if not src.merged and src.batch_dim > 0 and tuple(b.shape) == merged_shape \
                    and tuple(self.v2[n].shape) == tuple(other):
                return Source(src.node_id, src.type, port=src.port, batch_dim=src.batch_dim, merged=True)
        return None

    def _moved_node(self, n: Any, src: Source, type_id: str, params: dict[str, Any]) -> Source:
        out = self._moved_type(n, src)
        node_id = self.add_node(type_id, [src], n.name, params)
        self.report_mapped.append((self.net.node(node_id).name, type_id))
        return Source(node_id, out, batch_dim=src.batch_dim, merged=src.merged)

    def attention(self, n: Any, base: Any, module: Any) -> Source:
        args = list(base.args) + [None] * 3
        names = ("query", "key", "value")
        kw = dict(base.kwargs)
        for i, key in enumerate(names):
            if key in kw:
                args[i] = kw.pop(key)
        for key, value in kw.items():
            if key == "need_weights" or value is None or value is False:
                continue
            raise Unsupported(f"called with {key}")
        if not module.batch_first or module.bias_k is not None or module.add_zero_attn:
            raise Unsupported("not batch-first or with extra key/value biases")
        q, k, v = args[:3]
        wired = [q] if (k is q or k is None) and (v is k or v is None) else [q, k] if v is k else [q, k, v]
        inputs = [self.source(a, base) for a in wired]
        params = {"num_heads": module.num_heads, "dropout": float(module.dropout),
                  "bias": module.in_proj_bias is not None, "causal": False}
        return self.mapped(n, "MultiheadAttention", inputs, params, name=base.target, state=("attn.", module),
                           ports=list(names[:len(inputs)]))

    # .. modules ...........................................................................
    def map_module(self, n: Any, m: Any) -> Source:
        ours = our_class(m)
        if ours is not None:
            return self.our_module(n, m, ours)
        kind = type(m).__name__
        if is_named_leaf(m) and kind == "StochasticDepth":
            p, mode = m.p, m.mode
            if len(n.args) == 1 and not n.kwargs and isinstance(p, float | int) and 0 <= p <= 1 \
                    and mode in ("row", "batch"):
                return self.mapped(n, "StochasticDepth", [self.source(n.args[0], n)],
                                   {"p": float(p), "mode": mode}, name=n.target)
        if type(m).__module__.split(".")[:2] != ["torch", "nn"]:
            raise Unsupported(f"{kind} is not a torch.nn module")
        args = [a for a in n.args]
        if len(args) != 1 or n.kwargs or not self.is_tensor_arg(args[0]):
            if kind in ("TransformerEncoder", "TransformerEncoderLayer"):
                return self.encoder(n, m)
            raise Unsupported(f"{kind} called with extra arguments")
        src = self.source(args[0], n)
        spec = module_layer(m, self.tensor_type(n), src.type)
        if spec is None:
            if kind in ("TransformerEncoder", "TransformerEncoderLayer"):
                return self.encoder(n, m)
            raise Unsupported(f"DeepCanvas has no layer for {kind} in this form")
        type_id, params, with_state = spec
        if kind == "Embedding" and m.padding_idx is not None:
            self.warnings.append(f"Embedding '{n.target}' had padding_idx={m.padding_idx}; the imported layer "
                                 f"computes the same but also trains that row")
        return self.mapped(n, type_id, [src], params, name=n.target, state=("", m) if with_state else None)

    def encoder(self, n: Any, m: Any) -> Source:
        """A Transformer encoder stack (or one layer), batch- or sequence-first; a mask argument that
        is the causal one (upper-triangular -inf, made from the sequence length) becomes the layer's
        ``causal`` setting, and the steps that built it are dropped."""
        import torch

        args, kw = list(n.args), dict(n.kwargs)
        mask = args[1] if len(args) > 1 else kw.pop("mask", kw.pop("src_mask", None))
        padding = args[2] if len(args) > 2 else kw.pop("src_key_padding_mask", None)
        kw.pop("is_causal", None)     # a hint to torch; the mask itself says what is computed
        for key, value in kw.items():
            if value is not None and value is not False:
                raise Unsupported(f"called with {key}")
        if len(args) > 3 or padding is not None:
            raise Unsupported("called with a padding mask")
        layers = list(m.layers) if isinstance(m, torch.nn.TransformerEncoder) else [m]
        if isinstance(m, torch.nn.TransformerEncoder) and m.norm is not None:
            raise Unsupported("has a final norm")
        first = layers[0]
        seq_first = not first.self_attn.batch_first
        params = encoder_params(first, seq_first)
        if params is None or any(encoder_params(layer, seq_first) != params for layer in layers):
            raise Unsupported("its layers differ from DeepCanvas's (post/pre-norm, relu/gelu, eps 1e-5)")
        src = self.source(args[0], n)
        want = 1 if seq_first else 0
        if src.merged or src.batch_dim != want:
            raise Unsupported(f"reads {'sequence' if seq_first else 'batch'}-first input, but its input has the "
                              f"batch at dimension {src.batch_dim}")
        if mask is not None:
            length = self.v1[args[0]].shape[1 - want]
            if not self._is_causal_mask(mask, length):
                raise Unsupported("called with a mask other than the causal one")
            params["causal"] = True
            held = self.env.get(mask)
            if isinstance(held, Source):
                self.unused.add(held.node_id)
        params["num_layers"] = len(layers)
        prefix = "layers." if isinstance(m, torch.nn.TransformerEncoder) else "layers.layers.0."
        node_id = self.add_node("TransformerEncoder", [src], n.target, params)
        self.states[node_id] = (prefix, dict(m.state_dict()))
        self.report_mapped.append((self.net.node(node_id).name, "TransformerEncoder"))
        return Source(node_id, self.tensor_type(n, batch_dim=want), batch_dim=want)

    def _is_causal_mask(self, mask: Any, length: int) -> bool:
        """Whether a traced mask is, in both recorded runs, the square causal mask of the sequence
        length: -inf (or True) above the diagonal, 0 (or False) elsewhere."""
        import torch

        if not hasattr(mask, "op"):
            return False
        for values in (self.v1, self.v2):
            value = values.get(mask)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != (length, length):
                return False
            above = torch.ones(length, length, dtype=torch.bool).triu(1)
            if value.dtype == torch.bool:
                if not torch.equal(value, above):
                    return False
            elif not (torch.isneginf(value[above]).all() and (value[~above] == 0).all()):
                return False
        return True

    def _prune_unused(self) -> None:
        """Drop the nodes that only built something a layer now does itself (a causal mask), and
        whatever fed only them."""
        pending = list(self.unused)
        while pending:
            node_id = pending.pop()
            if node_id not in {node.id for node in self.net.nodes} or self.net.out_edges(node_id):
                continue
            node = self.net.node(node_id)
            if node.spec.role != "layer":
                continue
            feeders = [e.source for e in self.net.in_edges(node_id)]
            self.net.remove_node(node_id)
            self.report_opaque = [(name, why) for name, why in self.report_opaque if name != node.name]
            self.report_mapped = [(name, why) for name, why in self.report_mapped if name != node.name]
            self.states.pop(node_id, None)
            pending.extend(feeders)

    def our_module(self, n: Any, m: Any, cls: str) -> Source:
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
            params = encoder_params(layers[0]) or {}
            params.update(num_layers=len(layers), causal=bool(m.causal))
            type_id = "TransformerEncoder" if cls == "TransformerEncoderStack" else "TransformerDecoder"
            return self.mapped(n, type_id, inputs, params, n.target, state)
        assert cls == "ImportedOp"
        return self.imported_again(n, m, inputs)

    def imported_again(self, n: Any, m: Any, inputs: list[Source]) -> Source:
        """An ImportedOp of a project exported earlier: the same op again, with fresh records."""
        init = {}
        if m.op == "tensor":
            init = {"shape": list(m.value.shape), "dtype": str(m.value.dtype).removeprefix("torch."),
                    "trainable": any(p is m.value for p in m.parameters())}
        elif m.op.startswith("nn."):
            init = module_init(m.module) or {}
        t = self.tensor_type(n)
        params = opaque_params(n, m.op, to_json(m.args), to_json(m.kwargs), init, m.pick, inputs, t,
                                sum(p.numel() for p in m.parameters()))
        node_id = self.add_node("ImportedOp", inputs, n.target, params)
        self.states[node_id] = ("", dict(m.state_dict()))
        self.report_opaque.append((self.net.node(node_id).name, f"imported op {m.op}"))
        return Source(node_id, t)

    def opaque_module(self, n: Any, m: Any, why: str, pick: int | tuple[int, ...] = -1,
                      value_node: Any = None) -> Source:
        import torch

        kind = type(m).__name__
        if getattr(torch.nn, kind, None) is not type(m):
            kept = next((note for note in self.kept_whole if note.startswith(f"'{n.target}' ")), None)
            if kept is not None:  # fx could not follow it, and only torch.nn modules are rebuilt by name
                why = f"{kept.partition(') ')[2].removesuffix('; it is kept as one step')}, and as one step it " \
                      f"would run code from the model's file, which imported ops may not"
            raise TorchImportError(f"'{n.target}' ({kind}) cannot be imported: {why}")
        if id(m) in self.used_modules:
            raise TorchImportError(f"module '{n.target}' ({kind}) is used twice; DeepCanvas makes one node per "
                                   f"layer and would duplicate its weights")
        init = module_init(m)
        if init is None:
            raise TorchImportError(f"'{n.target}' ({kind}) cannot be imported: {why}, and its settings cannot be "
                                   f"read back to rebuild it")
        self.used_modules[id(m)] = n.target
        inputs, args, kwargs = self.encode_call(n)
        pick_index = single_pick(pick, n)
        t = self.tensor_type(value_node or n, () if value_node is not None else ())
        params = opaque_params(n, f"nn.{kind}", args, kwargs, init, pick_index, inputs, t,
                                sum(p.numel() for p in m.parameters()))
        node_id = self.add_node("ImportedOp", inputs, n.target, params)
        self.states[node_id] = ("module.", dict(m.state_dict()))
        self.report_opaque.append((self.net.node(node_id).name, f"torch.nn.{kind}: {why}"))
        return Source(node_id, t)

    # .. functions and methods ..............................................................
    def map_function(self, n: Any) -> Source | None:
        return map_function(self, n)

    def encode_call(self, n: Any) -> tuple[list[Source], list[Any], dict[str, Any]]:
        """The call's arguments as JSON with its tensors replaced by "$0", "$1"... in first-use order."""
        inputs: list[Source] = []
        refs: dict[str, int] = {}

        def enc(value: Any) -> Any:
            if hasattr(value, "op"):
                held = self.env.get(value)
                if isinstance(held, Source):
                    if held.node_id not in refs:
                        refs[held.node_id] = len(inputs)
                        inputs.append(held)
                    return f"${refs[held.node_id]}"
                if isinstance(held, TupleValue):
                    raise TorchImportError(f"step '{n.name}' ({describe(n)}) uses a whole tuple from "
                                           f"'{value.name}'; DeepCanvas edges carry single tensors")
                return held
            if isinstance(value, tuple | list):
                return [enc(v) for v in value]
            if isinstance(value, dict):
                return {str(k): enc(v) for k, v in value.items()}
            if isinstance(value, slice) and has_node(value):  # `self.pe[:x.size(0)]`
                return {"$slice": [enc(value.start), enc(value.stop), enc(value.step)]}
            return self.literal(n, value, value)

        args = [enc(a) for a in n.args]
        kwargs = {k: enc(v) for k, v in n.kwargs.items()}
        if _mentions(args, "$N") or _mentions(kwargs, "$N"):
            batch = self._batch_input(inputs)
            if batch != 0:
                args, kwargs = _replaced(args, "$N", f"$N@{batch}"), _replaced(kwargs, "$N", f"$N@{batch}")
        return inputs, args, kwargs

    def _batch_input(self, inputs: list[Source]) -> int:
        """Which of an op's inputs tells the batch size ("$N"); when none is batched (a stored
        token expanded to the batch), the network's first batched input is wired in for it."""
        for i, src in enumerate(inputs):
            if src.type.shape[:1] == (None,):
                return i
        for node in self.net.nodes:
            if node.spec.role == "input":
                held = next((v for v in self.env.values() if isinstance(v, Source) and v.node_id == node.id), None)
                if held is not None and held.type.shape[:1] == (None,):
                    inputs.append(held)
                    return len(inputs) - 1
        raise TorchImportError("a step uses the batch size but the network has no batched input to read it from")

    def opaque_call(self, n: Any, pick: int | tuple[int, ...] = -1, value_node: Any = None) -> Source:
        op = qualified(n)
        if op is None or not op_allowed(op):
            raise TorchImportError(
                f"step '{n.name}' calls {op or describe(n)}, which imported code may not run: imported ops are "
                f"limited to pure tensor operations of torch, torch.nn.functional, Tensor methods and operators. "
                f"Rewrite that step with allowed operations.")
        inputs, args, kwargs = self.encode_call(n)
        if op.startswith("Tensor.") and args and args[0] != "$0":
            raise TorchImportError(f"step '{n.name}' calls the method {op} on a value that is not a tensor")
        t = self.tensor_type(value_node or n)
        params = opaque_params(n, op, args, kwargs, {}, single_pick(pick, n), inputs, t, 0)
        node_id = self.add_node("ImportedOp", inputs, n.name, params)
        self.report_opaque.append((self.net.node(node_id).name, f"{op} has no DeepCanvas layer"))
        return Source(node_id, t)
