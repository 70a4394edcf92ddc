"""The whole import of a model: trace, convert, then check that the project takes the model's
weights and computes the same outputs before it is handed back."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from graph.errors import GraphError
from graph.import_torch.converter import Converter
from graph.import_torch.report import ImportReport, TorchImportError
from graph.import_torch.tracing import BATCHES, rebatch, run_recorded, trace
from graph.state_fit import compare_state

log = logging.getLogger(__name__)

#: outputs of the imported network must agree with the model's within this (float32 rounding)
TOLERANCE = 1e-4


def import_model(model: Any, inputs: Sequence[Any], name: str | None = None, source: str | None = None,
                 flatten: bool = False) -> ImportReport:
    """Trace ``model`` on example ``inputs`` (batched tensors) into a project with its weights.

    The model's submodules become nested blocks (graph/import_torch/hierarchy.py) unless
    ``flatten``; the nested network is checked like the flat one (same weights, same outputs), and
    when it cannot be, the flat network is kept and the report says why."""
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

    analysis = analyze(net)
    problems = analysis.problems
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
    diff = _difference(expected, got)
    structure: list[str] = []
    if not flatten:
        by_node = {node_id: {f"{prefix}{key}": value for key, value in tensors.items()}
                   for node_id, (prefix, tensors) in conv.states.items()}
        nested = _nest(conv, project, analysis, by_node, sample, expected, structure)
        if nested is not None:
            weights, diff = nested
    from graph.layout import apply_layout

    apply_layout(net)
    report = ImportReport(project, weights, source or title, conv.report_mapped, conv.report_opaque, conv.warnings,
                          params_source=sum(p.numel() for p in model.parameters()),
                          params_imported=sum(p.numel() for p in compiled.parameters()), max_difference=diff)
    report.warnings.extend(structure)
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


def _difference(expected: list[Any], got: list[Any]) -> float:
    """The largest difference between the model's outputs and the imported network's; raises when
    they differ in number, shape or beyond :data:`TOLERANCE`."""
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
    return diff


def _nest(conv: Converter, project: Any, analysis: Any, by_node: dict[str, dict[str, Any]], sample: list[Any],
          expected: list[Any], notes: list[str]) -> tuple[dict[str, Any], float] | None:
    """Fold the model's submodules into blocks in ``project`` and move the weights to their nested
    keys. Returns the nested weights and output difference, or None (with a note, and the flat
    network put back) when the nested network does not compute what the flat one does."""
    import torch

    from graph.compiler import compile_network
    from graph.import_torch.hierarchy import module_scopes, nest_modules, nested_key_prefix

    net = project.main
    saved = net.state()
    try:
        scopes, classes = module_scopes(conv)
        types = {node_id: info.output for node_id, info in analysis.nodes.items()}
        nesting = nest_modules(net, scopes, classes, types)
        if not nesting.blocks:
            return None
        compiled = compile_network(net, seed=0)
        state: dict[str, Any] = {}
        for node_id, tensors in by_node.items():
            prefix = nested_key_prefix(compiled, nesting.locations[node_id])
            state.update({f"{prefix}.{key}": value for key, value in tensors.items()})
        mismatch = compare_state(compiled.state_dict(), state)
        if mismatch:
            raise TorchImportError(f"the weights do not fit the nested network (missing {mismatch.missing[:3]}, "
                                   f"unexpected {mismatch.unexpected[:3]})")
        compiled.load_state_dict(state, strict=True)
        compiled.eval()
        with torch.no_grad():
            diff = _difference(expected, _flat(compiled(*sample)))
    except (GraphError, KeyError, AttributeError, RuntimeError) as exc:
        log.warning("keeping the imported network flat: %s", exc)
        net.restore(saved)
        library = project.blocks
        for name in list(library.names):
            if not library.users(name):
                library.remove(name)
        notes.append(f"the model's submodules could not be kept as blocks ({exc}); the network is flat")
        return None
    defs = nesting.definitions
    notes.append(f"kept the model's structure: {len(nesting.blocks)} block node(s) using {len(defs)} "
                 f"definition(s) ({', '.join(defs[:6])}{', ...' if len(defs) > 6 else ''})")
    return {k: v.detach().clone() for k, v in compiled.state_dict().items()}, diff
