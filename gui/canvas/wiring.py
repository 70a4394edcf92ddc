"""Dragging a wire from a port: which ports light up, what the drop would do, and why not.

Every verdict comes from the document's own ``can_connect``, so the canvas can never disagree with
the model about what is allowed. A wire picked up from a connected input re-routes that edge
(dropped on nothing, it deletes it), and a wire dropped on a taken input replaces the one there, as
in Blender's and ComfyUI's node editors.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem

from graph import ConnectionRefused, NodeNotFoundError
from graph.splice import check_replace
from gui import theme
from gui.canvas.edge_item import wire_path
from gui.canvas.node_item import PORT_HIT, NodeItem, PortKind, PortRef, PortState
from gui.canvas.scene import CanvasScene

#: above this many visible nodes, targets are judged on hover only (each check walks the graph)
MAX_HIGHLIGHTED = 200


@dataclass(frozen=True)
class Target:
    node_id: str
    port: str | None   # None: the node's body (its first free input / its first output)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    noop: bool = False
    #: the edge a drop here would replace (a taken single input)
    replaces: str | None = None


class WireDrag:
    def __init__(self, scene: CanvasScene, origin: PortRef) -> None:
        self.scene = scene
        net = scene.network
        self.picked_edge: str | None = None
        anchor = origin
        if origin.kind == "in":
            port = net.node(origin.node_id).spec.input_port(origin.name)
            fed = net.in_edges(origin.node_id, origin.name)
            if fed and port is not None and not port.multi:
                edge = fed[0]
                self.picked_edge = edge.id
                anchor = PortRef(edge.source, "out", edge.source_port)
                scene.edges[edge.id].hide()
        self.anchor = anchor
        #: dragging from an output towards inputs (otherwise from an input back to an output)
        self.forward = anchor.kind == "out"
        self.hover: Target | None = None
        self.verdict: Verdict | None = None
        self._verdicts: dict[Target, Verdict] = {}
        self._lit: list[NodeItem] = []
        self.wire = QGraphicsPathItem()
        self.wire.setZValue(10)
        self._set_wire_color(None)
        scene.addItem(self.wire)
        self._start = scene.nodes[anchor.node_id].port_pos(anchor.kind, anchor.name)
        self.wire.setPath(wire_path(self._start, self._start))

    # -- judging targets ------------------------------------------------------------------------
    def judge(self, target: Target) -> Verdict:
        cached = self._verdicts.get(target)
        if cached is not None:
            return cached
        net = self.scene.network
        a = self.anchor
        old = net.edge(self.picked_edge) if self.forward and self.picked_edge is not None else None
        if old is not None and target.node_id == old.target and target.port in (None, old.target_port):
            verdict = Verdict(True, noop=True)
        elif self.forward:
            verdict = self._judge_forward(target)
        else:
            outputs = net.node(target.node_id).spec.outputs
            port = target.port or (outputs[0] if outputs else "out")
            verdict = Verdict(*net.can_connect(target.node_id, a.node_id, port, a.name))
        self._verdicts[target] = verdict
        return verdict

    def _judge_forward(self, target: Target) -> Verdict:
        """A wire from an output: a taken single input is fine, the drop replaces its wire (as in
        Blender and ComfyUI). Dropped on the body of a node whose several inputs are all taken, the
        wire would have to pick one, so that stays refused with the reason."""
        net = self.scene.network
        a = self.anchor
        inputs = net.node(target.node_id).spec.inputs
        if target.port is None and len(inputs) > 1 and net.free_input_port(target.node_id) is None:
            ok, reason = net.can_connect(a.node_id, target.node_id, a.name, None)
            return Verdict(ok, reason)
        try:
            _port, old = check_replace(net, a.node_id, target.node_id, a.name, target.port)
        except (ConnectionRefused, NodeNotFoundError) as exc:
            return Verdict(False, str(exc))
        return Verdict(True, replaces=old.id if old is not None else None)

    def light_up(self, visible: list[NodeItem]) -> None:
        """Mark every visible port the wire could (green) or could not (red) be dropped on."""
        if len(visible) > MAX_HIGHLIGHTED:
            return
        kind: PortKind = "in" if self.forward else "out"
        for item in visible:
            states: dict[tuple[PortKind, str], PortState] = {
                (kind, port): "valid" if self.judge(Target(item.node_id, port)).ok else "invalid"
                for port in item.ports(kind)}
            if states:
                item.set_port_states(states)
                self._lit.append(item)

    # -- following the mouse --------------------------------------------------------------------
    def target_at(self, scene_pos: QPointF) -> tuple[Target | None, QPointF | None]:
        """The port (or node body) under the cursor, and where the wire should snap to."""
        kind: PortKind = "in" if self.forward else "out"
        near = QRectF(scene_pos.x() - PORT_HIT, scene_pos.y() - PORT_HIT, 2 * PORT_HIT, 2 * PORT_HIT)
        for item in self.scene.items(near, Qt.ItemSelectionMode.IntersectsItemBoundingRect,
                                     Qt.SortOrder.DescendingOrder):
            if not isinstance(item, NodeItem):
                continue
            port = item.port_at(scene_pos, kind)
            if port is not None:
                return Target(item.node_id, port.name), item.port_pos(kind, port.name)
            if item.node_id != self.anchor.node_id and item.sceneBoundingRect().contains(scene_pos):
                return Target(item.node_id, None), None
        return None, None

    def move(self, scene_pos: QPointF) -> Verdict | None:
        target, snap = self.target_at(scene_pos)
        self._set_hover(target)
        end = snap if snap is not None else scene_pos
        self.wire.setPath(wire_path(self._start, end) if self.forward else wire_path(end, self._start))
        self.verdict = self.judge(target) if target is not None else None
        self._set_wire_color(self.verdict)
        return self.verdict

    def _set_hover(self, target: Target | None) -> None:
        if target == self.hover:
            return
        kind: PortKind = "in" if self.forward else "out"
        for t in (self.hover, target):
            if t is None or t.port is None:
                continue
            item = self.scene.nodes.get(t.node_id)
            if item is None:
                continue
            states = dict(item.port_states)
            ok = self.judge(t).ok
            if t == target:
                states[(kind, t.port)] = "hover-valid" if ok else "hover-invalid"
            else:
                states[(kind, t.port)] = "valid" if ok else "invalid"
            item.set_port_states(states)
            if item not in self._lit:
                self._lit.append(item)
        self.hover = target

    def _set_wire_color(self, verdict: Verdict | None) -> None:
        c = theme.current().canvas
        color = theme.current().accent if verdict is None else (c.valid if verdict.ok else c.invalid)
        pen = QPen(color, 2.4)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        if verdict is None:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.wire.setPen(pen)

    def end(self) -> None:
        """Remove the temporary wire and highlights (the document is untouched here)."""
        for item in self._lit:
            item.set_port_states({})
        self._lit.clear()
        if self.picked_edge is not None and self.picked_edge in self.scene.edges:
            self.scene.edges[self.picked_edge].show()
        self.scene.removeItem(self.wire)
