"""Training options: round trip through the project file, defaults, spellings and bad values."""

from __future__ import annotations

import json
import logging

import pytest

from engine.errors import OptionsError
from engine.options import OPTION_SPECS, TrainingOptions, options_from_project, store_options
from graph import project_from_dict, project_to_dict
from graph.templates import list_templates


def test_defaults_round_trip_through_json():
    options = TrainingOptions()
    data = json.loads(json.dumps(options.to_dict()))
    assert TrainingOptions.from_dict(data) == options
    assert set(data) == {s.name for s in OPTION_SPECS}


def test_every_field_round_trips():
    options = TrainingOptions(recipe="regression", loss="huber", huber_delta=0.5, optimizer="rmsprop", lr=0.02,
                              momentum=0.5, weight_decay=1e-4, schedule="plateau", plateau_patience=2,
                              plateau_factor=0.3, epochs=7, batch_size=128, grad_clip=1.0, early_stopping=3,
                              min_delta=0.01, monitor="val_r2", keep_best=False, seed=42, device="cpu",
                              mixed_precision=False)
    assert TrainingOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options


def test_options_are_saved_in_the_project_file():
    from graph.templates import make_template

    project = make_template("mlp-digits")
    store_options(project, TrainingOptions(epochs=3, lr=0.01, schedule="cosine"))
    reloaded = project_from_dict(json.loads(json.dumps(project_to_dict(project))))
    options = options_from_project(reloaded)
    assert (options.epochs, options.lr, options.schedule) == (3, 0.01, "cosine")


@pytest.mark.parametrize("template", [t.name for t in list_templates()])
def test_template_settings_are_valid(template):
    from graph.templates import make_template

    project = make_template(template)
    options = options_from_project(project)
    wanted = {"gan-mixture": "gan", "gan-digits": "gan", "autoencoder-digits": "autoencoder",
              "char-lm": "language_model", "forecast-sine": "regression"}
    assert options.recipe == wanted.get(template, "classification")


@pytest.mark.parametrize("key, value", [
    ("lr", 0), ("lr", -1.0), ("lr", "fast"), ("lr", float("nan")), ("epochs", 0), ("epochs", 2.5),
    ("epochs", True), ("batch_size", -3), ("optimizer", "adagrad"), ("loss", "hinge"), ("schedule", "linear"),
    ("device", "tpu"), ("keep_best", "yes"), ("seed", -1), ("momentum", 1.5), ("grad_clip", -1),
    ("recipe", "painting"), ("monitor", "val_speed"), ("frozen_nodes", "dense_1"), ("frozen_nodes", [3]),
    ("latent_node", 5),
])
def test_bad_values_name_the_key(key, value):
    with pytest.raises(OptionsError) as info:
        TrainingOptions.from_dict({key: value})
    assert f"'{key}'" in str(info.value)
    assert info.value.key == key


def test_loss_must_suit_the_recipe():
    with pytest.raises(OptionsError, match="'loss'.*mse.*classification"):
        TrainingOptions(recipe="classification", loss="mse")
    with pytest.raises(OptionsError, match="'monitor'"):
        TrainingOptions(recipe="regression", monitor="val_accuracy")
    assert TrainingOptions(recipe="regression").resolved_loss == "mse"
    assert TrainingOptions().resolved_loss == "cross_entropy"


def test_readable_spellings_are_accepted():
    options = TrainingOptions.from_dict({"loss": "Cross-Entropy", "optimizer": "AdamW", "schedule": "One-Cycle",
                                         "device": "GPU", "epochs": 3.0, "keep_best": "false"})
    assert (options.loss, options.optimizer, options.schedule, options.device) == (
        "cross_entropy", "adamw", "one_cycle", "cuda")
    assert options.epochs == 3 and isinstance(options.epochs, int)
    assert options.keep_best is False


def test_unknown_keys_are_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        options = TrainingOptions.from_dict({"epochs": 4, "warp_speed": 9})
    assert options.epochs == 4
    assert "warp_speed" in caplog.text


def test_not_a_mapping():
    with pytest.raises(OptionsError, match="mapping"):
        TrainingOptions.from_dict(["epochs", 3])
    assert TrainingOptions.from_dict(None) == TrainingOptions()


def test_with_changes_checks_values():
    options = TrainingOptions().with_changes(epochs=5, lr=None)
    assert options.epochs == 5 and options.lr == TrainingOptions().lr
    with pytest.raises(OptionsError, match="'batch_size'"):
        options.with_changes(batch_size=0)
    with pytest.raises(OptionsError, match="no training option 'speed'"):
        options.with_changes(speed=2)
