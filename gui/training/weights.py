"""Reusing trained weights from the training panel ("Use weights" of a run). The reading and the
layer-by-layer matching live in :mod:`engine.transfer` (Qt-free, shared with Analyze ▸ Load
Weights and the tests); this module keeps the names the panel imports. Matching runs in the
thread pool (it needs torch, which the window does not import until then); only the layers that
fit are attached, so what is saved beside the project always loads into its network."""

from __future__ import annotations

from engine.transfer import LayerMatch, WeightsMatch, match_file_weights, match_run_weights

__all__ = ["LayerMatch", "WeightsMatch", "match_file_weights", "match_run_weights"]
