"""Project files: versioned JSON (``*.dcproj``) with optional safetensors weights beside it.

Reading goes parse -> check every field (naming its place in the file) -> migrate old versions ->
build the model through the same API the editor uses, so a file can never produce a graph the
editor could not. Nothing in a file is executed; weights are safetensors, never pickle. Saving is
atomic, for the JSON and its weights file as a pair: a save killed at any moment leaves the old pair
or the new one, never new weights beside old JSON (how: :mod:`graph.project_pair`).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from graph import project_pair as pair
from graph.document import BLOCK_TYPE, Network, Project, clean_name, coerce_params
from graph.errors import GraphError, ProjectFileError
from graph.layers import get_layer, has_layer
from graph.params import to_json_value
from graph.quoting import cut

log = logging.getLogger(__name__)

FORMAT_NAME = "deepcanvas-project"
FORMAT_VERSION = 1
SUFFIX = ".dcproj"
WEIGHTS_SUFFIX = ".safetensors"

#: from-version -> function producing the next version's dict; applied in a chain on load
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

#: longest node or edge id a file may hold (ids are short machine strings like ``n12``)
MAX_ID_LENGTH = 100
#: positions are kept within this range so that every saved file can be read back
MAX_COORDINATE = 1e9
#: largest magnitude of a number inside a node's params (int64, what torch can hold)
MAX_PARAM_NUMBER = 2**63 - 1
#: longest text, list, and text inside a list a parameter value may be (beyond what any layer accepts)
MAX_PARAM_TEXT = 200
MAX_PARAM_ITEMS = 16
MAX_PARAM_ITEM_TEXT = 20


# -- writing ------------------------------------------------------------------------------------
def project_to_dict(project: Project) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": project.name,
        "networks": [network_to_dict(net) for net in project.networks],
        "settings": project.settings,
    }
    if len(project.blocks):
        data["blocks"] = blocks_to_list(project.blocks, project.blocks.names)
    return data


def blocks_to_list(library: Any, names: list[str]) -> list[dict[str, Any]]:
    """Block definitions in file form, each after the ones it uses (so a reader can add them in order)."""
    wanted: list[str] = []
    for name in names:
        for needed in [*sorted(library.dependencies(name)), name]:
            if needed not in wanted:
                wanted.append(needed)
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for used in sorted(library.get(name).used_blocks()):
            visit(used)
        ordered.append(name)

    for name in wanted:
        visit(name)
    out = []
    for name in ordered:
        defn = library.get(name)
        out.append({"name": defn.name, "description": defn.description, "origin": defn.origin,
                    "exposed": [{"node": e.node_id, "param": e.param, "name": e.name} for e in defn.exposed],
                    "network": network_to_dict(defn.network)})
    return out


def _coordinate(value: float) -> float:
    """A position coordinate the loader accepts (a node dragged to infinity must not make the
    project unsavable or the file unreadable)."""
    if math.isnan(value):
        return 0.0
    limit = MAX_COORDINATE - 1
    return round(min(max(value, -limit), limit), 2)


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
                "position": [_coordinate(n.position[0]), _coordinate(n.position[1])],
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
    with pair.locked_atomic_write(Path(path), data, _file_mode):
        pass


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would race with other threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def weights_path(path: str | os.PathLike[str]) -> Path:
    """The weights file that belongs to the project file at ``path``: ``<stem>.safetensors``, or,
    when a save was killed just after switching the JSON, the staged file of the JSON's save."""
    path = Path(path)
    if path.suffix == WEIGHTS_SUFFIX:
        return path
    return pair.resolve_weights(path, referenced_save_id(path))


def referenced_save_id(path: Path) -> str | None:
    """The save id the project file at ``path`` names for its weights; None when it names none
    (no weights, a file from before pairs had ids) or cannot be read."""
    try:
        data = read_json_file(path, "project file") if path.is_file() else None
    except ProjectFileError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("weights"), dict):
        return None
    save_id = data["weights"].get("save_id")
    return save_id if isinstance(save_id, str) and pair.SAVE_ID.match(save_id) else None


def save_project(project: Project, path: str | os.PathLike[str], weights: dict[str, Any] | None = None) -> Path:
    """Save the project; ``weights`` maps network names to state dicts and goes to a safetensors
    file beside the project (without weights, the weights the file has now stay with it)."""
    return save_project_data(project_to_dict(project), path, weights)


