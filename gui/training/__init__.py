"""The training panel: data set, options, Start / Pause / Stop, live curves, runs.

Importing this package is cheap (no pyqtgraph, numpy or torch): the panel builds its heavy parts
the first time it is shown or a run starts.
"""

from gui.training.panel import TrainingPanel

__all__ = ["TrainingPanel"]
