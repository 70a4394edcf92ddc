"""Small projects and helpers for the training-engine tests (runs are kept to a few epochs of tiny
networks so the whole engine suite stays well under two minutes on two cores)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from graph import NetworkBuilder, Project


def moons_project(units: int = 16, classes: int = 2, epochs: int = 2, n_samples: int = 200,
                  **training: Any) -> Project:
    b = NetworkBuilder()
    x = b.input((2,), name="xy")
    h = b.chain(x, ("Dense", {"units": units}), "ReLU", ("Dense", {"units": classes}))
    b.output(h, name="logits")
    return b.project("Moons test", {
        "dataset": {"kind": "moons", "options": {"n_samples": n_samples}},
        "training": {"recipe": "classification", "epochs": epochs, "batch_size": 32, **training},
    })


def diabetes_project(epochs: int = 2, **training: Any) -> Project:
    b = NetworkBuilder()
    x = b.input((10,), name="features")
    h = b.chain(x, ("Dense", {"units": 16}), "ReLU", ("Dense", {"units": 1}))
    b.output(h, name="progression")
    return b.project("Diabetes test", {
        "dataset": {"kind": "diabetes"},
        "training": {"recipe": "regression", "epochs": epochs, "batch_size": 32, **training},
    })


def digits_mlp_project(epochs: int = 1, **training: Any) -> Project:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    h = b.chain(x, "Flatten", ("Dense", {"units": 32}), "ReLU", ("Dense", {"units": 10}))
    b.output(h, name="logits")
    return b.project("Digits test", {
        "dataset": {"kind": "digits"},
        "training": {"recipe": "classification", "epochs": epochs, "batch_size": 64, **training},
    })


@pytest.fixture
def run_in_process(tmp_path) -> Callable[..., tuple[dict[str, Any], list[Any], Any]]:
    """Run a project through ``execute_run`` in this process: (report, events, run_dir)."""
    from engine.session import RunRequest, execute_run
    from graph import project_to_dict

    counter = iter(range(1000))

    def run(project: Project, control: Any = None, base_dir: str | None = None, **request: Any):
        run_dir = tmp_path / f"run{next(counter)}"
        events: list[Any] = []
        report = execute_run(RunRequest(project_to_dict(project), str(run_dir), base_dir=base_dir, **request),
                             events.append, control)
        return report, events, run_dir

    return run


def of_type(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]
