"""Network -> torch.nn.Module.

The module holds one submodule per layer node, named after the node (so ``state_dict`` keys read
``conv_1.weight``), and runs them in the plan's topological order. Nothing from a project file is
executed: modules are built from registry classes with literal keyword arguments.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from graph import torch_modules
from graph.document import Network, Project
from graph.errors import CompileError, GraphError
from graph.layers import ModuleCall
from graph.plan import Plan, build_plan, is_token_input, sample_shape, token_range, value_of


def resolve(call: ModuleCall) -> type[nn.Module]:
    prefix, _, name = call.cls.partition(".")
    owner = {"nn": nn, "dc": torch_modules}[prefix]
    cls = getattr(owner, name)
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    return cls


def make_module(call: ModuleCall) -> nn.Module:
    return resolve(call)(**call.kwargs)


class CompiledNetwork(nn.Module):
    """A drawn network as a module; ``forward(*inputs)`` takes one tensor per Input node (in the
    order the nodes were created) and returns one tensor, or a tuple when there are several Outputs."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.network_name = plan.network.name
        self.input_names = [s.name for s in plan.inputs]
        self.output_names = [s.name for s in plan.outputs]
        #: node id -> identifier (module attribute / forward variable)
        self.node_names = {s.node.id: s.name for s in plan.steps}
        self._program: list[tuple[str, str, tuple[str | None, ...]]] = []
        for step in plan.steps:
            if step.block is not None:
                self.add_module(step.name, CompiledNetwork(step.block))
                self._program.append(("layer", step.name, step.args))
            elif step.call is not None:
                self.add_module(step.name, make_module(step.call))
                self._program.append(("layer", step.name, step.args))
            elif step.node.spec.role == "output":
                self._program.append(("output", step.name, step.args))
        self._plan = plan

    @property
    def plan(self) -> Plan:
        return self._plan

    def forward_all(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every node's value by identifier: used to trace one sample through the network."""
        if len(inputs) != len(self.input_names):
            raise CompileError(f"network '{self.network_name}' takes {len(self.input_names)} input(s) "
                               f"({', '.join(self.input_names)}) but got {len(inputs)}")
        env: dict[str, torch.Tensor] = dict(zip(self.input_names, inputs, strict=True))
        for kind, name, args in self._program:
            values = [None if a is None else value_of(env, a) for a in args]
            env[name] = getattr(self, name)(*values) if kind == "layer" else values[0]
        return env

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        env = self.forward_all(*inputs)
        outs = tuple(env[name] for name in self.output_names)
        return outs[0] if len(outs) == 1 else outs


def _network_of(target: Project | Network, network: str | None) -> Network:
    if isinstance(target, Network):
        return target
    return target.network(network)


def compile_network(target: Project | Network, network: str | None = None, seed: int | None = 0) -> CompiledNetwork:
    """Build the module; with a seed, initial weights are the same on every call (and equal to
    those of the exported script, which creates the layers in the same order)."""
    net = _network_of(target, network)
    try:
        plan = build_plan(net)
    except GraphError as exc:
        raise CompileError(str(exc)) from exc
    if seed is None:
        return CompiledNetwork(plan)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CompiledNetwork(plan)


def sample_inputs(target: Project | Network | Plan, batch_size: int = 2, seed: int = 0,
                  network: str | None = None) -> list[torch.Tensor]:
    """Random inputs of the right shape and dtype (token ids within every Embedding's range)."""
    plan = target if isinstance(target, Plan) else build_plan(_network_of(target, network))
    gen = torch.Generator().manual_seed(seed)
    tensors = []
    for step in plan.inputs:
        shape = sample_shape(step, batch_size)
        if is_token_input(step):
            high = token_range(plan.network, step.node)
            tensors.append(torch.randint(0, high, shape, generator=gen))
        else:
            tensors.append(torch.randn(shape, generator=gen))
    return tensors


def as_tuple(out: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return (out,) if isinstance(out, torch.Tensor) else tuple(out)
