"""The walk over a traced graph that builds the network: each step becomes a registry layer,
literals, or an ImportedOp node (graph/layers/opaque.py) recording the call."""

from __future__ import annotations

import math
from typing import Any

from graph.builder import NetworkBuilder
from graph.import_torch.function_table import map_function, map_pick
from graph.import_torch.fx_calls import describe, is_getitem, qualified
from graph.import_torch.module_table import encoder_params, maps_recurrent, module_init, module_layer
from graph.import_torch.records import Source, TupleValue, json_text, opaque_params, single_pick, to_json
from graph.import_torch.report import TorchImportError
from graph.import_torch.tracing import BATCHES, our_class
from graph.layers.opaque import op_allowed
from graph.tensor_type import FLOAT, LONG, TensorType

DTYPES = {"torch.float32": FLOAT, "torch.int64": LONG, "torch.bool": "bool"}


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
                self.net.connect(src.node_id, node.id, "out", spec.inputs[0].name)
        else:
            for port, src in zip(ports or [p.name for p in spec.inputs], inputs, strict=False):
                self.net.connect(src.node_id, node.id, "out", port)
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
            return any(isinstance(v, torch.Tensor) or Converter._tuple_of_tensors(v) for v in value)
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
        return Source(node_id, t)

    def output(self, n: Any) -> None:
        result = n.args[0]
        items = list(result) if isinstance(result, tuple | list) else [result]
        if isinstance(result, dict):
            raise TorchImportError("forward returns a dict; DeepCanvas networks return tensors (or a tuple)")
        for i, item in enumerate(items):
            src = self.source(item, n)
            name = "output" if len(items) == 1 else f"output_{i + 1}"
            self.builder.output(src.node_id, name=name)

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
        found = self.map_function(n)
        if found is not None:
            return found
        return self.opaque_call(n)

    # .. tuples: recurrent layers, attention, multi-output functions ............................
    def pick(self, n: Any, holder: TupleValue, index: Any) -> Any:
        import torch

        base = holder.fx_node
        if not isinstance(index, int):
            raise TorchImportError(f"step '{n.name}' indexes the tuple from '{base.name}' with {index!r}")
        path = (*holder.path, index)
        value = self.v1[base]
        for i in path:
            value = value[i]
        if not isinstance(value, torch.Tensor):
            return TupleValue(base, path)
        if base.op == "call_module":
            module = self.gm.get_submodule(base.target)
            kind = type(module).__name__
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
        import torch

        for key, value in n.kwargs.items():
            if value is not None and value is not False and key not in ("src_key_padding_mask",):
                raise Unsupported(f"called with {key}")
        if len(n.args) != 1 or n.kwargs.get("src_key_padding_mask") is not None:
            raise Unsupported("called with a mask")
        layers = list(m.layers) if isinstance(m, torch.nn.TransformerEncoder) else [m]
        if isinstance(m, torch.nn.TransformerEncoder) and m.norm is not None:
            raise Unsupported("has a final norm")
        first = layers[0]
        params = encoder_params(first)
        if params is None or any(encoder_params(layer) != params for layer in layers):
            raise Unsupported("its layers differ from DeepCanvas's (post/pre-norm, relu/gelu, eps 1e-5, "
                               "batch-first)")
        params["num_layers"] = len(layers)
        prefix = "layers." if isinstance(m, torch.nn.TransformerEncoder) else "layers.layers.0."
        src = self.source(n.args[0], n)
        return self.mapped(n, "TransformerEncoder", [src], params, name=n.target, state=(prefix, m))

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
            return self.literal(n, value, value)

        args = [enc(a) for a in n.args]
        kwargs = {k: enc(v) for k, v in n.kwargs.items()}
        return inputs, args, kwargs

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
