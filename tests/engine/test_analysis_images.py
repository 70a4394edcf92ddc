"""Analysis of image data sets feeds the model what training fed it: pixels normalised with the
training statistics (the data set itself holds raw uint8 pixels, normalised per batch in training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.analysis import evaluate, load_project_dataset, saliency, trace
from engine.events import EpochMetrics
from engine.model_inputs import validation_inputs, validation_sample
from engine.runs import load_run_weights
from graph import NetworkBuilder
from tests.engine.conftest import of_type

Image = pytest.importorskip("PIL.Image")


def _folder(tmp_path: Path, per_class: int = 16) -> Path:
    """Three classes told apart by their brightness and colour, with noise, so a small network gets
    some right and some wrong after two epochs."""
    root = tmp_path / "pics"
    rng = np.random.default_rng(3)
    for name, base in (("red", (170, 60, 60)), ("green", (60, 170, 60)), ("grey", (120, 120, 120))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(np.array(base) + rng.integers(-90, 90, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")
    return root


def _project(root: Path, cache: str = "auto") -> object:
    b = NetworkBuilder()
    x = b.input((3, 6, 6), name="image")
    h = b.chain(x, "Flatten", ("Dense", {"units": 8}), "ReLU", ("Dense", {"units": 3}))
    b.output(h, name="logits")
    return b.project("Images", {
        "dataset": {"kind": "image_folder", "path": str(root),
                    "options": {"size": 6, "channels": 3, "cache": cache, "workers": 0}},
        "training": {"recipe": "classification", "epochs": 2, "batch_size": 8, "lr": 0.01, "keep_best": False},
    })


@pytest.mark.parametrize("cache", ["auto", "stream"])
def test_evaluate_on_an_image_folder_matches_the_trainers_last_validation_accuracy(
        tmp_path: Path, run_in_process, cache: str) -> None:
    project = _project(_folder(tmp_path), cache)
    report, events, run_dir = run_in_process(project)
    assert report["status"] == "completed", report
    trained = of_type(events, EpochMetrics)[-1].metrics["val_accuracy"]
    weights = load_run_weights(run_dir, "last")
    dataset = load_project_dataset(project)
    result = evaluate(project, "main", weights, dataset)
    assert result.accuracy == pytest.approx(trained, abs=1e-9)
    assert result.samples == len(dataset.y_val)
    # the worst samples are shown as the network saw them: normalised, not 0..255
    assert result.worst and abs(float(result.worst[0].x.mean())) < 5.0


def test_trace_and_saliency_get_the_normalised_sample(tmp_path: Path) -> None:
    from engine.data.image_stream import ImageDataset

    project = _project(_folder(tmp_path, per_class=6))
    dataset = load_project_dataset(project)
    assert isinstance(dataset, ImageDataset) and dataset.x_val.dtype == np.uint8
    sample = validation_sample(dataset, 2)
    first_batch = next(validation_inputs(dataset, batch_size=4))[1]
    np.testing.assert_array_equal(sample, first_batch[2].numpy())
    np.testing.assert_allclose(sample, dataset.normalized(dataset.x_val[2]), rtol=1e-6, atol=1e-6)
    assert sample.dtype == np.float32 and abs(float(sample.mean())) < 5.0
    traced = trace(project, "main", None, sample)
    np.testing.assert_array_equal(traced.by_name("image").value, sample)
    salient = saliency(project, "main", None, sample)
    np.testing.assert_array_equal(salient.image, sample)
    with pytest.raises(IndexError, match="outside the validation split"):
        validation_sample(dataset, len(dataset.y_val))
    assert torch.is_tensor(first_batch)
