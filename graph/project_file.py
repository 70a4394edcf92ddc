"""Project files: versioned JSON (``*.dcproj``) with optional safetensors weights beside it.

Reading goes parse -> check every field (naming its place in the file) -> migrate old versions ->
build the model through the same API the editor uses, so a file can never produce a graph the
editor could not. Nothing in a file is executed; weights are safetensors, never pickle. Saving is
atomic: the old file stays intact until the new one is complete on disk.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graph.document import Network, Project, clean_name, coerce_params
from graph.errors import GraphError, ProjectFileError
from graph.layers import get_layer, has_layer
from graph.params import to_json_value

log = logging.getLogger(__name__)

FORMAT_NAME = "deepcanvas-project"
FORMAT_VERSION = 1
SUFFIX = ".dcproj"
WEIGHTS_SUFFIX = ".safetensors"

#: from-version -> function producing the next version's dict; applied in a chain on load
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


# -- writing ------------------------------------------------------------------------------------
def project_to_dict(project: Project) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": project.name,
        "networks": [network_to_dict(net) for net in project.networks],
        "settings": project.settings,
    }


def network_to_dict(net: Network) -> dict[str, Any]:
    return {
        "name": net.name,
        "nodes": [
            {
                "id": n.id,
                "type": n.type_id,
                "type_version": n.spec.version,
                "name": n.name,
                "params": {k: to_json_value(v) for k, v in n.params.items()},
                "position": [round(n.position[0], 2), round(n.position[1], 2)],
            }
            for n in net.nodes
        ],
        "edges": [
            {"id": e.id, "source": e.source, "source_port": e.source_port, "target": e.target,
             "target_port": e.target_port}
            for e in net.edges
        ],
    }


def atomic_write(path: Path, data: bytes) -> None:
    """Write next to the target, flush to disk, then rename over it: a crash at any moment leaves
    either the old file or the new one, never a half-written mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def weights_path(path: str | os.PathLike[str]) -> Path:
    return Path(path).with_suffix(WEIGHTS_SUFFIX)


def save_project(project: Project, path: str | os.PathLike[str], weights: dict[str, Any] | None = None) -> Path:
    """Save the project; ``weights`` maps network names to state dicts and goes to a safetensors
    file beside the project."""
    path = Path(path)
    text = json.dumps(project_to_dict(project), indent=2, ensure_ascii=False, allow_nan=False)
    if weights:
        save_weights(weights, weights_path(path))
    atomic_write(path, (text + "\n").encode("utf-8"))
    log.info("saved project %s", path)
    return path


def save_weights(weights: dict[str, Any], path: Path) -> None:
    from safetensors.torch import save

    flat = {}
    names = list(weights)
    for i, name in enumerate(names):
        for key, tensor in weights[name].items():
            flat[f"{i}/{key}"] = tensor.detach().cpu().contiguous()
    atomic_write(path, save(flat, metadata={"networks": json.dumps(names)}))


