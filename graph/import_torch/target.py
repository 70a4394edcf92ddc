"""Finding the model to import (``MODULE:CLASS``) and the example batch it is traced with."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graph.import_torch.report import TorchImportError
from graph.tensor_type import FLOAT, LONG


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
                   dtypes: Sequence[str] | None = None, target: Any = None) -> list[Any]:
    """Per-sample shapes (and dtypes) when given, else the target's own ``sample_inputs`` (an
    attribute of the class or function, for files that hold several models), else the module's
    ``sample_inputs()``. Sample inputs may hold tuples of tensors (an LSTM's (h, c))."""
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
    fn = getattr(target, "sample_inputs", None) if target is not None else None
    if not callable(fn):
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
    from graph.import_torch.report import flatten_tensors

    if not items or not all(isinstance(t, torch.Tensor) and t.dim() >= 1 for t in flatten_tensors(items)):
        raise TorchImportError("sample_inputs() must return a tensor or a list of batched tensors (or tuples "
                               "of them)")
    return items
