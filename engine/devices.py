"""Which device trains: CUDA, Apple MPS or the CPU; plus the few device facts the panel shows."""

from __future__ import annotations

import logging
from typing import Any

from engine.errors import TrainingError

log = logging.getLogger(__name__)


def available_devices() -> list[str]:
    """Device names that would work here, best first (always ends with "cpu")."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    found.append("cpu")
    return found


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto") -> Any:
    """``torch.device`` for an option value; asking for a device that is not there is an error that
    says what is available instead of silently training elsewhere."""
    import torch

    if name == "auto":
        return torch.device(available_devices()[0])
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError("CUDA was chosen but no usable NVIDIA GPU was found (is the CUDA build of "
                                "PyTorch installed?): set the device to auto or cpu.", "device")
        return torch.device("cuda")
    if name == "mps":
        if not _mps_available():
            raise TrainingError("MPS was chosen but no Apple GPU is available here: set the device to auto "
                                "or cpu.", "device")
        return torch.device("mps")
    raise TrainingError(f"Unknown device {name!r}: use auto, cpu, cuda or mps.", "device")


def describe_device(device: Any) -> str:
    import torch

    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'s' if threads != 1 else ''})"
    return device.type


def memory_mb(device: Any) -> float | None:
    """Memory the run holds on the device now, in MiB (None on the CPU)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    if device.type == "mps":
        try:
            return torch.mps.current_allocated_memory() / 2**20
        except (AttributeError, RuntimeError):
            return None
    return None


def peak_memory_mb(device: Any) -> float | None:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return memory_mb(device)


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text.lower() or "MPS backend out of memory" in text)


def is_device_error(exc: BaseException) -> bool:
    """CUDA/MPS runtime failures (illegal address, launch failure, ...)."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("CUDA error" in text or "cuDNN error" in text or "CUBLAS" in text
                                              or "MPS" in text)
