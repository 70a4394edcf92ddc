"""Training engine: data sets, recipes, metrics and the background runner (Qt-free).

Modules, from the outside in (importing the first five does not load torch):

- ``engine.runner``: ``start_run(project, run_dir=None, *, project_path=...) -> RunHandle``; the
  handle's ``poll()`` never blocks, ``pause()/resume()/stop()`` act at step boundaries, ``kill()``.
- ``engine.events``: the frozen event records a run sends (``RunStarted``, ``StepMetrics``,
  ``EpochMetrics``, ``StatusChanged``, ``LogMessage``, ``RunError``, ``RunFinished``).
- ``engine.options``: ``TrainingOptions`` (``project.settings["training"]``) and ``OPTION_SPECS``.
- ``engine.runs``: run folders: ``list_runs``, ``load_run``, ``load_run_weights``, ``load_weights_into``.
- ``engine.cli``: the ``train`` command of ``main.py``.
- ``engine.session``: ``execute_run(request, emit, control)``, one whole run in this process.
- ``engine.loop``: the hot loop (``Trainer``); ``engine.recipes``: classification and regression;
  ``engine.metrics``; ``engine.devices``.
- ``engine.export_training``: ``export_training_script(project)``, the standalone training script.
- ``engine.data``: built-in and user data sets.
"""