def load_weights(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Network name -> state dict from a safetensors file (raises ProjectFileError if unreadable)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if path.suffix != WEIGHTS_SUFFIX:
        path = weights_path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            names = json.loads(meta.get("networks", "[]"))
            out: dict[str, dict[str, Any]] = {name: {} for name in names}
            for key in fh.keys():
                index, _, param = key.partition("/")
                out[names[int(index)]][param] = fh.get_tensor(key)
            return out
    except FileNotFoundError:
        raise ProjectFileError(f"weights file not found: {path}") from None
    except (SafetensorError, ValueError, IndexError, OSError, json.JSONDecodeError) as exc:
        raise ProjectFileError(f"cannot read weights file {path}: {exc}") from None


# -- reading ------------------------------------------------------------------------------------
def load_project(path: str | os.PathLike[str]) -> Project:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectFileError(f"no such project file: {path}") from None
    except OSError as exc:
        raise ProjectFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"{path.name} is not a text file (byte {exc.start} is not UTF-8)") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                               f"column {exc.colno}") from None
    except RecursionError:
        raise ProjectFileError(f"{path.name} is nested too deeply to be a project file") from None
    try:
        return project_from_dict(data)
    except ProjectFileError as exc:
        raise ProjectFileError(f"{path.name}: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ProjectFileError(f"the file contains {name}, which is not a number JSON allows")


class _Reader:
    """Typed access to a parsed JSON value that always knows where in the file it is."""

    def __init__(self, value: Any, where: str) -> None:
        self.value = value
        self.where = where

    def fail(self, message: str) -> ProjectFileError:
        return ProjectFileError(message, self.where)

    def obj(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise self.fail(f"expected an object, found {_kind(self.value)}")
        return self.value

    def field(self, key: str, default: Any = ..., ) -> _Reader:
        data = self.obj()
        where = f"{self.where}.{key}" if self.where else key
        if key not in data:
            if default is ...:
                raise ProjectFileError(f"missing required key {key!r}", self.where or "top level")
            return _Reader(default, where)
        return _Reader(data[key], where)

    def items(self) -> list[_Reader]:
        if not isinstance(self.value, list):
            raise self.fail(f"expected a list, found {_kind(self.value)}")
        return [_Reader(v, f"{self.where}[{i}]") for i, v in enumerate(self.value)]

    def text(self) -> str:
        if not isinstance(self.value, str):
            raise self.fail(f"expected text, found {_kind(self.value)}")
        return self.value

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail(f"expected a whole number, found {_kind(self.value)}")
        return self.value

    def point(self) -> tuple[float, float]:
        v = self.value
        if (not isinstance(v, list) or len(v) != 2
                or not all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
                           and abs(c) < 1e9 for c in v)):
            raise self.fail("expected a position [x, y] of two finite numbers")
        return float(v[0]), float(v[1])


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = _Reader(data, "").field("format_version").integer()
    if version > FORMAT_VERSION:
        raise ProjectFileError(f"the file was written by a newer DeepCanvas (format {version}; this version "
                               f"reads up to {FORMAT_VERSION}): update DeepCanvas to open it", "format_version")
    if version < 1:
        raise ProjectFileError(f"unknown format version {version}", "format_version")
    while version < FORMAT_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["format_version"] = version
    return data


def project_from_dict(data: Any) -> Project:
    top = _Reader(data, "")
    top.obj()
    fmt = top.field("format", FORMAT_NAME)
    if fmt.value != FORMAT_NAME:
        raise fmt.fail(f"this is not a DeepCanvas project (format {fmt.value!r})")
    data = _migrate(dict(data))
    top = _Reader(data, "")
    name = top.field("name", "Untitled").text()
    settings = top.field("settings", {})
    settings.obj()
    project = Project(name=_guard(top.field("name", "Untitled"), lambda: clean_name(name)), settings=settings.value)
    nets = top.field("networks").items()
    if not nets:
        raise top.field("networks").fail("a project needs at least one network")
    for reader in nets:
        net = _read_network(reader)
        _guard(reader.field("name"), lambda n=net: project.add_network(n))
    return project


def _guard(reader: _Reader, action: Callable[[], Any]) -> Any:
    """Run a model operation; a GraphError it raises becomes a ProjectFileError at ``reader``'s place."""
    try:
        return action()
    except ProjectFileError:
        raise
    except GraphError as exc:
        raise reader.fail(str(exc)) from None


def network_from_dict(data: Any, where: str = "network") -> Network:
    """A network from its file form (also the clipboard form of a copied selection)."""
    return _read_network(_Reader(data, where))


def _read_network(reader: _Reader) -> Network:
    name = reader.field("name").text()
    net = _guard(reader.field("name"), lambda: Network(name))
    for node_reader in reader.field("nodes").items():
        node_reader.obj()
        node_id = node_reader.field("id").text()
        type_reader = node_reader.field("type")
        type_id = type_reader.text()
        if not has_layer(type_id):
            raise type_reader.fail(f"unknown layer type {type_id!r}")
        version = node_reader.field("type_version", 1).integer()
        if version > get_layer(type_id).version:
            raise node_reader.fail(f"layer {type_id} version {version} is newer than this DeepCanvas knows")
        params_reader = node_reader.field("params", {})
        params = params_reader.obj()
        node_name = node_reader.field("name").text()
        position = node_reader.field("position", [0, 0]).point()
        spec = get_layer(type_id)
        for key in params:
            _guard(params_reader.field(key), lambda k=key: coerce_params(spec, {k: params[k]}))
        _guard(node_reader, lambda: net.add_node(type_id, params, node_name, position, node_id=node_id))
    for edge_reader in reader.field("edges", []).items():
        edge_reader.obj()
        values = [edge_reader.field(k).text() for k in ("id", "source", "source_port", "target", "target_port")]
        edge_id, source, source_port, target, target_port = values
        for key, node_id in (("source", source), ("target", target)):
            if node_id not in net:
                raise edge_reader.field(key).fail(f"refers to node {node_id!r}, which is not in the network")
        _guard(edge_reader, lambda: net.connect(source, target, source_port, target_port, edge_id=edge_id))
    return net
