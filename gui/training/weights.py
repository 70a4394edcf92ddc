"""Reusing a run's trained weights: load them, check them against the network as it is now, and
say layer by layer what fits. Runs in the thread pool (it needs torch, which the window does not
import until then); only the layers that fit are attached, so what is saved beside the project
always loads into the network it is saved with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class WeightsMatch:
    network: str
    source: str                                    # "run 20260122-101530-mlp (best, epoch 12)"
    state: dict[str, Any]                          # the tensors that fit, ready to attach
    matched: list[str] = field(default_factory=list)          # node names
    changed: list[str] = field(default_factory=list)          # "Dense 3 (10×64 → 12×64)"
    untrained: list[str] = field(default_factory=list)        # layers the run has no weights for
    dropped: list[str] = field(default_factory=list)          # run layers no longer in the network

    @property
    def total(self) -> int:
        return len(self.matched) + len(self.changed) + len(self.untrained)

    def sentence(self) -> str:
        if not self.matched:
            return (f"None of the layers of {self.source} fit the network '{self.network}' as it is now"
                    + (f" ({'; '.join(self._problems())})" if self._problems() else "")
                    + ". Open the run's own network, or train again.")
        fit = f"all {self.total}" if len(self.matched) == self.total else f"{len(self.matched)} of {self.total}"
        text = (f"Loaded the weights of {self.source} into '{self.network}': {fit} layers match "
                f"({_list(self.matched)}).")
        problems = "; ".join(self._problems())
        if problems:
            text += f" {problems[0].upper()}{problems[1:]}."
        return text

    def _problems(self) -> list[str]:
        out = []
        if self.changed:
            out.append(f"{_list(self.changed)} changed size and keep{'s' if len(self.changed) == 1 else ''} "
                       "fresh weights")
        if self.untrained:
            out.append(f"{_list(self.untrained)} {'is' if len(self.untrained) == 1 else 'are'} not in the run")
        if self.dropped:
            out.append(f"the run's {_list(self.dropped)} no longer exist{'s' if len(self.dropped) == 1 else ''}")
        return out


def _list(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _shape(t: Any) -> str:
    return "×".join(str(d) for d in tuple(t.shape)) or "scalar"


def match_run_weights(project_data: dict[str, Any], network: str, run_path: str | Path,
                      which: str = "best") -> WeightsMatch:
    """Background: load a run's weights and keep those that fit ``network`` of the project given
    as its JSON dict (a snapshot taken on the GUI thread, so the document is never shared)."""
    from engine.runs import REPORT, load_run_weights
    from graph import compile_network, project_from_dict

    path = Path(run_path)
    state = load_run_weights(path, which)
    epoch = None
    try:
        import json

        report = json.loads((path / REPORT).read_text(encoding="utf-8"))
        saved = (report.get("weights") or {})
        entry = saved.get(which) or saved.get("last") or {}
        epoch = entry.get("epoch")
    except (OSError, ValueError, AttributeError):
        pass
    used = which if (path / f"{which}.safetensors").exists() else "last"
    source = f"run {path.name} ({used}{f', epoch {epoch}' if epoch else ''})"
    project = project_from_dict(project_data)
    model = compile_network(project, network)
    own = model.state_dict()
    ident_to_name = {ident: project.network(network).node(node_id).name
                     for node_id, ident in model.node_names.items()}

    def layer(key: str) -> str:
        return key.split(".", 1)[0]

    result = WeightsMatch(network, source, {})
    own_layers: dict[str, list[str]] = {}
    for key in own:
        own_layers.setdefault(layer(key), []).append(key)
    run_layers = {layer(k) for k in state}
    for ident, keys in own_layers.items():
        name = ident_to_name.get(ident, ident)
        if ident not in run_layers:
            result.untrained.append(name)
            continue
        bad = [k for k in keys if k not in state or tuple(state[k].shape) != tuple(own[k].shape)]
        if bad:
            k = bad[0]
            detail = f"{_shape(state[k])} → {_shape(own[k])}" if k in state else "different parameters"
            result.changed.append(f"{name} ({detail})")
            continue
        result.matched.append(name)
        for k in keys:
            result.state[k] = state[k]
    result.dropped = sorted(run_layers - set(own_layers))
    return result
