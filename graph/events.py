"""Change events the document announces; views mirror the model by listening to these.

Events are frozen dataclasses so listeners cannot alter what other listeners see. They carry the
network object (not its name) because a rename must not orphan a listener's bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from graph.document import Edge, Network, Node


@dataclass(frozen=True)
class GraphEvent:
    network: Network | None


@dataclass(frozen=True)
class NodeAdded(GraphEvent):
    node: Node


@dataclass(frozen=True)
class NodeRemoved(GraphEvent):
    node: Node


@dataclass(frozen=True)
class EdgeAdded(GraphEvent):
    edge: Edge


@dataclass(frozen=True)
class EdgeRemoved(GraphEvent):
    edge: Edge


@dataclass(frozen=True)
class ParamChanged(GraphEvent):
    node_id: str
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class NodeRenamed(GraphEvent):
    node_id: str
    old: str
    new: str


@dataclass(frozen=True)
class NodeMoved(GraphEvent):
    node_id: str
    old: tuple[float, float]
    new: tuple[float, float]


@dataclass(frozen=True)
class NetworkAdded(GraphEvent):
    index: int


@dataclass(frozen=True)
class NetworkRemoved(GraphEvent):
    index: int


@dataclass(frozen=True)
class NetworkRenamed(GraphEvent):
    old: str
    new: str


@dataclass(frozen=True)
class SettingsChanged(GraphEvent):
    key: str


@dataclass(frozen=True)
class BlockUpdated(GraphEvent):
    """The definition behind these Block nodes changed (its inside, its ports or its exposed
    params): views refresh their ports and params; shapes are already invalidated."""

    node_ids: tuple[str, ...]
    block: str


@dataclass(frozen=True)
class LibraryChanged(GraphEvent):
    """A block definition was added, removed, renamed or had its exposed params changed
    (``network`` is None: the event is about the project's block library)."""

    block: str
    change: str            # "added" | "removed" | "renamed" | "exposed"
    old_name: str = ""


Listener = Callable[[GraphEvent], None]


class Observable:
    """A plain observer list: no Qt, so the core stays importable by the CLI and the engine."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: GraphEvent) -> None:
        for listener in list(self._listeners):
            listener(event)
