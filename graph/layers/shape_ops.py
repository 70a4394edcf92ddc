"""Shape operations: reorder, add or drop dimensions, and cut a tensor into pieces.

They move values without computing anything, keep the dtype (token ids pass through), and never
touch the batch dimension: every dim they name counts the batch as 0 (as ``x.permute(0, 2, 1)``
does) but must be a per-sample one.

Cutting (Chunk, Split) gives several tensors, while a node has one output: each node passes on one
piece, chosen by ``index``, and a model that uses every piece gets one node per piece (the import
does exactly that). Each piece is a view, so several nodes on one input cost no extra memory.
"""

from __future__ import annotations

from graph.layers.spec import (
    LayerSpec,
    ModuleCall,
    ShapeError,
    TensorType,
    check_dim,
    first,
    format_shape,
)
from graph.params import Int, Ints

CATEGORY = "Shape"
_SAMPLE = (TensorType((None, 6, 5)),)


def _replace(t: TensorType, dims: tuple) -> TensorType:
    return TensorType(dims, t.dtype)


IDENTITY = LayerSpec(
    type_id="Identity",
    display_name="Identity",
    category=CATEGORY,
    description="Pass the input on unchanged: a placeholder where a block may hold a layer or not.",
    infer=lambda p, ins: first(ins),
    build=lambda p, ins: ModuleCall("nn.Identity", {}),
    sample_inputs=_SAMPLE,
    tags=("view",),
)


def _permute_infer(p, ins):
    t = first(ins)
    dims = tuple(p["dims"])
    if len(dims) != t.rank or sorted(dims) != list(range(t.rank)):
        raise ShapeError(f"has order {format_shape(dims)}, which must list each dimension of its "
                         f"{format_shape(t.shape)} input once (0 to {t.rank - 1}, the batch counted as 0).")
    if dims[0] != 0:
        raise ShapeError("would move the batch dimension: start the order with 0 (e.g. 0, 2, 1).")
    return _replace(t, tuple(t.shape[d] for d in dims))


PERMUTE = LayerSpec(
    type_id="Permute",
    display_name="Permute",
    category=CATEGORY,
    description="Reorder the dimensions (x.permute): e.g. 0, 2, 3, 1 turns N×C×H×W images into "
                "N×H×W×C; the batch stays first.",
    params=(Ints("dims", (0, 2, 1), "New order of the dimensions, counting the batch as 0 (which stays "
                 "first).", min_length=2, minimum=0, maximum=7),),
    infer=_permute_infer,
    build=lambda p, ins: ModuleCall("dc.Permute", {"dims": tuple(p["dims"])}),
    sample_inputs=_SAMPLE,
    examples=({"dims": (0, 1, 2)},),
    tags=("view",),
)


def _transpose_infer(p, ins):
    t = first(ins)
    a = check_dim(t, p["dim0"], "dim0")
    b = check_dim(t, p["dim1"], "dim1")
    shape = list(t.shape)
    shape[a], shape[b] = shape[b], shape[a]
    return _replace(t, tuple(shape))


TRANSPOSE = LayerSpec(
    type_id="Transpose",
    display_name="Transpose",
    category=CATEGORY,
    description="Swap two dimensions (x.transpose): e.g. 1 and 2 turns N×L×D sequences into N×D×L "
                "signals for a Conv1d.",
    params=(
        Int("dim0", 1, "First dimension to swap (the batch is 0; -1 the last).", -8, 8),
        Int("dim1", 2, "Second dimension to swap.", -8, 8),
    ),
    infer=_transpose_infer,
    build=lambda p, ins: ModuleCall("dc.Transpose", {"dim0": p["dim0"], "dim1": p["dim1"]}),
    sample_inputs=_SAMPLE,
    examples=({"dim0": -1, "dim1": 1},),
    tags=("view",),
)


def _squeeze_infer(p, ins):
    t = first(ins)
    d = check_dim(t, p["dim"], "dim")
    if t.shape[d] != 1:
        raise ShapeError(f"removes dimension {p['dim']}, which has size {t.shape[d]} in {format_shape(t.shape)}; "
                         f"only a dimension of size 1 can be removed: pick that one.")
    return _replace(t, t.shape[:d] + t.shape[d + 1:])


SQUEEZE = LayerSpec(
    type_id="Squeeze",
    display_name="Squeeze",
    category=CATEGORY,
    description="Remove one dimension of size 1 (x.squeeze(dim)): N×1×L -> N×L.",
    params=(Int("dim", 1, "The size-1 dimension to remove (the batch is 0; -1 the last).", -8, 8),),
    infer=_squeeze_infer,
    build=lambda p, ins: ModuleCall("dc.Squeeze", {"dim": p["dim"]}),
    sample_inputs=(TensorType((None, 1, 5)),),
    examples=({"dim": -2},),
    tags=("view",),
)


