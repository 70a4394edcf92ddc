"""Training engine: data sets, recipes, metrics and the background runner (Qt-free)."""
