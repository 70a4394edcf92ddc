"""The few torch modules that torch.nn lacks in the form a drawn node needs.

Each class depends only on ``math``, ``torch`` and ``torch.nn``: the exporter copies the source of
the ones a network uses into the generated script, so the script and the compiled module run the
same code and the script needs nothing but torch.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Reshape(nn.Module):
    """Reshape every sample, keeping the batch dimension."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class GlobalAvgPool(nn.Module):
    """Average over every dimension after the channels: N×C×... -> N×C."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=tuple(range(2, x.dim())))


class SequencePool(nn.Module):
    """Reduce a sequence N×L×D to one vector per sample (mean, max, first or last step)."""

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "mean":
            return x.mean(dim=1)
        if self.mode == "max":
            return x.amax(dim=1)
        if self.mode == "first":
            return x[:, 0]
        return x[:, -1]


class RecurrentLayer(nn.Module):
    """RNN, GRU or LSTM on batch-first sequences, returning either the whole output sequence or
    the final step (both directions' final states when bidirectional)."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, return_sequence: bool = True) -> None:
        super().__init__()
        cell = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.rnn = cell(input_size, hidden_size, num_layers=num_layers, batch_first=True,
                        bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.bidirectional = bidirectional
        self.hidden_size = hidden_size
        self.return_sequence = return_sequence

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        if self.return_sequence:
            return out
        if not self.bidirectional:
            return out[:, -1]
        h = self.hidden_size
        # the forward direction ends at the last step, the backward one at the first
        return torch.cat([out[:, -1, :h], out[:, 0, h:]], dim=-1)


class StatefulRecurrent(nn.Module):
    """RNN, GRU or LSTM on batch-first sequences that starts from a given state and also gives its
    final state: (output sequence, h_n) or, for an LSTM, (output sequence, h_n, c_n). States are
    batch-first, N×(layers·directions)×hidden, so they travel along edges like any other batched
    tensor; a language model feeds one batch's final state to the next. A state left out starts
    from zeros."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        cell = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.rnn = cell(input_size, hidden_size, num_layers=num_layers, batch_first=True,
                        bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.kind = kind

    def _state(self, x: torch.Tensor, given: torch.Tensor | None) -> torch.Tensor:
        if given is not None:
            return given.transpose(0, 1).contiguous()   # torch keeps states layers-first
        layers = self.rnn.num_layers * (2 if self.rnn.bidirectional else 1)
        return x.new_zeros(layers, x.shape[0], self.rnn.hidden_size)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None,
                c0: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        if self.kind == "lstm":
            state = None if h0 is None and c0 is None else (self._state(x, h0), self._state(x, c0))
            out, (h, c) = self.rnn(x, state)
            return out, h.transpose(0, 1), c.transpose(0, 1)
        out, h = self.rnn(x, None if h0 is None else self._state(x, h0))
        return out, h.transpose(0, 1)


class Attention(nn.Module):
    """Multi-head attention on batch-first tensors: self-attention when only a query is wired,
    cross-attention when a key (and value) come from elsewhere."""

    def __init__(self, embed_dim: int, num_heads: int, kdim: int, vdim: int, dropout: float = 0.0,
                 bias: bool = True, causal: bool = False) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, bias=bias,
                                          kdim=kdim, vdim=vdim, batch_first=True)
        self.causal = causal

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None) -> torch.Tensor:
        key = query if key is None else key
        value = key if value is None else value
        mask = None
        if self.causal:
            lq, lk = query.shape[1], key.shape[1]
            mask = torch.ones(lq, lk, dtype=torch.bool, device=query.device).triu(1)
        out, _ = self.attn(query, key, value, attn_mask=mask, need_weights=False)
        return out


class PositionalEncoding(nn.Module):
    """Add position information to a sequence N×L×D: fixed sinusoids or a learned table."""

    def __init__(self, d_model: int, max_len: int = 512, kind: str = "sinusoidal", dropout: float = 0.0) -> None:
        super().__init__()
        self.kind = kind
        self.dropout = nn.Dropout(dropout)
        if kind == "learned":
            self.table = nn.Parameter(torch.zeros(max_len, d_model))
            nn.init.normal_(self.table, std=0.02)
        else:
            position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
            freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
            table = torch.zeros(max_len, d_model)
            table[:, 0::2] = torch.sin(position * freq)
            table[:, 1::2] = torch.cos(position * freq)[:, : d_model // 2]
            # derived from the config, so kept out of the state dict
            self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.table[: x.shape[1]])


class TransformerEncoderStack(nn.Module):
    """N Transformer encoder layers on batch-first sequences."""

    def __init__(self, d_model: int, num_heads: int, num_layers: int, dim_feedforward: int,
                 dropout: float = 0.1, activation: str = "relu", norm_first: bool = False,
                 causal: bool = False) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout,
                                           activation=activation, batch_first=True, norm_first=norm_first)
        self.layers = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = None
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], device=x.device)
        return self.layers(x, mask=mask, is_causal=self.causal)


class TransformerDecoderStack(nn.Module):
    """N Transformer decoder layers: self-attention on the target, cross-attention to the memory."""

    def __init__(self, d_model: int, num_heads: int, num_layers: int, dim_feedforward: int,
                 dropout: float = 0.1, activation: str = "relu", norm_first: bool = False,
                 causal: bool = True) -> None:
        super().__init__()
        layer = nn.TransformerDecoderLayer(d_model, num_heads, dim_feedforward, dropout,
                                           activation=activation, batch_first=True, norm_first=norm_first)
        self.layers = nn.TransformerDecoder(layer, num_layers)
        self.causal = causal

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        mask = None
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1], device=tgt.device)
        return self.layers(tgt, memory, tgt_mask=mask, tgt_is_causal=self.causal)


class Add(nn.Module):
    """Element-wise sum of any number of equally shaped tensors (residual connections)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(nn.Module):
    """Element-wise product of equally shaped tensors (gating)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Join tensors along one feature dimension."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)


class Permute(nn.Module):
    """Reorder the dimensions (the batch stays first)."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class Transpose(nn.Module):
    """Swap two dimensions."""

    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(self.dim0, self.dim1)


class Squeeze(nn.Module):
    """Remove one dimension of size 1."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(self.dim)


class Unsqueeze(nn.Module):
    """Insert a dimension of size 1."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(self.dim)


class Chunk(nn.Module):
    """One of the equal pieces torch.chunk cuts a dimension into."""

    def __init__(self, chunks: int, dim: int, index: int) -> None:
        super().__init__()
        self.chunks, self.dim, self.index = chunks, dim, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(self.chunks, self.dim)[self.index]


class Split(nn.Module):
    """One of the pieces torch.split cuts a dimension into (a piece size, or section sizes)."""

    def __init__(self, sizes: tuple[int, ...], dim: int, index: int) -> None:
        super().__init__()
        self.sizes = sizes[0] if len(sizes) == 1 else list(sizes)
        self.dim, self.index = dim, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.split(self.sizes, self.dim)[self.index]


class Reduce(nn.Module):
    """Mean or sum over some dimensions of each sample."""

    def __init__(self, op: str, dims: tuple[int, ...], keepdim: bool = False) -> None:
        super().__init__()
        if op not in ("mean", "sum"):
            raise ValueError(f"unknown reduction {op!r}")
        self.op, self.dims, self.keepdim = op, tuple(dims), keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op == "mean":
            return x.mean(dim=self.dims, keepdim=self.keepdim)
        return x.sum(dim=self.dims, keepdim=self.keepdim)


class MatMul(nn.Module):
    """Matrix product of two batched inputs (a @ b)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class Scale(nn.Module):
    """x * factor (or x / factor) + offset, with constants; a factor of 1 or an offset of 0 is skipped
    so the result is exactly what the plain expression gives."""

    def __init__(self, factor: float = 1.0, divide: bool = False, offset: float = 0.0) -> None:
        super().__init__()
        self.factor, self.divide, self.offset = factor, divide, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor != 1.0:
            x = x / self.factor if self.divide else x * self.factor
        if self.offset != 0.0:
            x = x + self.offset
        return x


class Exp(nn.Module):
    """e to the power of each value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


class Pow(nn.Module):
    """Each value to a constant power."""

    def __init__(self, exponent: float = 2.0) -> None:
        super().__init__()
        self.exponent = exponent

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.pow(x, self.exponent)


class ClassToken(nn.Module):
    """A learned token put in front of every sequence N×L×D -> N×(L+1)×D (ViT's class token)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, d_model))
        nn.init.normal_(self.token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class PositionalEmbedding(nn.Module):
    """A learned vector per position added to fixed-length sequences N×L×D (ViT's pos_embedding)."""

    def __init__(self, length: int, d_model: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, length, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight


class RandnLike(nn.Module):
    """Standard normal noise of the input's shape, drawn on every call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.randn_like(x)


class Sampling(nn.Module):
    """A VAE's reparameterised sample mu + eps * exp(logvar / 2); it samples in eval mode too."""

    def forward(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std


class StochasticDepth(nn.Module):
    """Drops the input per sample ("row") or for the whole batch ("batch") with probability p while
    training, scaling what is kept by 1 / (1 - p); the identity in eval mode."""

    def __init__(self, p: float = 0.2, mode: str = "row") -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        keep = 1.0 - self.p
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * (noise / keep if keep > 0.0 else noise)


class ImportedOp(nn.Module):
    """A call imported from another PyTorch model that DeepCanvas has no layer for: a tensor
    function looked up by name (torch.X, F.X, Tensor.X, operator.X), a torch.nn module built from
    literal arguments (nn.X), or one stored tensor. Arguments are literals; "$0", "$1"... stand for
    the inputs and "$N" for the batch size ("$N@1": the batch size read from input 1, when the
    first input is not batched). Names are looked up, never evaluated."""

    def __init__(self, op: str, init: dict | None = None, args: tuple = ("$0",), kwargs: dict | None = None,
                 pick: int = -1) -> None:
        super().__init__()
        import operator

        self.op, self.args, self.kwargs, self.pick = op, tuple(args), dict(kwargs or {}), pick
        init = dict(init or {})
        namespace, _, name = op.partition(".")
        if not name.isidentifier() and op != "tensor" or name.startswith("_"):
            raise ValueError(f"imported op {op!r} is not a public torch name")
        if op == "tensor":
            if "shape" not in init:
                raise ValueError("a stored tensor needs its 'shape' in the module settings")
            value = torch.zeros(tuple(init["shape"]), dtype=self.dtype_named(init.get("dtype", "float32")))
            if init.get("trainable", True):
                self.value = nn.Parameter(value)
            else:
                self.register_buffer("value", value)
            self.fn = None
        elif namespace == "nn":
            cls = getattr(nn, name)
            if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
                raise ValueError(f"imported op {op!r} is not a torch.nn module")
            self.module = cls(**init)
            self.fn = None
        else:
            owner = {"torch": torch, "F": nn.functional, "Tensor": torch.Tensor, "operator": operator}[namespace]
            self.fn = getattr(owner, name)

    @staticmethod
    def dtype_named(name: object) -> torch.dtype:
        """The torch dtype called ``name`` ("float32", "int64"); any other attribute of torch (a
        function, a module, ``__builtins__``) is refused, so a project file names only dtypes."""
        found = getattr(torch, name, None) if isinstance(name, str) and name.isidentifier() \
            and not name.startswith("_") else None
        if not isinstance(found, torch.dtype):
            raise ValueError(f"{str(name)[:40]!r} is not a torch dtype (such as float32, int64 or bool)")
        return found

    def _value(self, value, inputs: tuple):
        if isinstance(value, str) and value.startswith("$"):
            if value[1:].isdigit():
                return inputs[int(value[1:])]
            if value == "$N":
                return inputs[0].shape[0]
            if value.startswith("$N@") and value[3:].isdigit():  # the batch, read from input k
                return inputs[int(value[3:])].shape[0]
            if value.startswith("$dtype:"):
                return self.dtype_named(value[len("$dtype:"):])
            if value == "$device":
                return inputs[0].device if inputs else torch.device("cpu")
            if value in ("$inf", "$-inf", "$nan"):
                return float(value[1:])
            return value[1:]  # "$$text" -> "$text"
        if isinstance(value, tuple):
            return tuple(self._value(v, inputs) for v in value)
        if isinstance(value, slice):
            return slice(self._value(value.start, inputs), self._value(value.stop, inputs),
                         self._value(value.step, inputs))
        if isinstance(value, dict):
            return {k: self._value(v, inputs) for k, v in value.items()}
        return value

    def forward(self, *inputs: torch.Tensor):
        if self.op == "tensor":
            return self.value
        args = self._value(self.args, inputs)
        kwargs = self._value(self.kwargs, inputs)
        out = (self.module if self.fn is None else self.fn)(*args, **kwargs)
        return out if self.pick < 0 else out[self.pick]
