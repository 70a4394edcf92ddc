"""A network as a file other tools run: ONNX, a TorchScript archive, a ``torch.export`` program
(``.pt2``) or its weights alone as safetensors.

Every format goes through the compiler, so whatever compiles (every layer type, imported
operations, nested blocks) exports, and the file computes what the app computes. torch, onnx and
safetensors are imported inside the functions: the window loads this module without them.

ONNX uses ``torch.onnx.export(dynamo=True)``: the TorchScript-based exporter is deprecated and
cannot express adaptive pooling to a size that does not divide the input, while the dynamo path
exported every registered layer type in our checks. The batch dimension stays dynamic in every
format, so a file traced on two samples runs on any number.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graph.document import Network, Project
from graph.errors import GraphError
from graph.plan import value_of
from graph.project_file import atomic_write
from graph.state_fit import compare_state

if TYPE_CHECKING:  # pragma: no cover
    from graph.compiler import CompiledNetwork

log = logging.getLogger(__name__)

#: format name -> file extension; "python" is the script export of graph.export_python
FORMATS: dict[str, str] = {"python": ".py", "onnx": ".onnx", "torchscript": ".pt", "pt2": ".pt2",
                           "safetensors": ".safetensors"}
DEFAULT_OPSET = 18
#: samples in the example batch the exporters trace; 2 so that the batch dimension is not
#: specialised away (torch.export treats sizes 0 and 1 as constants)
TRACE_BATCH = 2
#: layers tried one by one to name the node an ONNX export failed at
MAX_CULPRIT_PROBES = 40


class ExportError(GraphError):
    """The network cannot be written in the asked format; the message says why and what to do."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    #: which weights the file holds, as a phrase for the CLI and the status bar
    weights: str


def default_output(project_path: str | os.PathLike[str] | None, project_name: str, fmt: str) -> Path:
    """``digits.dcproj`` -> ``digits.onnx``; an unsaved project is named after the project."""
    ext = FORMATS[fmt]
    if project_path:
        return Path(project_path).with_suffix(ext)
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in project_name.strip()).strip("_")
    return Path(f"{stem or 'model'}{ext}")


def _network(target: Project | Network, network: str | None) -> Network:
    return target if isinstance(target, Network) else target.network(network)


def prepare_model(target: Project | Network, network: str | None = None,
                  weights: Mapping[str, Any] | None = None, seed: int = 0) -> tuple[CompiledNetwork, str]:
    """The compiled network in eval mode with the given state dict (trained weights), or with the
    seeded initial weights; also says which of the two it holds."""
    from graph.compiler import compile_network
    from graph.shapes import require_valid

    net = _network(target, network)
    try:
        require_valid(net)
    except GraphError as exc:
        raise ExportError(f"cannot export: {exc}") from None
    model = compile_network(net, seed=seed)
    if weights:
        load_state(model, weights, f"network '{net.name}'")
        source = "saved weights"
    else:
        source = f"initial weights (seed {seed})"
    return model.eval(), source


def load_state(model: Any, weights: Mapping[str, Any], what: str) -> None:
    """Load a state dict, or say in one sentence which tensors do not fit (a project edited after
    training no longer matches its weights file)."""
    own = model.state_dict()
    mismatch = compare_state(own, weights)
    missing, unexpected, wrong = mismatch.missing, mismatch.unexpected, mismatch.wrong_shape
    if mismatch:
        parts = []
        if missing:
            parts.append(f"no values for {_listed(missing)}")
        if unexpected:
            parts.append(f"values for {_listed(unexpected)}, which the network does not have")
        if wrong:
            parts.append("other shapes for " + _listed(
                [f"{k} ({tuple(weights[k].shape)} instead of {tuple(own[k].shape)})" for k in wrong]))
        raise ExportError(f"the weights do not fit {what}: they hold {'; '.join(parts)}. The network was "
                          f"probably edited after training: train it again, or export without the weights.")
    model.load_state_dict(dict(weights), strict=True)


