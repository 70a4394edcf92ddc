"""How much memory a network needs to train, and whether the machine that will train it has that much.

A network that asks for 10^12 parameters is valid as a graph, but building it only ends in an
allocator error deep inside PyTorch. The shape pass therefore estimates, per node, the memory that
training keeps alive (weights, their gradients and the optimizer's state, plus the node's output
for one batch, which backward needs) and compares the sum with what is there: the memory this
machine has available, or the GPU's memory when the project trains on CUDA. The estimate is a lower
bound (no allocator slack, no temporary buffers), so a refusal means "this cannot fit", never
"this might be tight".

The limit can be injected, so tests and users on shared machines can set it: :func:`set_memory_limit`
(or the context manager :func:`memory_limit_override`) in-process, or the environment variable
``DEEPCANVAS_MEMORY_LIMIT`` (bytes, or a number with K, M, G or T) for the command line.

No torch here: reading the system's memory costs microseconds and runs on every edit; only a
project that trains on CUDA loads torch to ask for the GPU's size (once per process).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from math import prod
from typing import Any

from graph.errors import GraphError
from graph.tensor_type import TensorType, numel

log = logging.getLogger(__name__)

#: bytes per value of each tensor dtype a network can carry
BYTES_PER_VALUE = {"float32": 4, "int64": 8, "bool": 1}
#: the training options' defaults (engine.options.TrainingOptions; a test keeps them equal). graph
#: cannot import engine, and a project without training settings trains with these.
DEFAULT_BATCH_SIZE = 64
DEFAULT_OPTIMIZER = "adam"
DEFAULT_MOMENTUM = 0.9
#: extra float32 values the optimizer keeps per parameter (momentum buffers, Adam's two moments)
_OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 1}
#: how long a reading of the system's available memory is reused (it changes as other programs run)
_SYSTEM_READING_TTL_S = 60.0
#: readings are rounded down to this, so small fluctuations do not invalidate cached analyses
_QUANTUM = 64 * 2**20
ENV_VAR = "DEEPCANVAS_MEMORY_LIMIT"


class TooBigError(GraphError):
    """The network cannot fit the memory of the machine (or GPU) that would train it."""


@dataclass(frozen=True)
class MemoryLimit:
    """How much memory there is, and a sentence end that says where: ``"this machine has {size}
    of memory available"`` (``{size}`` is filled in with the amount)."""

    bytes: int
    where: str

    def describe(self) -> str:
        return self.where.format(size=format_bytes(self.bytes))


@dataclass(slots=True)  # not frozen: made for every node on every edit, and frozen init is slow
class NodeMemory:
    """What one node keeps alive while training: learnable values, and bytes of output per sample
    (scaled by the batch) or fixed (tensors without a batch dimension)."""

    params: int = 0
    per_sample: int = 0
    fixed: int = 0

    def need(self, budget: MemoryBudget) -> int:
        return self.params * budget.bytes_per_param + self.per_sample * budget.batch_size + self.fixed

    def activations(self, budget: MemoryBudget) -> int:
        return self.per_sample * budget.batch_size + self.fixed


@dataclass(frozen=True)
class MemoryBudget:
    batch_size: int
    #: bytes per learnable value: the float32 weight, its gradient and the optimizer's state
    bytes_per_param: int
    limit: MemoryLimit | None

    @property
    def key(self) -> tuple[Any, ...]:
        """What an analysis cached under this budget depends on."""
        return self.batch_size, self.bytes_per_param, self.limit


# -- per node --------------------------------------------------------------------------------------
def node_memory(out: TensorType | None, params: int, extra_per_sample: int = 0, *, keeps_output: bool = True
                ) -> NodeMemory:
    """The estimate for one node from its output type and parameter count. ``keeps_output`` is
    False for nodes whose output is no new memory (an Output node, a Flatten that is a view)."""
    if out is None or not keeps_output:
        return NodeMemory(params, extra_per_sample, 0)
    shape = out.shape
    if shape and shape[0] is None:
        return NodeMemory(params, prod(shape[1:]) * BYTES_PER_VALUE.get(out.dtype, 4) + extra_per_sample, 0)
    return NodeMemory(params, extra_per_sample, numel(shape) * BYTES_PER_VALUE.get(out.dtype, 4))


