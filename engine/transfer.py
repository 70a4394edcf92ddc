"""Transfer learning: read trained weights from wherever they are and fit them into a network.

Sources: another project (its ``.dcproj`` and the ``.safetensors`` saved beside it), a run folder
(its best or last weights), a ``.safetensors`` file, or a plain PyTorch ``state_dict`` file
(``.pt``/``.pth``), read with ``torch.load(weights_only=True)`` only, so a file can never run
code. Matching goes layer by layer: a node gets the source's tensors when the layer's name (its
code identifier, which is what ``state_dict`` keys start with) and every tensor's shape agree.
A prefix the source adds to every key (``module.`` from DDP, ``model.`` from a training wrapper)
is stripped when that makes more keys fit. The result says, per node, what matched, what changed
size, what got nothing, and which source layers found no node, so a person sees exactly what a
half-reused network is made of.

Qt-free; torch is imported inside the functions that need it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import TrainingError
from graph.quoting import cut

log = logging.getLogger(__name__)

PROJECT_SUFFIX = ".dcproj"
SAFETENSORS_SUFFIX = ".safetensors"
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
#: entries of a training checkpoint that usually hold the model's weights, most likely first
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "module", "weights")
#: buffers older or other PyTorch versions may leave out; a layer still matches without them
OPTIONAL_KEYS = ("num_batches_tracked",)
#: how many dotted levels of a common key prefix are tried
MAX_PREFIX_DEPTH = 3


class TransferError(TrainingError):
    """Weights that cannot be read or used; the message names the file and says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "data")


# -- what was read ----------------------------------------------------------------------------------
@dataclass
class SourceWeights:
    """A state dict read from somewhere, with a phrase naming where (for the report)."""

    state: dict[str, Any]
    source: str                                   # "run 2026...-mlp (best, epoch 12)"
    #: a project's weights hold one state dict per network; ``state`` is the one chosen
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: what the person must know about these weights (shown in the sentence), e.g. that a run's
    #: best epoch never reached the disk and an earlier one is loaded instead
    warnings: list[str] = field(default_factory=list)
    #: whether ``state`` is in the order the tensors were saved (a ``torch.save``d state dict); a
    #: safetensors file lists them sorted by name, so they cannot be matched by order
    ordered: bool = True


def read_weights(path: str | os.PathLike[str], which: str = "best") -> SourceWeights:
    """Read the weights at ``path``: a project file, a run folder, a ``.safetensors`` file or a
    ``.pt``/``.pth`` state dict. For a project with several networks, ``state`` is the first one
    and ``networks`` holds them all (:func:`match_weights` picks the best fitting one)."""
    path = Path(path).expanduser()
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:     # a name too long for the file system, a path through a file, ...
        raise TransferError(f"{cut(path, 160)} cannot be opened ({exc.strerror or exc}): choose a project, a run "
                            "folder or a weights file.") from None
    if not exists:
        raise TransferError(f"{cut(path, 160)} does not exist: choose a project, a run folder or a weights file.")
    if is_dir:
        return _read_run(path, which)
    suffix = path.suffix.lower()
    if suffix == PROJECT_SUFFIX:
        return _read_project_weights(path)
    if suffix == SAFETENSORS_SUFFIX:
        return _read_safetensors(path)
    if suffix in TORCH_SUFFIXES:
        return _read_torch(path)
    # an unusual name: look at the content instead (safetensors files start with a JSON header size)
    if _looks_like_safetensors(path):
        return _read_safetensors(path)
    return _read_torch(path)


def _read_run(path: Path, which: str) -> SourceWeights:
    from engine.runs import SETTINGS, WEIGHTS, describe_run_weights, load_run_weights

    if not (path / SETTINGS).is_file() and not any((path / f).is_file() for f in WEIGHTS.values()):
        raise TransferError(f"The folder {path} is not a run folder (it has no {SETTINGS} and no weights): choose a "
                            "run inside the project's runs/ folder, or a weights file.")
    state = load_run_weights(path, which)
    # the epoch comes from the weights file itself: after a crash the report and the metrics log
    # may name a best epoch whose weights never reached the disk, and the warning says so
    used, epoch, warnings = describe_run_weights(path, which)
    return SourceWeights(dict(state), f"run {path.name} ({used}{f', epoch {epoch}' if epoch else ''})",
                         warnings=warnings, ordered=False)