def _listed(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def example_inputs(model: CompiledNetwork, batch_size: int = TRACE_BATCH, seed: int = 0) -> tuple:
    from graph.compiler import sample_inputs

    return tuple(sample_inputs(model.plan, batch_size, seed))


def _dynamic_batch(inputs: tuple) -> tuple:
    """``dynamic_shapes`` for ``forward(*inputs)``: one entry for the var-args tuple, holding one
    {dim 0: batch} per input."""
    import torch

    batch = torch.export.Dim("batch")
    return (tuple({0: batch} for _ in inputs),)


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """The exporters print progress and warn about things a user cannot act on (deprecations,
    torchvision ops being absent); keep that out of the CLI's output and the log."""
    noisy = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript",
                                                    "onnx_ir", "torch.fx.experimental.symbolic_shapes")]
    levels = [lg.level for lg in noisy]
    for lg in noisy:
        lg.setLevel(logging.CRITICAL)
    buffer = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            warnings.simplefilter("ignore")
            yield buffer
    finally:
        for lg, level in zip(noisy, levels, strict=True):
            lg.setLevel(level)


def _culprit(model: CompiledNetwork, exc: BaseException) -> str:
    """The node an exporter error is about, when its text names one of the module's layers."""
    text = f"{exc}\n{exc.__cause__ or ''}"
    plan = model.plan
    for step in plan.layers:
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(step.name)}(?![A-Za-z0-9_])", text):
            return f" at {step.node.label()}"
    return ""


def _onnx_culprit(model: CompiledNetwork, inputs: tuple, opset: int) -> str:
    """Export the layers one by one (imported ops first, the usual suspects) to find the one ONNX
    cannot express; only run after the whole network failed, so the cost falls on the error path."""
    import torch

    with torch.no_grad():
        env = model.forward_all(*inputs)
    steps = sorted(model.plan.layers, key=lambda s: s.node.type_id != "ImportedOp")[:MAX_CULPRIT_PROBES]
    for step in steps:
        module = getattr(model, step.name)
        args = tuple(value_of(env, a) for a in step.args if a is not None)
        try:
            with _quiet():
                torch.onnx.export(module, args, None, dynamo=True, opset_version=opset, verbose=False,
                                  report=False, optimize=False)
        except Exception:
            return f" at {step.node.label()}"
    return ""


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.strip().startswith("-")]
    found = [ln for ln in lines if "Error" in ln or "not supported" in ln.lower() or "unsupported" in ln.lower()]
    line = (found or lines or [type(exc).__name__])[-1]
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    line = re.sub(r"^<class '[\w.]+'>: ", "", line)
    line = line.rstrip(".")
    return line if len(line) <= 300 else line[:297] + "..."


