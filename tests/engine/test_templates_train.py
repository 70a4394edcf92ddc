"""Every template opens, compiles and trains for one short epoch with its own recipe, data set and
options (on less data than its defaults), reporting the metrics its README bar is stated in."""

from __future__ import annotations

import pytest

from engine.events import EpochMetrics
from graph import compile_network, sample_inputs
from graph.templates import list_templates, make_template
from tests.engine.conftest import of_type

#: the metric each template's bar is read from (bench/template_quality.py checks the bar itself)
FIGURE = {"mlp-digits": "val_accuracy", "cnn-digits": "val_accuracy", "lstm-sequence": "val_accuracy",
          "transformer-sequence": "val_accuracy", "rnn-sequence": "val_accuracy", "gru-sequence": "val_accuracy",
          "seq2seq-reverse": "val_accuracy", "forecast-sine": "val_mse", "char-lm": "val_perplexity",
          "text-classifier": "val_accuracy",
          "autoencoder-digits": "val_reconstruction_error", "gan-mixture": "modes_covered",
          "gan-digits": "classes_covered"}


def small(project):
    """The template with a fraction of its data, so one epoch takes a moment."""
    dataset = project.settings["dataset"]
    options = dict(dataset.get("options") or {})
    if dataset["kind"] == "text":
        options["stride"] = 40
    elif dataset["kind"] not in ("digits",):
        options["n_samples"] = 200
    dataset["options"] = options
    project.settings["training"]["epochs"] = 1
    return project


def test_every_template_has_a_figure():
    assert {t.name for t in list_templates()} == set(FIGURE)


@pytest.mark.parametrize("name", [t.name for t in list_templates()])
def test_template_trains_one_short_epoch(run_in_process, name):
    project = make_template(name)
    model = compile_network(project, seed=0)
    outs = model(*sample_inputs(project))
    assert outs is not None
    report, events, _ = run_in_process(small(project))
    assert report["status"] == "completed", report
    metrics = of_type(events, EpochMetrics)[-1].metrics
    assert FIGURE[name] in metrics