def _read_project_weights(path: Path) -> SourceWeights:
    from graph.errors import ProjectFileError
    from graph.project_file import load_weights, weights_path

    file = weights_path(path)
    if not file.is_file():
        raise TransferError(f"The project {path.name} has no weights saved beside it ({file.name} is missing): open "
                            "it, train it or attach weights, and save it; or choose one of its runs instead.")
    try:
        networks = load_weights(file)
    except ProjectFileError as exc:
        raise TransferError(f"The weights of the project {path.name} cannot be read: {exc}.") from None
    return _project_source(networks, f"project {path.name}")


def _project_source(networks: dict[str, dict[str, Any]], what: str) -> SourceWeights:
    networks = {name: dict(state) for name, state in networks.items() if state}
    if not networks:
        raise TransferError(f"The {what} holds no weights for any network.")
    first = next(iter(networks))
    return SourceWeights(networks[first], what, networks, ordered=False)   # safetensors: sorted by name


def _looks_like_safetensors(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{"


def _read_safetensors(path: Path) -> SourceWeights:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            keys = list(fh.keys())
            is_project = "networks" in meta and all("/" in k for k in keys)
            state = {} if is_project else {k: fh.get_tensor(k) for k in keys}
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise TransferError(f"{path.name} is not a readable safetensors file ({_short(exc)}): choose the weights "
                            "file again, or save the weights anew.") from None
    if is_project:
        # the weights file beside a project: one state dict per network
        from graph.errors import ProjectFileError
        from graph.project_file import load_weights

        try:
            networks = load_weights(path)
        except ProjectFileError as exc:
            raise TransferError(f"{path.name} cannot be read: {exc}.") from None
        return _project_source(networks, f"project weights {path.name}")
    if not state:
        raise TransferError(f"{path.name} holds no tensors.")
    return SourceWeights(state, f"file {path.name}", ordered=False)


def _read_torch(path: Path) -> SourceWeights:
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():
            # torch warns about protocol 4 pickles before refusing them; the refusal says it all
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _refused(path, str(exc)) from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, TypeError, AttributeError,
            IndexError, MemoryError) as exc:
        log.debug("torch.load(%s) failed: %r", path, exc)
        raise _not_weights(path) from None
    state, entry = _tensors_in(obj)
    if state is None:
        what = type(obj).__name__
        raise TransferError(f"{path.name} holds no weights (it contains a {what} without tensors): choose a file "
                            "written by torch.save(model.state_dict(), ...).")
    source = SourceWeights(state, f"file {path.name}")
    if entry is not None:
        source.source += f" (its '{entry}' entry)"
        source.notes.append(f"Used the '{entry}' entry of {path.name}.")
    return source


def _not_weights(path: Path) -> TransferError:
    return TransferError(f"{cut(path.name)} is not a PyTorch weights file (it is damaged, empty or of another "
                         "kind): choose a file written by torch.save(model.state_dict(), ...) or a "
                         ".safetensors file.")


def _refused(path: Path, text: str) -> TransferError:
    """The error for a pickle torch's weights-only reader turned down. A file that names a function
    or a class outside plain tensors is not damaged: it holds code, and saying so tells the person
    both why it was refused and that the refusal protected them."""
    log.debug("torch.load(%s) failed: %s", path, text)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    name = found.group(1) if found else None
    if name is None and "Weights only load failed" in text:
        # torch stops at the first opcode it does not handle (protocol 4 frames) before it names a
        # global: read the opcodes ourselves, without executing any, to find what the file refers to
        refused = _refused_globals(path)
        name = next((g for g in refused if g.split(".")[0] in CODE_MODULES), next(iter(refused), None))
    if name is None:
        return _not_weights(path)
    if "was not an allowed global" in text and name.split(".")[0] not in CODE_MODULES:
        # a pickled class (a whole model, usually): no command, but more than weights all the same
        return TransferError(
            f"{cut(path.name)} holds more than weights (a pickled {cut(name)}) and was refused. DeepCanvas only "
            "loads weights, because unpickling anything else could run code from the file: save "
            "model.state_dict() with torch.save, or use a .safetensors file.")
    return TransferError(
        f"{cut(path.name)} holds code (GLOBAL {cut(name)}) and was refused; DeepCanvas loads only plain "
        "tensors, so nothing in the file was run: save model.state_dict() with torch.save, or use a "
        ".safetensors file.")


#: module roots whose functions run commands, evaluate text or load other code
CODE_MODULES = frozenset({
    "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket", "importlib",
    "runpy", "code", "codeop", "pty", "ctypes", "pickle", "_pickle", "marshal", "types", "functools",
    "operator", "webbrowser", "multiprocessing", "threading", "signal", "tempfile", "pathlib", "io",
    "urllib", "http", "ftplib", "smtplib", "asyncio", "commands", "platform", "sysconfig", "pdb",
})


def _refused_globals(path: Path, limit: int = 64 << 20) -> list[str]:
    """Globals (``module.name``) a pickle refers to that torch's weights-only reader does not allow,
    in file order. Only parses opcodes (``pickletools.genops``), so nothing is imported or run; a
    ``torch.save`` zip archive is searched for its ``data.pkl``."""
    import pickletools
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                if member is None or archive.getinfo(member).file_size > limit:
                    return []
                data = archive.read(member)
        else:
            with path.open("rb") as fh:
                data = fh.read(limit)
    except (OSError, zipfile.BadZipFile, ValueError):
        return []
    allowed = _allowed_globals()
    found: list[str] = []
    strings: list[str] = []           # the recent string pushes, for STACK_GLOBAL's module and name
    memo: dict[int, str] = {}
    try:
        for op, arg, _pos in pickletools.genops(data):
            if op.name == "GLOBAL" and isinstance(arg, str):
                found.append(".".join(arg.split(" ", 1)))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str) and op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
                                                      "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"):
                strings.append(arg)
            elif op.name == "MEMOIZE" and strings:
                memo[len(memo)] = strings[-1]
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT") and strings and isinstance(arg, int):
                memo[arg] = strings[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET") and isinstance(arg, int) and arg in memo:
                strings.append(memo[arg])
    except (ValueError, EOFError, KeyError, IndexError):
        pass                                   # a damaged tail: what was read before still counts
    return [name for name in found if name not in allowed]


def _allowed_globals() -> frozenset[str]:
    """What torch's weights-only reader accepts by default (a private table, so read defensively)."""
    try:
        from torch import _weights_only_unpickler as reader

        return frozenset(str(k) for k in reader._get_allowed_globals())
    except (ImportError, AttributeError, TypeError):
        return frozenset({"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                          "torch._utils._rebuild_parameter", "torch.FloatStorage"})


def _tensors_in(obj: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The state dict inside what torch.load returned: the object itself, or for a training
    checkpoint the entry that holds the model's tensors."""
    import torch

    if not isinstance(obj, Mapping):
        return None, None
    flat = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if flat:
        return flat, None
    found: list[tuple[int, int, str, dict[str, Any]]] = []
    for key, value in obj.items():
        if isinstance(value, Mapping):
            inner = {str(k): v for k, v in value.items() if isinstance(v, torch.Tensor)}
            if inner:
                found.append((_checkpoint_rank(str(key)), -len(inner), str(key), inner))
    if not found:
        return None, None
    _, _, key, inner = min(found, key=lambda f: (f[0], f[1]))   # a known name first, else the largest
    return inner, key


def _checkpoint_rank(key: str) -> int:
    return CHECKPOINT_KEYS.index(key) if key in CHECKPOINT_KEYS else len(CHECKPOINT_KEYS)


def _short(exc: BaseException, limit: int = 160) -> str:
    return cut(" ".join(str(exc).split()), limit)


# -- matching ---------------------------------------------------------------------------------------
MATCHED, CHANGED, MISSING = "matched", "changed", "missing"


@dataclass(frozen=True)
class LayerMatch:
    """One node of the network and what the source had for it."""

    node_id: str | None
    name: str                  # the node's name, as the canvas shows it
    ident: str                 # its code identifier (state_dict keys start with it)
    type_id: str
    status: str                # matched | changed | missing
    detail: str = ""           # "64×10 → 64×12" for a changed layer
    params: int = 0            # elements of the layer's tensors


@dataclass
class WeightsMatch:
    """What :func:`match_weights` found; ``state`` holds only the tensors that fit, ready to attach
    (so what is saved beside the project always loads into the network it is saved with)."""

    network: str
    source: str
    state: dict[str, Any] = field(default_factory=dict)
    layers: list[LayerMatch] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)        # source layers no node of that name takes
    prefix: str = ""                                        # stripped from every source key
    #: when names did not fit, (source key, network key) pairs matched by structural order
    by_order: list[tuple[str, str]] = field(default_factory=list)
    #: why matching by order was refused (names did not fit all layers and order did not either)
    order_refused: str = ""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)      # from the source; ends the sentence

    def _names(self, status: str) -> list[str]:
        return [layer.name for layer in self.layers if layer.status == status]

    @property
    def matched(self) -> list[str]:
        return self._names(MATCHED)

    @property
    def changed(self) -> list[str]:
        """"dense_3 (64×10 → 64×12)" per layer that changed size."""
        return [f"{layer.name} ({layer.detail})" for layer in self.layers if layer.status == CHANGED]

    @property
    def untrained(self) -> list[str]:
        """Layers the source has nothing for: they keep fresh weights."""
        return self._names(MISSING)

    @property
    def total(self) -> int:
        return len(self.layers)

    def layer(self, name: str) -> LayerMatch | None:
        return next((m for m in self.layers if m.name == name or m.ident == name or m.node_id == name), None)

    def sentence(self, attached: bool = True) -> str:
        """What happened, for the person; ``attached=False`` before the weights are attached."""
        if not self.matched:
            text = f"None of the layers of {self.source} fit the network '{self.network}' as it is now."
            problems = self._problems()
            if problems:
                text += " " + " ".join(problems)
            return " ".join([text + " Choose weights trained for this network, or train it.", *self.warnings])
        fit = f"all {self.total}" if len(self.matched) == self.total else f"{len(self.matched)} of {self.total}"
        lead = "Loaded the weights of" if attached else "Weights of"
        text = f"{lead} {self.source} into '{self.network}': {fit} layers match ({_list(self.matched)})."
        for problem in self._problems():
            text += " " + problem
        if self.prefix:
            text += f" The prefix '{self.prefix}' was taken off the source's names."
        if self.by_order:
            text += (f" The names differ, so the {len(self.by_order)} tensors were matched by their order "
                     f"and shapes ({_list([f'{a} → {b}' for a, b in self.by_order], 3)}).")
        return " ".join([text, *self.warnings])

    def _problems(self) -> list[str]:
        out = []
        if self.changed:
            out.append(f"Changed size, so fresh weights: {_list(self.changed)}.")
        if self.untrained:
            out.append(f"Not in the source, so fresh weights: {_list(self.untrained)}.")
        if self.dropped:
            out.append(f"Not used from the source (no node of that name): {_list(self.dropped)}.")
        return out


def _list(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _shape(t: Any) -> str:
    return "×".join(str(d) for d in tuple(t.shape)) or "scalar"


def _layer(key: str) -> str:
    return key.split(".", 1)[0]


def _strip(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    if not prefix:
        return dict(state)
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def best_prefix(source_keys: list[str], target_keys: set[str]) -> str:
    """The dotted prefix (``""``, ``"module."``, ``"model.encoder."``, ...) whose removal makes the
    most source keys equal to target keys; ``""`` unless stripping really fits more."""
    candidates = {""}
    for key in source_keys:
        parts = key.split(".")
        for depth in range(1, min(MAX_PREFIX_DEPTH, len(parts) - 1) + 1):
            candidates.add(".".join(parts[:depth]) + ".")

    def score(prefix: str) -> int:
        n = len(prefix)
        return sum(1 for k in source_keys if k.startswith(prefix) and k[n:] in target_keys)

    return max(sorted(candidates, key=len), key=score)   # max keeps the first (shortest) of equal scores


def match_weights(state: Mapping[str, Any] | SourceWeights, project: Any, network: str | None = None,
                  source: str = "") -> WeightsMatch:
    """Fit a state dict into ``network`` of ``project`` (a graph Project, or a Network): layer by
    layer, by name and tensor shape. A project source with several networks is matched network by
    network and the one that fits best is used."""
    from graph import compile_network
    from graph.document import Network
    from graph.errors import GraphError

    net = project if isinstance(project, Network) else project.network(network)
    try:
        model = compile_network(net, seed=0)
    except GraphError as exc:
        raise TransferError(f"The network '{net.name}' cannot be built, so no weights can be matched into it: "
                            f"{exc}") from None
    own = {k: v for k, v in model.state_dict().items()}
    if isinstance(state, SourceWeights):
        candidates = state.networks or {"": state.state}
        # the source's network of the same name is tried first, so it wins a tie
        order = sorted(candidates, key=lambda name: name != net.name)
        results = []
        for name in order:
            tensors = candidates[name]
            where = state.source + (f", network '{name}'" if name and len(candidates) > 1 else "")
            results.append(_match(tensors, net, model, own, where or source, state.ordered))
        best = max(results, key=lambda r: (len(r.matched), -len(r.changed)))
        best.notes = list(state.notes) + best.notes
        best.warnings = list(state.warnings) + best.warnings
        return best
    return _match(state, net, model, own, source or "the weights")


def _match(state: Mapping[str, Any], net: Any, model: Any, own: dict[str, Any], source: str,
           ordered: bool = True) -> WeightsMatch:
    """By name, else (when names leave layers out) by structural order: see :func:`match_by_order`.
    ``ordered``: whether ``state`` lists the tensors in the order they were saved."""
    by_name = _match_names(state, net, model, own, source)
    if len(by_name.matched) == by_name.total:
        return by_name
    if ordered:
        pairs, why = match_by_order(state, own, by_name.prefix)
    else:
        pairs, why = [], ("a safetensors file lists its tensors sorted by name, not in the order they were "
                          "saved, so tensors whose names differ cannot be paired by order (a state dict saved "
                          "with torch.save keeps the order)")
    if not pairs:
        by_name.order_refused = why
        if not by_name.matched:
            by_name.notes.append(f"Matching by order was tried too: {why}.")
        return by_name
    result = WeightsMatch(net.name, source, by_order=pairs)
    taken = {mine for _, mine in pairs}
    for key_source, key_own in pairs:
        result.state[key_own] = state[key_source].detach().to("cpu").contiguous()
    by_ident = {ident: node_id for node_id, ident in model.node_names.items()}
    layers: dict[str, list[str]] = {}
    for key in own:
        layers.setdefault(_layer(key), []).append(key)
    for ident, keys in layers.items():
        node_id = by_ident.get(ident)
        node = net.node(node_id) if node_id is not None else None
        params = sum(int(own[k].numel()) for k in keys)
        status = MATCHED if all(k in taken or k.rsplit(".", 1)[-1] in OPTIONAL_KEYS for k in keys) else MISSING
        result.layers.append(LayerMatch(node_id, node.name if node is not None else ident, ident,
                                        node.type_id if node is not None else "", status, "", params))
    return result


def match_by_order(state: Mapping[str, Any], own: Mapping[str, Any],
                   prefix: str = "") -> tuple[list[tuple[str, str]], str]:
    """Pair the source's tensors with the network's by position when their names differ (an
    upstream checkpoint's ``main.0.weight`` for our ``conv_1.weight``).

    The rule, so that nothing is guessed: the source's tensors in the order they were saved are
    paired one to one with the network's ``state_dict`` in its order, and every pair must have the
    same shape. Any difference in count or in one shape refuses the whole match (a reordered or
    changed model cannot be told from a matching one then). Buffers older PyTorch versions leave out
    (``num_batches_tracked``) may be missing on either side, all of them or none. Where a source
    name (less ``prefix``) is a name of the network, the order must pair it with that name: a
    source whose names fit some layers but whose order says otherwise is refused too. ``state``
    must be in the order the tensors were saved (not a safetensors file, which sorts them).
    Returns the (source key, network key) pairs, or ``[]`` and why not."""
    import torch

    theirs = [(str(k), v) for k, v in state.items() if isinstance(v, torch.Tensor)]
    mine = list(own.items())

    def optional(key: str) -> bool:
        return key.rsplit(".", 1)[-1] in OPTIONAL_KEYS

    if len(theirs) != len(mine):
        theirs = [(k, v) for k, v in theirs if not optional(k)]
        mine = [(k, v) for k, v in mine if not optional(k)]
    if len(theirs) != len(mine):
        return [], (f"the source has {len(theirs)} tensors and the network {len(mine)}, so they cannot be "
                    f"paired in order")
    if not mine:
        return [], "the network has no weights"
    for i, ((key_source, a), (key_own, b)) in enumerate(zip(theirs, mine, strict=True)):
        if tuple(a.shape) != tuple(b.shape):
            return [], (f"tensor {i + 1} in order differs in shape ({key_source} is {_shape(a)}, {key_own} is "
                        f"{_shape(b)}), so the order cannot be trusted")
    pairs = [(ks, ko) for (ks, _), (ko, _) in zip(theirs, mine, strict=True)]
    for key_source, key_own in pairs:
        named = key_source[len(prefix):] if key_source.startswith(prefix) else key_source
        if named != key_own and named in own:
            return [], (f"the order pairs {key_source} with {key_own}, but the network has a tensor of that "
                        f"name ({named}), so neither can be trusted")
    return pairs, ""


def _match_names(state: Mapping[str, Any], net: Any, model: Any, own: dict[str, Any], source: str) -> WeightsMatch:
    import torch

    tensors = {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    prefix = best_prefix(list(tensors), set(own))
    tensors = _strip(tensors, prefix)
    result = WeightsMatch(net.name, source, prefix=prefix)
    by_ident = {ident: node_id for node_id, ident in model.node_names.items()}
    own_layers: dict[str, list[str]] = {}
    for key in own:
        own_layers.setdefault(_layer(key), []).append(key)
    source_layers: dict[str, list[str]] = {}
    for key in tensors:
        source_layers.setdefault(_layer(key), []).append(key)
    for ident, keys in own_layers.items():
        node_id = by_ident.get(ident)
        node = net.node(node_id) if node_id is not None else None
        name = node.name if node is not None else ident
        type_id = node.type_id if node is not None else ""
        params = sum(int(own[k].numel()) for k in keys)
        theirs = source_layers.get(ident)
        if not theirs:
            result.layers.append(LayerMatch(node_id, name, ident, type_id, MISSING, "", params))
            continue
        detail = _difference(keys, theirs, own, tensors)
        if detail:
            result.layers.append(LayerMatch(node_id, name, ident, type_id, CHANGED, detail, params))
            continue
        result.layers.append(LayerMatch(node_id, name, ident, type_id, MATCHED, "", params))
        for k in keys:
            if k in tensors:
                result.state[k] = tensors[k].detach().to("cpu").contiguous()
    result.dropped = [layer for layer in source_layers if layer not in own_layers]
    return result


def _difference(keys: list[str], theirs: list[str], own: dict[str, Any], tensors: dict[str, Any]) -> str:
    """"" when the source's tensors of a layer fit it, else what differs ("64×10 → 64×12")."""
    for k in keys:
        if k not in tensors:
            if k.rsplit(".", 1)[-1] in OPTIONAL_KEYS:
                continue
            return f"no {k.split('.', 1)[-1]} in the source"
        if tuple(tensors[k].shape) != tuple(own[k].shape):
            return f"{_shape(tensors[k])} → {_shape(own[k])}"
    extra = sorted(set(theirs) - set(keys))
    if extra:
        return f"the source has other tensors ({', '.join(k.split('.', 1)[-1] for k in extra[:3])})"
    return ""


def transfer_weights(path: str | os.PathLike[str], project: Any, network: str | None = None,
                     which: str = "best") -> WeightsMatch:
    """Read the weights at ``path`` and match them into ``network`` of ``project``."""
    return match_weights(read_weights(path, which), project, network)


def match_run_weights(project_data: dict[str, Any], network: str, run_path: str | os.PathLike[str],
                      which: str = "best") -> WeightsMatch:
    """A run's weights matched into ``network`` of the project given as its JSON dict (a snapshot
    taken on the GUI thread, so the document is never shared with a worker thread)."""
    from graph import project_from_dict

    return match_weights(_read_run(Path(run_path), which), project_from_dict(project_data), network)


def match_file_weights(project_data: dict[str, Any], network: str, path: str | os.PathLike[str],
                       which: str = "best") -> WeightsMatch:
    """Any source (see :func:`read_weights`) matched into a project given as its JSON dict."""
    from graph import project_from_dict

    return transfer_weights(path, project_from_dict(project_data), network, which)