# -- the formats ------------------------------------------------------------------------------------
def export_onnx(target: Project | Network, path: str | os.PathLike[str], network: str | None = None,
                weights: Mapping[str, Any] | None = None, opset: int = DEFAULT_OPSET, seed: int = 0,
                check: bool = True) -> ExportResult:
    """An ONNX model whose inputs and outputs carry the Input and Output node names and whose
    batch dimension is dynamic; checked with ``onnx.checker`` before it is written."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it; say so before tracing)
    except ImportError as exc:
        raise ExportError(f"ONNX export needs the '{exc.name}' package: pip install onnx onnxscript") from None
    import torch

    model, source = prepare_model(target, network, weights, seed)
    inputs = example_inputs(model)
    path = Path(path)
    try:
        with _quiet():
            program = torch.onnx.export(
                model, inputs, None, dynamo=True, external_data=False, opset_version=opset,
                input_names=list(model.input_names), output_names=list(model.output_names),
                dynamic_shapes=_dynamic_batch(inputs), verbose=False, report=False, optimize=True)
    except Exception as exc:  # the exporters raise many types; each is one message to the user
        log.debug("ONNX export failed", exc_info=True)
        where = _culprit(model, exc) or _onnx_culprit(model, inputs, opset)
        raise ExportError(f"ONNX cannot express network '{model.network_name}'{where}: {_last_line(exc)}. "
                          f"Replace that node, or export to pt2 or torchscript instead.") from None
    proto = program.model_proto
    if check:
        try:
            onnx.checker.check_model(proto, full_check=True)
        except Exception as exc:
            raise ExportError(f"the ONNX model of '{model.network_name}' fails onnx's checker: "
                              f"{_last_line(exc)}") from None
    atomic_write(path, proto.SerializeToString())
    return ExportResult(path, "onnx", source)


def export_torchscript(target: Project | Network, path: str | os.PathLike[str], network: str | None = None,
                       weights: Mapping[str, Any] | None = None, seed: int = 0) -> ExportResult:
    """A TorchScript archive (``torch.jit.load(path)``) for C++ and older deployment stacks.

    Made by tracing, since the compiled module's forward walks a table that scripting cannot type;
    the traced sizes are read from the tensors, so the batch dimension stays free."""
    import torch

    model, source = prepare_model(target, network, weights, seed)
    inputs = example_inputs(model)

    def trace() -> Any:
        with torch.no_grad():
            return torch.jit.trace(model, inputs, check_trace=False)

    return _capture_and_save(model, trace, torch.jit.save, Path(path), "torchscript", source,
                             f"cannot trace network '{model.network_name}' to TorchScript")


def export_pt2(target: Project | Network, path: str | os.PathLike[str], network: str | None = None,
               weights: Mapping[str, Any] | None = None, seed: int = 0) -> ExportResult:
    """A ``torch.export`` program (``torch.export.load(path).module()``), the format PyTorch now
    recommends for deployment (AOTInductor, ExecuTorch)."""
    import torch

    model, source = prepare_model(target, network, weights, seed)
    inputs = example_inputs(model)
    return _capture_and_save(
        model, lambda: torch.export.export(model, inputs, dynamic_shapes=_dynamic_batch(inputs)),
        torch.export.save, Path(path), "pt2", source, f"torch.export cannot capture network '{model.network_name}'")


def _capture_and_save(model: CompiledNetwork, capture: Callable[[], Any], save: Callable[[Any, io.BytesIO], None],
                      path: Path, fmt: str, source: str, failure: str) -> ExportResult:
    """Capture the model as a program (``failure`` opens the message when that fails, with the node
    to blame) and write it atomically, so a failed export never leaves half a file."""
    try:
        with _quiet():
            program = capture()
    except Exception as exc:
        raise ExportError(f"{failure}{_culprit(model, exc)}: {_last_line(exc)}") from None
    buffer = io.BytesIO()
    with _quiet():
        save(program, buffer)
    atomic_write(path, buffer.getvalue())
    return ExportResult(path, fmt, source)


def export_safetensors(target: Project | Network, path: str | os.PathLike[str], network: str | None = None,
                       weights: Mapping[str, Any] | None = None, seed: int = 0) -> ExportResult:
    """The network's state dict, keyed like the exported Python model's (``conv_1.weight``), so
    ``model.load_state_dict(safetensors.torch.load_file(path))`` works on the script's model."""
    from safetensors.torch import save

    model, source = prepare_model(target, network, weights, seed)
    # clone: safetensors refuses tensors that share storage (tied weights)
    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    # metadata is UTF-8 JSON: a name holding a lone surrogate (broken text) is kept as its escape
    network_name = model.network_name.encode("utf-8", "backslashreplace").decode("utf-8")
    meta = {"format": "pt", "network": network_name, "producer": "DeepCanvas"}
    atomic_write(Path(path), save(state, metadata=meta))
    return ExportResult(Path(path), "safetensors", source)


def export_script(target: Project | Network, path: str | os.PathLike[str], network: str | None = None,
                  weights: Mapping[str, Any] | None = None, seed: int = 0) -> ExportResult:
    """The bare model as a Python script (the weights it builds are the seeded initial ones)."""
    from graph.export_python import export_python

    text = export_python(target, network, seed=seed)
    atomic_write(Path(path), text.encode("utf-8"))
    return ExportResult(Path(path), "python", f"initial weights (seed {seed}) built by the script")


EXPORTERS: dict[str, Callable[..., ExportResult]] = {
    "python": export_script, "onnx": export_onnx, "torchscript": export_torchscript, "pt2": export_pt2,
    "safetensors": export_safetensors,
}


def export_as(fmt: str, target: Project | Network, path: str | os.PathLike[str], network: str | None = None,
              weights: Mapping[str, Any] | None = None, seed: int = 0) -> ExportResult:
    try:
        exporter = EXPORTERS[fmt]
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    return exporter(target, path, network, weights=weights, seed=seed)


__all__ = ["DEFAULT_OPSET", "EXPORTERS", "FORMATS", "ExportError", "ExportResult", "default_output",
           "example_inputs", "export_as", "export_onnx", "export_pt2", "export_safetensors", "export_script",
           "export_torchscript", "load_state", "prepare_model"]
