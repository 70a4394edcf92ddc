"""The whole import of a model: trace, convert, then check that the project takes the model's
weights and computes the same outputs before it is handed back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph.errors import GraphError
from graph.import_torch.converter import Converter
from graph.import_torch.report import ImportReport, TorchImportError
from graph.import_torch.tracing import BATCHES, rebatch, run_recorded, trace
from graph.state_fit import compare_state

#: outputs of the imported network must agree with the model's within this (float32 rounding)
TOLERANCE = 1e-4


def import_model(model: Any, inputs: Sequence[Any], name: str | None = None, source: str | None = None) -> ImportReport:
    """Trace ``model`` on example ``inputs`` (batched tensors) into a project with its weights."""
    import torch

    from graph.compiler import compile_network

    model.eval()
    title = name or type(model).__name__
    gm = trace(model)
    runs = tuple(run_recorded(gm, [rebatch(t, b) for t in inputs]) for b in BATCHES)
    conv = Converter(model, gm, runs, title)  # type: ignore[arg-type]
    try:
        conv.convert()
    except GraphError as exc:
        if isinstance(exc, TorchImportError):
            raise
        raise TorchImportError(f"the traced model does not fit a DeepCanvas network: {exc}") from None
    project = conv.builder.project(title)
    net = project.main
    from graph.shapes import analyze

    problems = analyze(net).problems
    if problems:
        raise TorchImportError("the imported network has problems:\n" + "\n".join(f"- {p.message}" for p in problems))
    compiled = compile_network(net, seed=0)
    state: dict[str, Any] = {}
    for node_id, (prefix, tensors) in conv.states.items():
        code = compiled.node_names[node_id]
        for key, value in tensors.items():
            state[f"{code}.{prefix}{key}"] = value
    mismatch = compare_state(compiled.state_dict(), state)
    if mismatch:
        missing, extra, wrong = sorted(mismatch.missing), sorted(mismatch.unexpected), mismatch.wrong_shape
        raise TorchImportError(f"the model's weights do not fit the imported network (missing {missing[:3]}, "
                               f"unexpected {extra[:3]}, other shapes {wrong[:3]}); please report this model")
    compiled.load_state_dict(state, strict=True)
    compiled.eval()
    weights = {k: v.detach().clone() for k, v in compiled.state_dict().items()}
    sample = [rebatch(t, BATCHES[0]) for t in inputs]
    with torch.no_grad():
        expected = _flat(model(*sample))
        got = _flat(compiled(*sample))
    if len(expected) != len(got):
        raise TorchImportError(f"the imported network returns {len(got)} value(s), the model {len(expected)}")
    diff = 0.0
    for a, b in zip(expected, got, strict=True):
        if a.shape != b.shape:
            raise TorchImportError(f"an imported output has shape {tuple(b.shape)}, the model's {tuple(a.shape)}")
        if a.numel():
            diff = max(diff, float((a.double() - b.double()).abs().max()))
    scale = max((float(a.double().abs().max()) for a in expected if a.numel()), default=1.0)
    if diff > TOLERANCE * max(1.0, scale):
        raise TorchImportError(f"the imported network computes different outputs than the model (largest "
                               f"difference {diff:.3g}); please report this model")
    report = ImportReport(project, weights, source or title, conv.report_mapped, conv.report_opaque, conv.warnings,
                          params_source=sum(p.numel() for p in model.parameters()),
                          params_imported=sum(p.numel() for p in compiled.parameters()), max_difference=diff)
    if report.params_source != report.params_imported:
        report.warnings.append(f"the model has {report.params_source:,} parameters, the import "
                               f"{report.params_imported:,} (weights shared between layers are now separate)")
    return report


def _flat(value: Any) -> list[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for v in value for t in _flat(v)]
    raise TorchImportError(f"forward returns a {type(value).__name__}; DeepCanvas networks return tensors")
