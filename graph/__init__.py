"""DeepCanvas core (Qt-free): document model, layer registry, shape inference, compiler, code
export and project files.

Importing ``graph`` does not import torch: the window can show shapes before torch has loaded.
``compile_network`` and ``sample_inputs`` import it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graph.builder import NetworkBuilder
from graph.document import Edge, Network, Node, Project
from graph.errors import (
    CompileError,
    ConnectionRefused,
    CycleError,
    DuplicateEdgeError,
    GraphError,
    NodeNotFoundError,
    ParamError,
    PortError,
    ProjectFileError,
    ShapeError,
    UnknownLayerError,
)
from graph.export_python import export_python
from graph.layers import all_layers, get_layer, layers_by_category
from graph.project_file import FORMAT_VERSION, load_project, project_from_dict, project_to_dict, save_project
from graph.shapes import Analysis, Problem, analyze
from graph.summary import Summary, summarize
from graph.tensor_type import TensorType

if TYPE_CHECKING:  # pragma: no cover
    from graph.compiler import CompiledNetwork


def compile_network(target: Project | Network, network: str | None = None, seed: int | None = 0) -> CompiledNetwork:
    """Project (its first network, or the one named) or Network -> ``torch.nn.Module``."""
    from graph.compiler import compile_network as _compile

    return _compile(target, network, seed)


def sample_inputs(target: Any, batch_size: int = 2, seed: int = 0, network: str | None = None) -> list:
    from graph.compiler import sample_inputs as _sample

    return _sample(target, batch_size, seed, network)


__all__ = [
    "FORMAT_VERSION", "Analysis", "CompileError", "ConnectionRefused", "CycleError", "DuplicateEdgeError",
    "Edge", "GraphError", "Network", "NetworkBuilder", "Node", "NodeNotFoundError", "ParamError", "PortError",
    "Problem", "Project", "ProjectFileError", "ShapeError", "Summary", "TensorType", "UnknownLayerError",
    "all_layers", "analyze", "compile_network", "export_python", "get_layer", "layers_by_category",
    "load_project", "project_from_dict", "project_to_dict", "sample_inputs", "save_project", "summarize",
]