def save_project_data(data: dict[str, Any], path: str | os.PathLike[str],
                      weights: dict[str, Any] | None = None) -> Path:
    """Save a project already in file form (:func:`project_to_dict`: a snapshot that another
    thread may write while the editor goes on) with its weights, as a pair that a kill at any
    moment leaves either old or new (see :mod:`graph.project_pair`)."""
    path = Path(path)
    data = {k: v for k, v in data.items() if k != "weights"}
    if not weights:
        previous = referenced_save_id(path)
        if previous is not None and weights_path(path).is_file():
            data["weights"] = {"save_id": previous}   # the weights it has stay its own
        atomic_write(path, _encode(data))
    else:
        save_id = pair.new_save_id()
        data["weights"] = {"save_id": save_id}
        encoded = _encode(data)
        staged = pair.staged_weights_path(path, save_id)
        with save_weights(weights, staged, save_id):
            try:
                atomic_write(path, encoded)        # the moment the new pair exists
            except BaseException:
                staged.unlink(missing_ok=True)     # the old pair stays as it was
                raise
            pair.settle(path, save_id)
    pair.clean_stale_files(path, referenced_save_id(path))
    log.info("saved project %s", path)
    return path


def _encode(data: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProjectFileError(f"the project cannot be saved: its settings hold a value JSON cannot "
                               f"store ({exc})", "settings") from None
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate (not valid UTF-8) somewhere in the text: escape everything instead
        return (json.dumps(data, indent=2, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")


def save_weights(weights: dict[str, Any], path: Path, save_id: str | None = None) -> AbstractContextManager[None]:
    """Write the weights atomically (already on disk when this returns); the file stays locked
    against the cleaning of leftovers until the returned context ends. ``save_id`` ties it to
    the project file that names it."""
    from safetensors.torch import save

    flat = {}
    names = list(weights)
    for i, name in enumerate(names):
        for key, tensor in weights[name].items():
            flat[f"{i}/{key}"] = tensor.detach().cpu().contiguous()
    metadata = {"networks": json.dumps(names)}
    if save_id is not None:
        metadata[pair.SAVE_ID_KEY] = save_id
    writing = pair.locked_atomic_write(Path(path), save(flat, metadata=metadata), _file_mode)
    writing.__enter__()
    return _Release(writing)


class _Release(AbstractContextManager[None]):
    """Ends a write's lock when the ``with`` block ends (or when dropped, for a caller that
    does not use it as a context manager)."""

    def __init__(self, writing: AbstractContextManager[None]) -> None:
        self._writing: AbstractContextManager[None] | None = writing

    def __exit__(self, *exc: object) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.__exit__(None, None, None)

    def __del__(self) -> None:
        self.__exit__()


def load_weights(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Network name -> state dict from a safetensors file (raises ProjectFileError if unreadable)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    expected = None
    if path.suffix != WEIGHTS_SUFFIX:
        project, expected = path, referenced_save_id(path)
        path = weights_path(path)
    if not path.is_file():
        raise ProjectFileError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            if expected is not None and meta.get(pair.SAVE_ID_KEY) != expected:
                raise ProjectFileError(f"{path.name} holds weights of another save than {project.name}: "
                                       f"save the project with its weights again, or load weights "
                                       f"from that file by name")
            names = json.loads(meta.get("networks", "[]"))
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError("its 'networks' metadata is not a list of network names")
            out: dict[str, dict[str, Any]] = {name: {} for name in names}
            for key in fh.keys():
                index, sep, param = key.partition("/")
                if not sep or not index.isdigit() or int(index) >= len(names):
                    raise ValueError(f"tensor {key!r} belongs to no network")
                out[names[int(index)]][param] = fh.get_tensor(key)
            return out
    except FileNotFoundError:
        raise ProjectFileError(f"weights file not found: {path}") from None
    except (SafetensorError, ValueError, TypeError, OSError, RecursionError) as exc:
        raise ProjectFileError(f"cannot read weights file {path}: {exc}") from None


# -- reading ------------------------------------------------------------------------------------
def load_project(path: str | os.PathLike[str]) -> Project:
    """Open a project file; what a killed save left beside it is finished or removed first."""
    path = Path(path)
    data = read_json_file(path, "project file")
    save_id = data["weights"].get("save_id") if isinstance(data, dict) and isinstance(data.get("weights"), dict) \
        else None
    if save_id is None or (isinstance(save_id, str) and pair.SAVE_ID.match(save_id)):
        pair.clean_stale_files(path, save_id)
    try:
        return project_from_dict(data)
    except ProjectFileError as exc:
        error = ProjectFileError(f"{path.name}: {exc}")
        error.where = exc.where
        raise error from None


def read_json_file(path: Path, kind: str, max_bytes: int | None = None) -> Any:
    """The JSON in a file the app saved (a project, a block), or a ProjectFileError that names the
    file and what is wrong with it: read errors, size, encoding and JSON syntax in one place, so
    every kind of file says the same things about them."""
    try:
        if max_bytes is not None:
            size = path.stat().st_size
            if size > max_bytes:
                raise ProjectFileError(f"{path.name} is {size // 1024} KiB, too large to be a {kind}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectFileError(f"no such {kind}: {path}") from None
    except OSError as exc:
        raise ProjectFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (some Windows editors add one) is fine
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"{path.name} is not a text file (byte {exc.start} is not UTF-8)") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                               f"column {exc.colno}") from None
    except RecursionError:
        raise ProjectFileError(f"{path.name} is nested too deeply to be a {kind}") from None
    except ValueError:  # json's only other failure: an integer with thousands of digits
        raise ProjectFileError(f"{path.name} holds a number with too many digits to be a {kind}") from None


def _reject_constant(name: str) -> Any:
    raise ProjectFileError(f"the file contains {name}, which is not a number JSON allows")


class _Reader:
    """Typed access to a parsed JSON value that always knows where in the file it is."""

    def __init__(self, value: Any, where: str) -> None:
        self.value = value
        self.where = where

    def fail(self, message: str) -> ProjectFileError:
        return ProjectFileError(message, self.where or "top level")

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
        if any("\ud800" <= ch <= "\udfff" for ch in self.value):
            raise self.fail("the text contains an unpaired surrogate escape (\\ud800-\\udfff), which is "
                            "not a character")
        return self.value

    def ident(self) -> str:
        value = self.text()
        if not value or len(value) > MAX_ID_LENGTH:
            raise self.fail(f"expected an id of 1 to {MAX_ID_LENGTH} characters, found {len(value)}")
        return value

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail(f"expected a whole number, found {_kind(self.value)}")
        return self.value

    def point(self) -> tuple[float, float]:
        v = self.value
        # ``abs(c) < MAX_COORDINATE`` also rejects NaN and infinities, and compares huge ints exactly
        if (not isinstance(v, list) or len(v) != 2
                or not all(isinstance(c, int | float) and not isinstance(c, bool) and abs(c) < MAX_COORDINATE
                           for c in v)):
            raise self.fail(f"expected a position [x, y] of two numbers between -{MAX_COORDINATE:g} "
                            f"and {MAX_COORDINATE:g}")
        return float(v[0]), float(v[1])


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = _Reader(data, "").field("format_version").integer()
    if version > FORMAT_VERSION:
        raise ProjectFileError(f"the file was written by a newer DeepCanvas (format {_short(version)}; this version "
                               f"reads up to {FORMAT_VERSION}): update DeepCanvas to open it", "format_version")
    if version < 1:
        raise ProjectFileError(f"unknown format version {_short(version)}", "format_version")
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
        raise fmt.fail(f"this is not a DeepCanvas project (format {_short(fmt.value)})")
    data = _migrate(dict(data))
    top = _Reader(data, "")
    name = top.field("name", "Untitled").text()
    settings = top.field("settings", {})
    settings.obj()
    try:  # what loads must save again (a dict handed over in memory may hold what no file can)
        json.dumps(settings.value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise settings.fail(f"holds a value JSON cannot store ({str(exc)[:80]})") from None
    weights = top.field("weights", None)
    if weights.value is not None:          # the save id of the weights file that goes with it
        weights.obj()
        save_id = weights.field("save_id")
        if not isinstance(save_id.value, str) or not pair.SAVE_ID.match(save_id.value):
            raise save_id.fail("expected the save id of the weights file: 16 hexadecimal digits")
    with _at(top.field("name", "Untitled")):
        project = Project(name=clean_name(name), settings=settings.value)
    read_blocks(top.field("blocks", []), project.blocks)
    nets = top.field("networks").items()
    if not nets:
        raise top.field("networks").fail("a project needs at least one network")
    for reader in nets:
        net = _read_network(reader, project.blocks)
        with _at(reader.field("name")):
            project.add_network(net)
    return project


def _check_param_value(reader: _Reader) -> None:
    """Refuse what no parameter can hold before it reaches the parameter's own checks: numbers
    beyond int64 (``float(10**400)`` raises OverflowError, not a ParamError), nested values, and
    text or lists so long that quoting them would flood the message."""
    value = reader.value
    if isinstance(value, dict):
        raise reader.fail("expected a number, text, true/false or a list of numbers, found an object")
    if isinstance(value, list) and len(value) > MAX_PARAM_ITEMS:
        raise reader.fail(f"a list of {len(value)} values is too long for a parameter")
    for item in reader.items() if isinstance(value, list) else [reader]:
        v = item.value
        if isinstance(v, dict | list):
            raise item.fail(f"expected a number or text, found {_kind(v)}")
        limit = MAX_PARAM_ITEM_TEXT if item is not reader else MAX_PARAM_TEXT
        if isinstance(v, str) and len(v) > limit:
            raise item.fail(f"text of {len(v)} characters is too long for this value (at most {limit})")
        if isinstance(v, int | float) and not isinstance(v, bool) and not abs(v) <= MAX_PARAM_NUMBER:
            raise item.fail(f"the number {_short(v)} is out of range")


def _short(value: Any) -> str:
    """A value quoted in a message: short, and never str() of a huge int (which raises ValueError
    beyond 4300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        digits = int(abs(value).bit_length() * math.log10(2))
        return f"{'-' if value < 0 else ''}~10^{digits}"
    if isinstance(value, dict | list) and len(value) > 8:
        return f"{_kind(value)} of {len(value)} items"
    return cut(repr(value), 40)


@contextmanager
def _at(reader: _Reader) -> Iterator[None]:
    """Run model operations; a GraphError they raise becomes a ProjectFileError at ``reader``'s place."""
    try:
        yield
    except ProjectFileError:
        raise
    except GraphError as exc:
        raise reader.fail(str(exc)) from None


def read_blocks(reader: _Reader, library: Any) -> list[str]:
    """Add the block definitions of a file's ``blocks`` list to ``library``, in the order the file
    gives (each after those it uses, as :func:`blocks_to_list` writes them); returns their names."""
    from graph.blocks import BlockLibrary

    assert isinstance(library, BlockLibrary)
    names = []
    for entry in reader.items():
        entry.obj()
        name_reader = entry.field("name")
        name = name_reader.text()
        description = entry.field("description", "").text()
        origin = entry.field("origin", "").text()
        if len(description) > 2000:
            raise entry.field("description").fail("a block description may have at most 2000 characters")
        if name in library:
            raise name_reader.fail(f"a block definition named {_short(name)} is already defined before it")
        library.reading = name       # a Block node inside naming this very definition gets a clear refusal
        try:
            net = _read_network(entry.field("network"), library)
        finally:
            library.reading = None
        with _at(name_reader):
            defn = library.create(name, net, (), description, origin[:100])
        for exposed_reader in entry.field("exposed", []).items():
            exposed_reader.obj()
            node = exposed_reader.field("node").ident()
            param = exposed_reader.field("param").text()
            as_name = exposed_reader.field("name").text()
            with _at(exposed_reader):
                library.expose(defn.name, node, param, as_name)
        names.append(defn.name)
    return names


def network_from_dict(data: Any, where: str = "network", library: Any = None) -> Network:
    """A network from its file form (also the clipboard form of a copied selection); Block nodes
    need the ``library`` that holds their definitions."""
    return _read_network(_Reader(data, where), library)


def _read_network(reader: _Reader, library: Any = None) -> Network:
    name = reader.field("name").text()
    with _at(reader.field("name")):
        net = Network(name)
    net.library = library
    for node_reader in reader.field("nodes").items():
        node_reader.obj()
        node_id = node_reader.field("id").ident()
        type_reader = node_reader.field("type")
        type_id = type_reader.text()
        if type_id != BLOCK_TYPE and not has_layer(type_id):
            raise type_reader.fail(f"unknown layer type {_short(type_id)}")
        version_reader = node_reader.field("type_version", 1)
        version = version_reader.integer()
        params_reader = node_reader.field("params", {})
        params = params_reader.obj()
        if type_id == BLOCK_TYPE:
            block_reader = params_reader.field("block") if "block" in params else params_reader
            with _at(block_reader):
                spec = net.spec_for(type_id, params)
        else:
            spec = get_layer(type_id)
        if version > spec.version:
            raise version_reader.fail(f"layer {type_id} version {_short(version)} is newer than this DeepCanvas "
                                      f"knows: update DeepCanvas to open it")
        if version < 1:
            raise version_reader.fail(f"layer versions start at 1, not {_short(version)}")
        node_name = node_reader.field("name").text()
        position = node_reader.field("position", [0, 0]).point()
        known = {p.name for p in spec.params}
        for key in params:
            if key not in known:
                place = params_reader.field(key) if len(key) <= 40 else params_reader
                raise place.fail(f"{spec.display_name} has no parameter {_short(key)}"
                                 + (f" (it has {', '.join(sorted(known))})" if known else ""))
            value_reader = params_reader.field(key)
            _check_param_value(value_reader)
            with _at(value_reader):
                coerce_params(spec, {key: params[key]})
        with _at(node_reader):
            net.add_node(type_id, params, node_name, position, node_id=node_id)
    for edge_reader in reader.field("edges", []).items():
        edge_reader.obj()
        edge_id, source, source_port, target, target_port = (
            edge_reader.field(k).ident() for k in ("id", "source", "source_port", "target", "target_port"))
        for key, node_id in (("source", source), ("target", target)):
            if node_id not in net:
                raise edge_reader.field(key).fail(f"refers to node {node_id!r}, which is not in the network")
        with _at(edge_reader):
            net.connect(source, target, source_port, target_port, edge_id=edge_id)
    return net