def _unsqueeze_infer(p, ins):
    t = first(ins)
    d = p["dim"] if p["dim"] >= 0 else p["dim"] + t.rank + 1
    if d < 1 or d > t.rank:
        raise ShapeError(f"inserts at {p['dim']}, which is not a place after the batch in a "
                         f"{format_shape(t.shape)} tensor (valid: 1..{t.rank} or -1..-{t.rank}).")
    return _replace(t, t.shape[:d] + (1,) + t.shape[d:])


UNSQUEEZE = LayerSpec(
    type_id="Unsqueeze",
    display_name="Unsqueeze",
    category=CATEGORY,
    description="Insert a dimension of size 1 (x.unsqueeze(dim)): N×L -> N×1×L gives a Conv1d one channel.",
    params=(Int("dim", 1, "Where the new dimension goes (the batch is 0; -1 after the last).", -9, 9),),
    infer=_unsqueeze_infer,
    build=lambda p, ins: ModuleCall("dc.Unsqueeze", {"dim": p["dim"]}),
    sample_inputs=_SAMPLE,
    examples=({"dim": -1},),
    tags=("view",),
)


def _piece(t: TensorType, d: int, sizes: list[int], index: int, what: str) -> TensorType:
    if not -len(sizes) <= index < len(sizes):
        raise ShapeError(f"passes on piece {index}, but {what} gives {len(sizes)} piece(s) "
                         f"({', '.join(map(str, sizes))}): pick an index from 0 to {len(sizes) - 1}.")
    shape = list(t.shape)
    shape[d] = sizes[index]
    return _replace(t, tuple(shape))


def chunk_sizes(size: int, chunks: int) -> list[int]:
    """The sizes torch.chunk gives: pieces of ceil(size / chunks), the last one smaller; it may
    give fewer than ``chunks`` pieces."""
    step = -(-size // chunks)
    return [min(step, size - start) for start in range(0, size, step)]


def split_sizes(size: int, sizes: tuple[int, ...]) -> list[int] | None:
    """The sizes torch.split gives for one piece size or a list of section sizes (None: they do
    not add up)."""
    if len(sizes) == 1:
        return [min(sizes[0], size - start) for start in range(0, size, sizes[0])]
    return list(sizes) if sum(sizes) == size else None


def _chunk_infer(p, ins):
    t = first(ins)
    d = check_dim(t, p["dim"], "dim")
    return _piece(t, d, chunk_sizes(t.shape[d], p["chunks"]), p["index"],
                  f"cutting size {t.shape[d]} into {p['chunks']} chunks")


CHUNK = LayerSpec(
    type_id="Chunk",
    display_name="Chunk",
    category=CATEGORY,
    description="Cut a dimension into equal pieces (x.chunk) and pass on one of them; use one Chunk node "
                "per piece you need (e.g. the two halves of a gated unit).",
    params=(
        Int("chunks", 2, "Number of pieces (the last may be smaller).", 1, 65536),
        Int("dim", 1, "Dimension to cut (the batch is 0; -1 the last).", -8, 8),
        Int("index", 0, "Which piece to pass on (0 the first, -1 the last).", -65536, 65535),
    ),
    infer=_chunk_infer,
    build=lambda p, ins: ModuleCall("dc.Chunk", {"chunks": p["chunks"], "dim": p["dim"], "index": p["index"]}),
    sample_inputs=_SAMPLE,
    examples=({"chunks": 4, "dim": -1, "index": -1}, {"chunks": 3, "dim": 1, "index": 1}),
    tags=("view",),
)


def _split_infer(p, ins):
    t = first(ins)
    d = check_dim(t, p["dim"], "dim")
    sizes = split_sizes(t.shape[d], p["sizes"])
    if sizes is None:
        raise ShapeError(f"cuts dimension {p['dim']} into sections {format_shape(p['sizes'])} that add up to "
                         f"{sum(p['sizes'])}, but it has size {t.shape[d]}: make them add up to {t.shape[d]}.")
    return _piece(t, d, sizes, p["index"], f"splitting size {t.shape[d]} by {format_shape(p['sizes'])}")


SPLIT = LayerSpec(
    type_id="Split",
    display_name="Split",
    category=CATEGORY,
    description="Cut a dimension into pieces of a given size, or into sections of given sizes (x.split), "
                "and pass on one of them; use one Split node per piece you need.",
    params=(
        Ints("sizes", (2,), "One number: the size of every piece (the last may be smaller); several: the "
             "size of each section (they must add up to the dimension).", minimum=1, maximum=1_000_000),
        Int("dim", 1, "Dimension to cut (the batch is 0; -1 the last).", -8, 8),
        Int("index", 0, "Which piece to pass on (0 the first, -1 the last).", -65536, 65535),
    ),
    infer=_split_infer,
    build=lambda p, ins: ModuleCall("dc.Split", {"sizes": tuple(p["sizes"]), "dim": p["dim"],
                                                 "index": p["index"]}),
    sample_inputs=_SAMPLE,
    examples=({"sizes": (1, 4), "dim": -1, "index": 1}, {"sizes": (4,), "dim": 1, "index": -1}),
    tags=("view",),
)

LAYERS = (IDENTITY, PERMUTE, TRANSPOSE, SQUEEZE, UNSQUEEZE, CHUNK, SPLIT)