# -- the budget -------------------------------------------------------------------------------------
def training_settings(network: Any) -> Mapping[str, Any]:
    """The training settings of the project the network belongs to ({} for a bare network)."""
    library = getattr(network, "library", None)
    project = getattr(library, "project", None)
    settings = getattr(project, "settings", None) or {}
    training = settings.get("training") if isinstance(settings, Mapping) else None
    return training if isinstance(training, Mapping) else {}


def budget_for(network: Any, *, batch_size: int | None = None, device: str | None = None) -> MemoryBudget:
    """The budget a network trains under: its project's batch size, optimizer and device, unless
    given here (the ``train`` command's ``--batch-size`` and ``--device``)."""
    training = training_settings(network)
    batch = batch_size if batch_size is not None else training.get("batch_size", DEFAULT_BATCH_SIZE)
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        batch = DEFAULT_BATCH_SIZE  # the options form reports a bad value; here it only sizes the estimate
    optimizer = training.get("optimizer", DEFAULT_OPTIMIZER)
    momentum = training.get("momentum", DEFAULT_MOMENTUM)
    states = _OPTIMIZER_STATES.get(optimizer, 0) if isinstance(optimizer, str) else 0
    if optimizer == "sgd" and not momentum:
        states = 0
    chosen = device if device is not None else training.get("device", "auto")
    meta = getattr(network, "meta", None) or {}
    # a block's inside is checked as a part of the network that uses it, not on its own
    limit = None if meta.get("inside_block") else memory_limit(chosen if isinstance(chosen, str) else "auto")
    return MemoryBudget(batch, 4 * (2 + states), limit)


