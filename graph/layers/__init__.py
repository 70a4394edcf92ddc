"""The layer registry: every layer type, declared once, looked up by id (or a legacy id).

Declarations are checked when registered, so a bad declaration fails at import in every test run
instead of surfacing as a confusing inspector or compiler bug later.
"""

from __future__ import annotations

from graph.errors import ParamError, UnknownLayerError
from graph.layers import (
    activations,
    arith,
    attention,
    conv,
    core,
    merge,
    norm,
    opaque,
    random,
    sequence,
    shape_ops,
)
from graph.layers.spec import Cost, LayerSpec, ModuleCall, PortSpec

_REGISTRY: dict[str, LayerSpec] = {}
_LEGACY: dict[str, str] = {}

#: palette order
CATEGORIES = ("Input / Output", "Core", "Convolution", "Pooling", "Upsampling", "Normalization", "Regularization",
              "Activation", "Sequence", "Attention", "Merge", "Shape", "Math", "Imported")


def register(spec: LayerSpec) -> LayerSpec:
    if spec.type_id in _REGISTRY or spec.type_id in _LEGACY:
        raise ValueError(f"layer type {spec.type_id!r} is declared twice")
    if not spec.type_id.isidentifier():
        raise ValueError(f"layer type id {spec.type_id!r} must be an identifier")
    if spec.category not in CATEGORIES:
        raise ValueError(f"{spec.type_id}: unknown category {spec.category!r}")
    names = [p.name for p in spec.params]
    if len(set(names)) != len(names):
        raise ValueError(f"{spec.type_id}: parameter names repeat")
    ports = [p.name for p in spec.inputs]
    if len(set(ports)) != len(ports) or len(set(spec.outputs)) != len(spec.outputs):
        raise ValueError(f"{spec.type_id}: port names repeat")
    if any(p.multi for p in spec.inputs) and len(spec.inputs) != 1:
        raise ValueError(f"{spec.type_id}: a merge port must be the only input port")
    for p in spec.params:
        try:
            if p.coerce(p.default) != p.default:
                raise ValueError(f"{spec.type_id}.{p.name}: default {p.default!r} is not canonical")
        except ParamError as exc:
            raise ValueError(f"{spec.type_id}.{p.name}: bad default: {exc}") from exc
    for legacy in spec.legacy_ids:
        if legacy in _REGISTRY or legacy in _LEGACY:
            raise ValueError(f"legacy id {legacy!r} of {spec.type_id} is taken")
        _LEGACY[legacy] = spec.type_id
    _REGISTRY[spec.type_id] = spec
    return spec


def get_layer(type_id: str) -> LayerSpec:
    spec = _REGISTRY.get(type_id) or _REGISTRY.get(_LEGACY.get(type_id, ""))
    if spec is None:
        raise UnknownLayerError(f"unknown layer type {type_id!r}")
    return spec


def has_layer(type_id: str) -> bool:
    return type_id in _REGISTRY or type_id in _LEGACY


def all_layers() -> list[LayerSpec]:
    return list(_REGISTRY.values())


def layers_by_category() -> dict[str, list[LayerSpec]]:
    out: dict[str, list[LayerSpec]] = {c: [] for c in CATEGORIES}
    for spec in _REGISTRY.values():
        out[spec.category].append(spec)
    return {c: specs for c, specs in out.items() if specs}


for _module in (core, conv, norm, activations, sequence, attention, merge, shape_ops, arith, random, opaque):
    for _spec in _module.LAYERS:
        register(_spec)

__all__ = ["CATEGORIES", "Cost", "LayerSpec", "ModuleCall", "PortSpec", "all_layers", "get_layer",
           "has_layer", "layers_by_category", "register"]
