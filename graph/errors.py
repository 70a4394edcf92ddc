"""Typed errors of the graph core.

Every rule the model enforces raises a subclass of :class:`GraphError`, so the GUI can show the
message as it is and the CLI can exit with it, while tests can still tell the cases apart.
"""

from __future__ import annotations

from graph.quoting import cut, cut_message


class GraphError(Exception):
    """Base class of every error a user can cause by editing a network.

    Text arguments are cut to a bounded length: the message is shown as it is, and it may quote a
    name or a file's content of any size."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(cut_message(a) if isinstance(a, str) else a for a in args))


class UnknownLayerError(GraphError):
    """A layer type id that the registry does not know (and no legacy id maps to)."""


class ParamError(GraphError):
    """A parameter value outside its type, range or choices."""


class ConnectionRefused(GraphError):
    """Base of the reasons an edge may not be added; ``str()`` is the sentence shown while dragging."""


class CycleError(ConnectionRefused):
    """The edge would close a loop; networks are DAGs."""


class PortError(ConnectionRefused):
    """A port that the node's layer type does not have, or one that is already taken."""


class DuplicateEdgeError(ConnectionRefused):
    """The very same output-to-input edge already exists."""


class NodeNotFoundError(GraphError):
    """An id that names no node (or edge) of the network."""


class ShapeError(GraphError):
    """A layer cannot accept the tensor it is fed; raised by shape rules, caught by inference."""


class CompileError(GraphError):
    """The network cannot be turned into a module (it has shape errors, no input or no output)."""


class ProjectFileError(GraphError):
    """A project file that cannot be read; the message names the place in the file."""

    def __init__(self, message: str, where: str = "") -> None:
        self.where = cut(where)
        super().__init__(f"{where}: {message}" if where else message)
