"""The metric formulas agree with scikit-learn, including classes that are never predicted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from engine.metrics import GradNorms, classification_metrics, regression_metrics


@pytest.mark.parametrize("seed", range(4))
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    classes = 5
    y = rng.integers(0, classes - 1, 200)          # class 4 never occurs in the targets
    pred = np.where(rng.random(200) < 0.6, y, rng.integers(0, classes, 200))
    pred[pred == 2] = 3                              # class 2 is never predicted
    cm = skm.confusion_matrix(y, pred, labels=range(classes))
    got = classification_metrics(cm, class_names=[f"c{i}" for i in range(classes)])
    assert got["val_accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert got[f"val_{name}"] == pytest.approx(fn(y, pred, average="macro", zero_division=0)), name
    assert got["val_confusion"] == cm.tolist()
    assert set(got["val_per_class_f1"]) == {f"c{i}" for i in range(classes)}


def test_big_confusion_matrices_are_not_logged():
    got = classification_metrics(np.eye(60, dtype=np.int64) * 3, prefix="train_")
    assert got["train_accuracy"] == 1.0 and "train_confusion" not in got


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(100, 3))
    pred = y + rng.normal(scale=0.3, size=(100, 3))
    err = pred - y
    got = regression_metrics(100, (err**2).sum(0), np.abs(err).sum(0), y.sum(0), (y**2).sum(0))
    assert got["val_mse"] == pytest.approx(skm.mean_squared_error(y, pred))
    assert got["val_mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["val_r2"] == pytest.approx(skm.r2_score(y, pred))
    scaled = regression_metrics(100, (err**2).sum(0), np.abs(err).sum(0), y.sum(0), (y**2).sum(0), scale=2.0)
    assert scaled["val_mae"] == pytest.approx(2 * got["val_mae"])
    assert scaled["val_mse"] == pytest.approx(4 * got["val_mse"])
    assert scaled["val_r2"] == pytest.approx(got["val_r2"])


def test_grad_norms_per_layer_and_global():
    model = torch.nn.Sequential()
    model.add_module("a", torch.nn.Linear(3, 4))
    model.add_module("b", torch.nn.Linear(4, 2))
    model(torch.randn(5, 3)).square().sum().backward()
    total, layers = GradNorms(model).read()
    expected = {name: torch.cat([p.grad.reshape(-1) for p in mod.parameters()]).norm().item()
                for name, mod in model.named_children()}
    assert layers == pytest.approx(expected)
    assert total == pytest.approx(float(np.sqrt(sum(v**2 for v in expected.values()))))
