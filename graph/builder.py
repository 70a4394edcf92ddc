"""A small builder to write networks in code (templates, tests, scripts):

    b = NetworkBuilder("main")
    x = b.input((1, 8, 8))
    h = b.add("Conv2d", x, filters=16)
    h = b.add("ReLU", h)
    b.output(b.add("Dense", b.add("Flatten", h), units=10))
    project = b.project("digits")

Blocks: ``b.block("encoder", x, latent=2)`` adds a built-in block (its definition joins the project on
first use) or a block the project already defines, with values for its exposed params.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph.document import Network, Project
from graph.layout import apply_layout

Source = str | tuple[str, str]  # node id, or (node id, output port)


class NetworkBuilder:
    def __init__(self, name: str = "main", network: Network | None = None) -> None:
        # a fresh network starts inside a project of its own, so blocks have a library to live in
        self._project = Project(networks=[Network(name)]) if network is None else None
        self.network = network if network is not None else self._project.main  # type: ignore[union-attr]

    def block(self, block: str, *sources: Source, name: str | None = None, **params: Any) -> str:
        """Add a Block node: ``block`` is a built-in key (see graph.builtin_blocks) or a definition name."""
        from graph.builtin_blocks import BUILTIN_BLOCKS, ensure_builtin

        library = self.network.library
        if library is None:
            raise ValueError("this builder's network belongs to no project, so it cannot hold blocks")
        if block not in library and block in BUILTIN_BLOCKS:
            block = ensure_builtin(library, block).name
        return self.add("Block", *sources, name=name, block=block, **params)

    def add(self, type_id: str, *sources: Source, name: str | None = None,
            ports: dict[str, Source] | None = None, **params: Any) -> str:
        """Add a node fed by ``sources`` (into its input ports in order; all of them into a merge
        port) and by ``ports`` (named input ports). Returns the node id."""
        node = self.network.add_node(type_id, params, name=name)
        spec = node.spec
        if spec.is_merge:
            for src in sources:
                self._connect(src, node.id, spec.inputs[0].name)
        else:
            if len(sources) > len(spec.inputs):
                raise ValueError(f"{spec.display_name} has {len(spec.inputs)} input port(s), got {len(sources)}")
            for port, src in zip(spec.inputs, sources, strict=False):
                self._connect(src, node.id, port.name)
        for port_name, src in (ports or {}).items():
            self._connect(src, node.id, port_name)
        return node.id

    def _connect(self, source: Source, target: str, port: str) -> None:
        node_id, out_port = (source, "out") if isinstance(source, str) else source
        self.network.connect(node_id, target, out_port, port)

    def input(self, shape: Sequence[int], dtype: str = "float32", name: str | None = None) -> str:
        return self.add("Input", name=name, shape=tuple(shape), dtype=dtype)

    def output(self, source: Source, name: str | None = None) -> str:
        return self.add("Output", source, name=name)

    def chain(self, source: Source, *layers: tuple[str, dict[str, Any]] | str) -> str:
        """Feed ``source`` through layers one after the other: ``chain(x, ("Dense", {"units": 8}), "ReLU")``."""
        current = source
        for layer in layers:
            type_id, params = (layer, {}) if isinstance(layer, str) else layer
            current = self.add(type_id, current, **params)
        return current if isinstance(current, str) else current[0]

    def layout(self) -> Network:
        apply_layout(self.network)
        return self.network

    def project(self, name: str = "Untitled", settings: dict[str, Any] | None = None) -> Project:
        self.layout()
        if self._project is not None:
            self._project.name = name
            self._project.settings = dict(settings or {})
            return self._project
        return Project(name=name, networks=[self.network], settings=dict(settings or {}))