def check_memory(nodes: Mapping[str, NodeMemory], budget: MemoryBudget, label_of: Callable[[str], str]
                 ) -> tuple[str, str] | None:
    """(node id, message) when the nodes cannot fit the budget's limit, else None. ``nodes`` maps
    each node id to its estimate, ``label_of`` names a node in the message (``Dense 'fc1'``). The
    message names the node that needs most: a single node over the limit is the one to change;
    otherwise the biggest is where shrinking helps most."""
    limit = budget.limit
    if limit is None or not nodes:
        return None
    needs = {node_id: mem.need(budget) for node_id, mem in nodes.items()}
    total = sum(needs.values())
    if total <= limit.bytes:
        return None
    biggest = max(needs, key=lambda k: needs[k])
    mem = nodes[biggest]
    label = label_of(biggest)
    parts = []
    if mem.params:
        parts.append(f"{mem.params:,} parameters × {budget.bytes_per_param} bytes for weights, gradients and "
                     f"optimizer state = {format_bytes(mem.params * budget.bytes_per_param)}")
    if mem.activations(budget):
        parts.append(f"its output for a batch of {budget.batch_size}: {format_bytes(mem.activations(budget))}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    if needs[biggest] > limit.bytes:
        head = f"{label} needs {format_bytes(needs[biggest])} to train{detail}, but {limit.describe()}"
        if total > needs[biggest] * 1.01:
            head += f" (the whole network needs {format_bytes(total)})"
    else:
        head = (f"The network needs {format_bytes(total)} to train with a batch of {budget.batch_size}, but "
                f"{limit.describe()}; its biggest part is {label}, which needs {format_bytes(needs[biggest])}"
                f"{detail}")
    fix = ("make it smaller (fewer units, filters, channels or layers)"
           if mem.params * budget.bytes_per_param >= mem.activations(budget)
           else f"lower the batch size (now {budget.batch_size}) or make its output smaller")
    return biggest, f"{head}: {fix}, or train on a device with more memory."


# -- how much there is -----------------------------------------------------------------------------
_override: MemoryLimit | None = None
_system_cache: tuple[float, MemoryLimit | None] | None = None
_cuda_cache: MemoryLimit | None | bool = False  # False: not asked yet


def set_memory_limit(limit_bytes: int | None, where: str = "the memory limit set for DeepCanvas is {size}"
                     ) -> MemoryLimit | None:
    """Use this limit instead of measuring (None: measure again); returns the previous override."""
    global _override
    previous = _override
    _override = None if limit_bytes is None else MemoryLimit(int(limit_bytes), where)
    return previous


@contextmanager
def memory_limit_override(limit_bytes: int, where: str = "the memory limit set for DeepCanvas is {size}"
                          ) -> Iterator[None]:
    global _override
    previous = set_memory_limit(limit_bytes, where)
    try:
        yield
    finally:
        _override = previous


def parse_size(text: str) -> int:
    """``"8G"`` -> 8 GiB in bytes; plain digits are bytes. ValueError on anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a size such as 8G or 512M")
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)


def memory_limit(device: str = "auto") -> MemoryLimit | None:
    """How much memory training on ``device`` may use: the injected limit, else the GPU's memory for
    "cuda" (when there is one), else this machine's available memory; None when unknown."""
    if _override is not None:
        return _override
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            return MemoryLimit(parse_size(env), f"the memory limit in {ENV_VAR} is {{size}}")
        except ValueError as exc:
            log.warning("ignoring %s: %s", ENV_VAR, exc)
    if device == "cuda":
        gpu = _cuda_limit()
        if gpu is not None:
            return gpu
    return _system_limit()


def _cuda_limit() -> MemoryLimit | None:
    global _cuda_cache
    if _cuda_cache is False:
        _cuda_cache = None
        try:
            import torch

            if torch.cuda.is_available():
                props = torch.cuda.get_device_properties(torch.cuda.current_device())
                _cuda_cache = MemoryLimit(int(props.total_memory), f"the GPU '{props.name}' has {{size}} of memory")
        except Exception:  # no usable CUDA: the engine says so when training starts
            log.info("could not read the GPU's memory", exc_info=True)
    return _cuda_cache if isinstance(_cuda_cache, MemoryLimit) else None


def _system_limit() -> MemoryLimit | None:
    global _system_cache
    now = time.monotonic()
    if _system_cache is None or now - _system_cache[0] > _SYSTEM_READING_TTL_S:
        available = available_system_memory()
        limit = None if available is None else MemoryLimit(
            max(_QUANTUM, available // _QUANTUM * _QUANTUM), "this machine has {size} of memory available")
        _system_cache = (now, limit)
    return _system_cache[1]


def available_system_memory() -> int | None:
    """Bytes of memory available to a new allocation now: MemAvailable on Linux, the free pages
    elsewhere on POSIX, GlobalMemoryStatusEx on Windows; None when none of those answers."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "win32":
        return _windows_available()
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES") if "SC_AVPHYS_PAGES" in os.sysconf_names else os.sysconf("SC_PHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and size > 0:
            return int(pages) * int(size)
    except (AttributeError, OSError, ValueError):
        pass
    return None


def _windows_available() -> int | None:
    import ctypes

    class _Status(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = _Status()
    status.dwLength = ctypes.sizeof(_Status)
    try:
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return int(status.ullAvailPhys)
    except (AttributeError, OSError):
        pass
    return None


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def check_fits(network: Any, *, batch_size: int | None = None, device: str | None = None) -> None:
    """Raise :class:`TooBigError` when the network cannot train under these options (the ``train``
    command's overrides); the project's own options are already checked by every analysis."""
    from graph.shapes import analyze

    analysis = analyze(network)
    budget = budget_for(network, batch_size=batch_size, device=device)
    nodes = {node_id: info.memory for node_id, info in analysis.nodes.items()}
    found = check_memory(nodes, budget, lambda node_id: network.node(node_id).label())
    if found is not None:
        raise TooBigError(found[1][:1].upper() + found[1][1:])
