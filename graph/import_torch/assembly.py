"""The whole import of a model: trace, convert, then check that the project takes the model's
weights and computes the same outputs before it is handed back."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from graph.errors import GraphError
from graph.import_torch.converter import Converter
from graph.import_torch.export_path import trace_or_export
from graph.import_torch.report import ImportReport, TorchImportError, flatten_tensors, to_model_layout
from graph.import_torch.tracing import BATCHES, rebatch, run_recorded
from graph.state_fit import compare_state

log = logging.getLogger(__name__)

#: outputs of the imported network must agree with the model's within this (float32 rounding)
TOLERANCE = 1e-4
#: why a model that runs on its example fails on other batch sizes, most often
REBATCH_HINT = ("The model runs on the example but not with other batch sizes: DeepCanvas looks for the batch "
                "in the first dimension of every input, or in a dimension of the example's batch size "
                "(sequence-first (seq, batch) tokens, (layers, batch, hidden) states); give an example whose "
                "batch size differs from its other sizes.")
#: at most this many ways of placing the batch in the inputs are tried
MAX_LAYOUTS = 32
#: the seed both the model and its import run under when their outputs are compared
SEED = 0


def import_model(model: Any, inputs: Sequence[Any], name: str | None = None, source: str | None = None,
                 flatten: bool = False) -> ImportReport:
    """Trace ``model`` on example ``inputs`` (batched tensors) into a project with its weights.

    The model's submodules become nested blocks (graph/import_torch/hierarchy.py) unless
    ``flatten``; the nested network is checked like the flat one (same weights, same outputs), and
    when it cannot be, the flat network is kept and the report says why."""
    import torch

    model.eval()
    title = name or type(model).__name__
    for i, value in enumerate(inputs):
        if not all(isinstance(t, torch.Tensor) and t.dim() >= 1 for t in flatten_tensors([value])):
            raise TorchImportError(
                f"input {i + 1} of the example is a {type(value).__name__}, not a batched tensor (or a tuple of "
                f"them, such as an LSTM's (h, c)); DeepCanvas imports models whose forward takes batched tensors")
    gm, tracer, trace_notes = trace_or_export(model, inputs)  # torch.fx, else torch.export
    run_recorded(gm, list(inputs))
    first_error: TorchImportError | None = None
    ran_errors: list[TorchImportError] = []
    for axes in _batch_layouts(flatten_tensors(list(inputs))):
        try:
            runs = tuple(run_recorded(gm, _rebatched(inputs, axes, b), hint=REBATCH_HINT) for b in BATCHES)
        except TorchImportError as exc:
            first_error = first_error or exc
            continue
        try:
            attempt = _attempt(model, gm, runs, title, trace_notes, inputs, axes)
            break
        except TorchImportError as exc:   # the batch is elsewhere, or the model does not import
            ran_errors.append(exc)
    else:
        # a refusal that is not about where the batch is explains best why the model does not import
        telling = [e for e in ran_errors if "batch at dimension" not in str(e)] or ran_errors
        raise (telling[0] if telling else first_error) or TorchImportError("the model's batch cannot be found")
    conv, project, analysis, compiled, weights, sample, expected, diff = attempt
    net = project.main
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
                          params_imported=sum(p.numel() for p in compiled.parameters()), max_difference=diff,
                          tracer=tracer, input_axes=list(conv.input_layouts),
                          output_layouts=list(conv.output_layouts))
    report.warnings.extend(trace_notes + structure)
    if report.params_source != report.params_imported:
        report.warnings.append(f"the model has {report.params_source:,} parameters, the import "
                               f"{report.params_imported:,} (weights shared between layers are now separate)")
    return report


def _attempt(model: Any, gm: Any, runs: tuple[dict, ...], title: str, trace_notes: list[str],
             inputs: Sequence[Any], axes: list[int]) -> tuple:
    """Convert the traced model with the batch at ``axes`` of its inputs, and check that the
    network takes its weights and computes its outputs (compared in the model's own layout)."""
    from graph.compiler import compile_network

    conv = Converter(model, gm, runs, title)  # type: ignore[arg-type]
    conv.kept_whole = trace_notes
    conv.input_axes = list(axes)
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
    model_sample = _rebatched(inputs, axes, BATCHES[0])
    expected = _flat(seeded(model, model_sample))
    sample = _to_network(model_sample, axes)
    got = _model_layout(_flat(seeded(compiled, sample)), conv.output_layouts)
    diff = _difference(expected, got)
    return conv, project, analysis, compiled, weights, sample, expected, diff


def _batch_layouts(tensors: list[Any]) -> list[list[int]]:
    """Where the batch may be in each input tensor, most likely first: the first dimension of
    every input, then any dimension whose size is the same batch size in every input (a
    sequence-first model's (seq, batch) tokens and (layers, batch, hidden) states)."""
    import itertools

    layouts = [[0] * len(tensors)]
    sizes = set(tensors[0].shape)
    for t in tensors[1:]:
        sizes &= set(t.shape)
    for size in sorted(sizes):
        options = [[d for d, s in enumerate(t.shape) if s == size] for t in tensors]
        for axes in sorted(itertools.product(*options), key=lambda a: (sum(a), a)):
            if list(axes) not in layouts:
                layouts.append(list(axes))
            if len(layouts) >= MAX_LAYOUTS:
                return layouts
    return layouts


def _rebatched(inputs: Sequence[Any], axes: list[int], size: int) -> list[Any]:
    """The example inputs at another batch size, the batch at ``axes`` (tuples kept as tuples)."""
    it = iter(axes)

    def one(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return type(value)(one(v) for v in value)
        axis = next(it)
        return rebatch(value.movedim(axis, 0), size).movedim(0, axis) if axis else rebatch(value, size)

    return [one(v) for v in inputs]


def _to_network(inputs: list[Any], axes: list[int]) -> list[Any]:
    """The model's inputs as the network takes them: each batch-first."""
    return [t.movedim(axis, 0) if axis else t for t, axis in zip(flatten_tensors(inputs), axes, strict=True)]


def _model_layout(outputs: list[Any], layouts: list[tuple[int, bool]]) -> list[Any]:
    """The network's outputs laid out as the model returns them."""
    if len(outputs) != len(layouts):
        return outputs   # the count differs: _difference says so
    return [to_model_layout(t, axis, merged) for t, (axis, merged) in zip(outputs, layouts, strict=True)]


def seeded(module: Any, inputs: list[Any]) -> Any:
    """``module(*inputs)`` without gradients under a fixed seed, so models that draw random
    numbers (a VAE's reparameterisation) compare equal with their import; the caller's random
    state is left as it was."""
    import torch

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(SEED)
        return module(*inputs)


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
    from graph.compiler import compile_network
    from graph.import_torch.hierarchy import module_scopes, nest_modules, nested_key_prefix

    net = project.main
    saved = net.state()
    try:
        scopes, classes = module_scopes(conv)
        types = {node_id: info.output for node_id, info in analysis.nodes.items()}
        nesting = nest_modules(net, scopes, classes, types)
        notes.extend(nesting.notes)
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
        diff = _difference(expected, _model_layout(_flat(seeded(compiled, sample)), conv.output_layouts))
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
