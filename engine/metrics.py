"""Metrics of a run. Accumulators live on the training device and are read once per epoch; the
final numbers are computed on the host from a confusion matrix or a few running sums, so the same
formulas serve the live panel, the run log and the tests (checked against scikit-learn)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: confusion matrices of more classes than this are not written to the log (a 1000×1000 matrix per
#: epoch would swamp it); accuracy and F1 are still reported
MAX_CONFUSION_CLASSES = 50


def classification_metrics(confusion: np.ndarray, prefix: str = "val_",
                           class_names: list[str] | None = None) -> dict[str, Any]:
    """Accuracy and macro precision / recall / F1 from a confusion matrix (rows: true class,
    columns: predicted). Like scikit-learn, the macro average runs over the classes present in the
    targets or the predictions, and a class never predicted has precision 0."""
    cm = np.asarray(confusion, dtype=np.float64)
    total = cm.sum()
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    present = (predicted + actual) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)

    def macro(values: np.ndarray) -> float:
        return float(values[present].mean()) if present.any() else 0.0

    out: dict[str, Any] = {
        f"{prefix}accuracy": float(tp.sum() / total) if total else 0.0,
        f"{prefix}precision": macro(precision),
        f"{prefix}recall": macro(recall),
        f"{prefix}f1": macro(f1),
    }
    if cm.shape[0] <= MAX_CONFUSION_CLASSES:
        out[f"{prefix}confusion"] = confusion.astype(np.int64).tolist()
        if class_names is not None and len(class_names) == cm.shape[0]:
            out[f"{prefix}per_class_f1"] = {name: float(v) for name, v in zip(class_names, f1, strict=True)}
    return out


def regression_metrics(count: float, sum_err2: np.ndarray, sum_abs: np.ndarray, sum_y: np.ndarray,
                       sum_y2: np.ndarray, scale: np.ndarray | float = 1.0, prefix: str = "val_") -> dict[str, float]:
    """MSE, MAE and R² from per-output running sums (targets as the network sees them).

    ``scale`` is the target normalisation's std: errors are reported in the data's own units. R² is
    the uniform average over outputs (scikit-learn's default), unchanged by the normalisation."""
    sum_err2 = np.asarray(sum_err2, dtype=np.float64)
    sum_abs = np.asarray(sum_abs, dtype=np.float64)
    sum_y = np.asarray(sum_y, dtype=np.float64)
    sum_y2 = np.asarray(sum_y2, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), sum_err2.shape)
    if count <= 0:
        return {f"{prefix}mse": math.nan, f"{prefix}mae": math.nan, f"{prefix}r2": math.nan}
    mse = float(np.mean(sum_err2 * scale**2) / count)
    mae = float(np.mean(sum_abs * scale) / count)
    total = sum_y2 - sum_y**2 / count
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 1e-12, 1.0 - sum_err2 / total, np.where(sum_err2 > 1e-12, 0.0, 1.0))
    return {f"{prefix}mse": mse, f"{prefix}mae": mae, f"{prefix}r2": float(np.mean(r2))}


def target_scale(normalization: dict[str, Any] | None, outputs: int) -> np.ndarray | float:
    """The std that turns normalised regression errors back into the data's units."""
    stats = (normalization or {}).get("target")
    if not stats:
        return 1.0
    std = np.asarray(stats["std"], dtype=np.float64).reshape(-1)
    if std.size == 1:
        return float(std[0])
    if std.size == outputs:
        return std
    return 1.0


class GradNorms:
    """Global and per-layer gradient norms, read at the reporting cadence only (one device sync).

    Layers are the compiled network's top-level submodules, named like the nodes' identifiers."""

    def __init__(self, model: Any) -> None:
        groups: dict[str, list[Any]] = {}
        for name, param in model.named_parameters():
            if param.requires_grad:
                groups.setdefault(name.split(".", 1)[0], []).append(param)
        self.groups = groups

    def read(self, scale: float = 1.0) -> tuple[float | None, dict[str, float]]:
        import torch

        names: list[str] = []
        squares = []
        for name, params in self.groups.items():
            grads = [p.grad for p in params if p.grad is not None]
            if not grads:
                continue
            norms = torch._foreach_norm(grads) if hasattr(torch, "_foreach_norm") else [g.norm() for g in grads]
            squares.append(torch.stack([n.float() for n in norms]).square().sum())
            names.append(name)
        if not squares:
            return None, {}
        stacked = torch.stack(squares)
        values = torch.cat([stacked.sum().unsqueeze(0), stacked]).sqrt().div_(scale).tolist()
        return values[0], dict(zip(names, values[1:], strict=True))
