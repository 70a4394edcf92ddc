"""Imported code: the node that ``import-torch`` makes for a call DeepCanvas has no layer type for.

An imported op is data, never code: the operation is a name looked up in :data:`ALLOWED_OPS` (pure
tensor functions of torch, torch.nn.functional, Tensor methods and operators) or a torch.nn module
class, and its extra arguments are JSON literals. The shape rule checks both, so a project file
whose op is not on the list fails inference, and compile and export (which need a valid network)
never run it. PyTorch cannot tell us how such a call's output shape depends on its input, so the
importer records the shapes it traced; when the input changes, the op is run on PyTorch's meta device
(shapes only) at two batch sizes to work out its new output, and only when that fails does the node
say what it was traced for.
The shape rule also builds the op on PyTorch's meta device (no memory, no computation), so settings
that torch refuses (an unknown constructor argument, a tensor without a shape, a ``$dtype:`` that
names no dtype) are a problem on the node, not a crash when compiling or exporting. Only that check
imports torch, and only for networks that hold imported ops; its verdict is cached per settings.

Argument markers in ``args``/``kwargs``: ``"$0"``, ``"$1"``... the node's inputs in wiring order,
``"$N"`` the batch size (``"$N@1"`` read from input 1, for ops whose first input is not
batched), ``"$dtype:float32"`` a torch dtype, ``"$device"`` the first input's
device, ``"$inf"``/``"$-inf"``/``"$nan"`` those floats, ``{"$slice": [a, b, c]}`` a slice,
``"$..."`` an Ellipsis; a text that itself starts with ``$`` is written ``"$$..."``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from graph.layers.spec import (
    FLOAT,
    LONG,
    Cost,
    LayerSpec,
    ModuleCall,
    PortSpec,
    ShapeError,
    TensorType,
    format_shape,
)
from graph.params import Bool, Choice, Int, Ints, ParamSpec

CATEGORY = "Imported"
BOOL = "bool"
DTYPES = (FLOAT, LONG, BOOL)

_TORCH = """abs acos acosh add addmm all amax amin any arange argmax argmin argsort asin asinh atan atan2 atanh
baddbmm bmm broadcast_to cat cdist ceil chunk clamp clamp_max clamp_min clip clone concat concatenate cos cosh
cosine_similarity cumprod cumsum diag diagonal div dot einsum eq erf exp exp2 expm1 eye flatten flip floor
floor_divide fmod full full_like gather ge gt hypot index_select isfinite isinf isnan kron le lerp linspace log
log10 log1p log2 log_softmax logical_and logical_not logical_or logsumexp lt masked_fill matmul max maximum mean
min minimum mm movedim mul nan_to_num narrow ne neg norm ones ones_like outer permute pow prod reciprocal relu
remainder repeat_interleave reshape roll round rsqrt select sigmoid sign sin sinh softmax sort split sqrt square
squeeze stack std sub sum swapaxes t tan tanh tensordot tile topk transpose tril triu unbind unflatten unsqueeze
var where zeros zeros_like"""
_FUNCTIONAL = """adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d
alpha_dropout avg_pool1d avg_pool2d avg_pool3d batch_norm bilinear celu conv1d conv2d conv3d conv_transpose1d
conv_transpose2d cosine_similarity dropout dropout1d dropout2d elu embedding fold gelu glu group_norm hardshrink
hardsigmoid hardswish hardtanh instance_norm interpolate layer_norm leaky_relu linear local_response_norm
log_softmax logsigmoid max_pool1d max_pool2d max_pool3d mish normalize one_hot pad pairwise_distance pixel_shuffle
pixel_unshuffle prelu relu relu6 scaled_dot_product_attention selu sigmoid silu softmax softmin softplus
softshrink softsign tanh tanhshrink threshold unfold"""
_TENSOR = """abs add addmm all amax amin any argmax argmin argsort bmm bool chunk clamp clamp_max clamp_min clip
clone contiguous cos cumsum detach div double eq exp expand expand_as flatten flip float floor gather ge gt half
index_select int le log log_softmax long lt masked_fill matmul max mean min mm mul narrow ne neg new_full
new_ones new_zeros norm permute pow prod reciprocal relu repeat repeat_interleave reshape reshape_as roll round
rsqrt sigmoid sign sin softmax sort split sqrt square squeeze std sub sum t tanh tile to topk transpose tril triu
type_as unbind unflatten unsqueeze var view view_as where"""
_OPERATOR = "abs add and_ eq floordiv ge getitem gt invert le lt matmul mod mul ne neg or_ pos pow sub truediv xor"

#: every function an imported op may call, by the name it is stored under
ALLOWED_OPS: frozenset[str] = frozenset(
    [f"torch.{n}" for n in _TORCH.split()] + [f"F.{n}" for n in _FUNCTIONAL.split()]
    + [f"Tensor.{n}" for n in _TENSOR.split()] + [f"operator.{n}" for n in _OPERATOR.split()])
#: besides ALLOWED_OPS: "nn.<Class>" builds that torch.nn module class from literal keyword
#: arguments ("init"), and "tensor" holds one learned or fixed tensor (a model's own parameter)
_NN_CLASS = re.compile(r"nn\.[A-Z][A-Za-z0-9]*")

MAX_TEXT = 200
#: output types worked out on the meta device for inputs other than the traced ones
_REINFERRED: dict[tuple, TensorType | None] = {}
#: verdicts of the meta-device build, by (op, init, args, kwargs): a parameter count or a message
_BUILT: dict[tuple[str, str, str, str], int | str] = {}
_BUILT_LIMIT = 1024

log = logging.getLogger(__name__)


def op_allowed(op: str) -> bool:
    return op in ALLOWED_OPS or op == "tensor" or bool(_NN_CLASS.fullmatch(op))


def parse_json(text: str, what: str, kind: type) -> Any:
    """A JSON list or object from a param; a malformed one is a ShapeError naming the param."""
    if not text.strip():
        return kind()
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ShapeError(f"has malformed {what} {text[:40]!r}: it must be JSON.") from None
    if not isinstance(value, kind):
        raise ShapeError(f"has {what} that are not a JSON {'list' if kind is list else 'object'}.")
    return value


def decode_literal(value: Any) -> Any:
    """JSON -> the Python literal the module receives: lists become tuples, ``{"$slice": ...}`` a
    slice and ``"$..."`` an Ellipsis; every other marker stays text for the module to resolve."""
    if isinstance(value, list):
        return tuple(decode_literal(v) for v in value)
    if isinstance(value, dict):
        if set(value) == {"$slice"} and isinstance(value["$slice"], list) and len(value["$slice"]) == 3:
            return slice(*(decode_literal(v) for v in value["$slice"]))
        return {str(k): decode_literal(v) for k, v in value.items()}
    if value == "$...":
        return Ellipsis
    return value


def input_refs(value: Any) -> set[int]:
    """The input indices ("$0", "$1", ...) an argument structure refers to."""
    if isinstance(value, str):
        found = re.fullmatch(r"\$(?:N@)?(\d+)", value)
        return {int(found.group(1))} if found else set()
    if isinstance(value, list | tuple):
        return set().union(*(input_refs(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(input_refs(v) for v in value.values())) if value else set()
    return set()


def format_in_shapes(types: list[TensorType]) -> str:
    """How recorded input types read in the param: ``N×3×4:float32, 5:int64``."""
    return ", ".join(f"{format_shape(t.shape)}:{t.dtype}" for t in types)


def _parse_type(text: str) -> TensorType:
    shape_text, _, dtype = text.strip().partition(":")
    dims = tuple(None if d == "N" else int(d) for d in shape_text.split("×")) if shape_text != "scalar" else ()
    return TensorType(dims, dtype or FLOAT)


def dtype_markers(value: Any) -> list[str]:
    """The names in every ``"$dtype:NAME"`` marker of an argument structure."""
    if isinstance(value, str):
        return [value[len("$dtype:"):]] if value.startswith("$dtype:") else []
    if isinstance(value, list | tuple):
        return [name for v in value for name in dtype_markers(v)]
    if isinstance(value, dict):
        return [name for v in value.values() for name in dtype_markers(v)]
    return []


def built_param_count(p) -> int:
    """Learnable values of the op as torch builds it on the meta device; ShapeError, with torch's
    reason, when its settings cannot be built."""
    key = (p["op"], p["init"], p["args"], p["kwargs"])
    verdict = _BUILT.get(key)
    if verdict is None:
        verdict = _build_on_meta(p)
        if len(_BUILT) >= _BUILT_LIMIT:
            _BUILT.clear()
        _BUILT[key] = verdict
    if isinstance(verdict, str):
        raise ShapeError(verdict)
    return verdict


def _build_on_meta(p) -> int | str:
    import torch

    from graph.torch_modules import ImportedOp

    args = decode_literal(parse_json(p["args"], "arguments", list))
    kwargs = decode_literal(parse_json(p["kwargs"], "keyword arguments", dict))
    init = decode_literal(parse_json(p["init"], "module settings", dict))
    for name in dtype_markers(args) + dtype_markers(kwargs):
        try:
            ImportedOp.dtype_named(name)
        except ValueError:
            return (f"has the argument '$dtype:{name[:40]}', which names no torch dtype: use one such as "
                    f"$dtype:float32, $dtype:int64 or $dtype:bool.")
    try:
        with torch.device("meta"):
            module = ImportedOp(p["op"], init, args, kwargs, p["pick"])
    except Exception as exc:  # whatever torch refuses, said as a node problem instead of a traceback
        lines = str(exc).strip().splitlines()
        text = f"missing setting {exc}" if isinstance(exc, KeyError) else (lines[0] if lines else "no reason given")
        log.debug("imported op %s does not build on meta", p["op"], exc_info=True)
        return (f"cannot be built from its settings ({type(exc).__name__}: {text[:200]}): fix its module "
                f"settings or arguments, or replace it with a layer from the palette.")
    return sum(t.numel() for t in module.parameters())


def reinfer_on_meta(p, present: list[TensorType]) -> TensorType | None:
    """The op's output type for inputs other than those it was traced with, worked out by running
    it on PyTorch's meta device (shapes only: no memory, no computation) at two batch sizes, so a
    dimension that follows the batch is told from a fixed one. None when the op cannot take them
    (the caller then says what it was traced for)."""
    key = (p["op"], p["init"], p["args"], p["kwargs"], p["pick"], tuple(present))
    if key in _REINFERRED:
        return _REINFERRED[key]
    result = _run_on_meta(p, present)
    if len(_REINFERRED) >= _BUILT_LIMIT:
        _REINFERRED.clear()
    _REINFERRED[key] = result
    return result


def _run_on_meta(p, present: list[TensorType]) -> TensorType | None:
    import torch

    from graph.torch_modules import ImportedOp

    try:
        args = decode_literal(parse_json(p["args"], "arguments", list))
        kwargs = decode_literal(parse_json(p["kwargs"], "keyword arguments", dict))
        init = decode_literal(parse_json(p["init"], "module settings", dict))
        shapes = []
        with torch.device("meta"):
            module = ImportedOp(p["op"], init, args, kwargs, p["pick"])
            for batch in (2, 3):
                tensors = []
                for t in present:
                    dims = tuple(batch if d is None else d for d in t.shape)
                    tensors.append(torch.empty(dims, dtype=getattr(torch, t.dtype)))
                out = module(*tensors)
                if not isinstance(out, torch.Tensor):
                    return None
                shapes.append((tuple(out.shape), str(out.dtype).removeprefix("torch.")))
    except Exception:   # the op does not take these inputs: the recorded-shape message explains
        log.debug("imported op %s cannot be re-inferred on meta", p["op"], exc_info=True)
        return None
    (two, dtype), (three, _) = shapes
    if len(two) != len(three):
        return None
    follows = [i for i, (a, b) in enumerate(zip(two, three, strict=True)) if a != b]
    batched = any(t.shape[:1] == (None,) for t in present)
    if follows not in ([], [0]) or (follows == [0]) != batched:
        return None     # the batch moved to another dimension, or appeared from nowhere: not a shape rule
    shape = (None, *two[1:]) if follows == [0] else two
    return TensorType(shape, dtype)


def _infer(p, ins):
    if not op_allowed(p["op"]):
        raise ShapeError(f"calls {p['op']!r}, which imported code may not run (it is not a pure tensor "
                         f"operation DeepCanvas knows): replace the node with a layer from the palette.")
    args = parse_json(p["args"], "arguments", list)
    kwargs = parse_json(p["kwargs"], "keyword arguments", dict)
    parse_json(p["init"], "module settings", dict)
    built_param_count(p)
    refs = input_refs(args) | input_refs(kwargs)
    present = [t for t in ins if t is not None]
    if refs != set(range(len(present))):
        if refs and max(refs) >= len(refs):  # "$5" with one input: the arguments are off, not the wiring
            raise ShapeError(f"has arguments that refer to inputs {', '.join(f'${i}' for i in sorted(refs))}; "
                             f"an imported op's inputs are numbered $0, $1, ... in the order they are wired.")
        raise ShapeError(f"was imported with {len(refs)} input(s) but has {len(present)} wired: wire them as "
                         f"they were imported.")
    if p["in_shapes"].strip():
        try:
            expected = [_parse_type(t) for t in p["in_shapes"].split(",")]
        except ValueError:
            raise ShapeError("has malformed recorded input shapes.") from None
        if expected != present:
            reinferred = reinfer_on_meta(p, present)
            if reinferred is not None:
                return reinferred
            raise ShapeError(
                f"is imported code that was traced for input {format_in_shapes(expected) or 'none'} but now "
                f"receives {format_in_shapes(present) or 'none'}; DeepCanvas cannot work out how imported code "
                f"changes shapes: restore the input or replace this node with layers from the palette.")
    elif not p["batched"] or not p["out_shape"]:
        # drawn by hand without a record: assume the op keeps its first input's shape
        if present:
            return present[0]
    shape = tuple(p["out_shape"])
    return TensorType((None, *shape) if p["batched"] else shape, p["out_dtype"])


def _build(p, ins):
    return ModuleCall("dc.ImportedOp", {
        "op": p["op"], "init": decode_literal(parse_json(p["init"], "module settings", dict)),
        "args": decode_literal(parse_json(p["args"], "arguments", list)),
        "kwargs": decode_literal(parse_json(p["kwargs"], "keyword arguments", dict)), "pick": p["pick"]})


def _text(name: str, default: str, help_text: str) -> ParamSpec:
    return ParamSpec(name, "str", default, help_text)


IMPORTED_OP = LayerSpec(
    type_id="ImportedOp",
    display_name="Imported op",
    category=CATEGORY,
    description="Imported PyTorch code that has no DeepCanvas layer: it runs the recorded call (a "
                "pure tensor function or a torch.nn module) as traced from the imported model. When its input "
                "changes, its output shape is worked out again by running it on PyTorch's meta device.",
    inputs=(PortSpec("in", multi=True, help="the tensors the call reads, in argument order"),),
    params=(
        _text("op", "torch.clone", "What is called: torch.X, F.X (torch.nn.functional), Tensor.X (a method), "
              "operator.X, nn.X (a torch.nn module) or tensor (a stored tensor). Only pure tensor "
              "operations are allowed."),
        _text("args", '["$0"]', "Positional arguments as JSON; \"$0\", \"$1\"... are the inputs, \"$N\" the "
              "batch size."),
        _text("kwargs", "{}", "Keyword arguments as JSON."),
        _text("init", "{}", "For nn.X: the module's constructor arguments as JSON; for tensor: its shape."),
        Int("pick", -1, "Which element of a tuple result to pass on; -1 passes the result itself.", -1, 64),
        _text("in_shapes", "", "Input shapes recorded at import (the op is only known to work on these)."),
        Ints("out_shape", (), "Output shape recorded at import (per sample when batched).", min_length=0,
             minimum=0, maximum=1_000_000_000),
        Choice("out_dtype", FLOAT, DTYPES, "Output dtype recorded at import."),
        Bool("batched", True, "Whether the output's first dimension is the batch."),
        Int("param_count", 0, "Learnable values the op holds (for the summary).", 0, 10**12),
    ),
    infer=_infer,
    build=_build,
    cost=lambda p, ins, out: Cost(built_param_count(p), 0),
    sample_inputs=(TensorType((None, 6, 5)),),
    tags=("imported",),
)

LAYERS = (IMPORTED_OP,)
