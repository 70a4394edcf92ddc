"""Understanding a trained classifier: per-class metrics that agree with scikit-learn, the samples
it is least sure of, every node's activation for one sample, and input-gradient saliency maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from engine.analysis import AnalysisError, evaluate, load_project_dataset, per_class_metrics, saliency, trace
from graph import NetworkBuilder, Project, compile_network
from graph.templates import make_template


def moons_linear() -> Project:
    """One Dense layer whose weights the tests set by hand: scores (y, -y) of the second coordinate."""
    b = NetworkBuilder()
    x = b.input((2,), name="xy")
    h = b.add("Dense", x, units=2, name="scores")
    b.output(h, name="logits")
    return b.project("Moons", {"dataset": {"kind": "moons", "options": {"n_samples": 300}},
                               "training": {"recipe": "classification"}})


def hand_weights(scale: float = 1.0) -> dict[str, torch.Tensor]:
    return {"scores.weight": torch.tensor([[0.0, scale], [0.0, -scale]]), "scores.bias": torch.zeros(2)}


def small_cnn() -> Project:
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    h = b.chain(x, ("Conv2d", {"filters": 4}), "ReLU", ("MaxPool2d", {}), "Flatten", ("Dense", {"units": 10}))
    b.output(h, name="logits")
    return b.project("Small CNN", {"dataset": {"kind": "digits"}})


def test_per_class_metrics_agree_with_scikit_learn_on_a_known_confusion() -> None:
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 3])
    y_pred = np.array([0, 0, 1, 2, 1, 1, 0, 2, 2, 2])      # class 3 is never predicted
    cm = confusion_matrix(y_true, y_pred, labels=[0, 1, 2, 3])
    precision, recall, f1, support = per_class_metrics(cm)
    want = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2, 3], zero_division=0)
    for got, expected in zip((precision, recall, f1, support), want, strict=True):
        np.testing.assert_allclose(got, expected)
    assert precision[0] == pytest.approx(2 / 3) and recall[0] == pytest.approx(2 / 4)
    assert f1[3] == 0.0 and support.tolist() == [4, 3, 2, 1]


def test_evaluate_a_network_with_known_weights() -> None:
    project = moons_linear()
    dataset = load_project_dataset(project)
    result = evaluate(project, "main", hand_weights(), dataset, worst=5)

    # what the weights compute, by hand: the upper moon (class 0) when the second coordinate is positive
    x, y = dataset.x_val, dataset.y_val
    predicted = np.where(x[:, 1] > 0, 0, 1)
    np.testing.assert_array_equal(result.confusion, confusion_matrix(y, predicted, labels=[0, 1]))
    want = precision_recall_fscore_support(y, predicted, labels=[0, 1], zero_division=0)
    for got, expected in zip((result.precision, result.recall, result.f1, result.support), want, strict=True):
        np.testing.assert_allclose(got, expected)
    assert result.accuracy == pytest.approx(float(np.mean(predicted == y)))
    assert 0.5 < result.accuracy < 1.0            # a line cannot split the moons: some mistakes to show
    assert result.samples == len(y) and result.class_names == ["moon 0", "moon 1"]
    assert result.notes == []

    # the worst samples: lowest probability of the true class first, with their inputs and labels
    assert len(result.worst) == 5
    p_true = [w.p_true for w in result.worst]
    assert p_true == sorted(p_true)
    first = result.worst[0]
    logits = np.array([x[first.index, 1], -x[first.index, 1]])
    softmax = np.exp(logits) / np.exp(logits).sum()
    assert first.p_true == pytest.approx(softmax[y[first.index]], rel=1e-5)
    assert first.true == int(y[first.index]) and first.predicted == int(predicted[first.index])
    assert first.predicted != first.true
    np.testing.assert_array_equal(first.x, x[first.index])
    signs = np.where(y == 0, 1.0, -1.0)
    all_p_true = np.exp(signs * x[:, 1]) / (np.exp(x[:, 1]) + np.exp(-x[:, 1]))
    assert p_true[0] == pytest.approx(all_p_true.min(), rel=1e-5)


def test_evaluate_explains_what_does_not_fit() -> None:
    project = moons_linear()
    dataset = load_project_dataset(project)
    # weights for fewer layers: evaluated anyway, and said so
    bigger = moons_linear()
    net = bigger.main
    net.set_param(net.find("scores").id, "units", 3)
    with pytest.raises(AnalysisError, match="needs 2 \\(a score per class\\)"):
        evaluate(bigger, "main", None, dataset)
    with pytest.raises(AnalysisError, match="attached weights do not fit .* scores changed size"):
        evaluate(project, "main", {"scores.weight": torch.zeros(3, 2)}, dataset)
    result = evaluate(project, "main", None, dataset)
    assert "initial (random) weights" in result.notes[0]

    regression = make_template("mlp-digits")
    regression.set_setting("dataset", {"kind": "diabetes"})
    with pytest.raises(AnalysisError, match="numbers to predict .* not classes"):
        evaluate(regression, "main", None, load_project_dataset(regression))
    with pytest.raises(AnalysisError, match="Input 'xy' expects 2 but the data set 'digits' gives 1×8×8"):
        evaluate(project, "main", None, load_project_dataset(small_cnn()))


def test_trace_gives_every_node_its_activation_with_the_inferred_shape() -> None:
    project = small_cnn()
    dataset = load_project_dataset(project)
    weights = compile_network(project, seed=7).state_dict()
    sample = dataset.x_val[3]
    result = trace(project, "main", weights, sample)

    net = project.main
    plan_order = [s.node.id for s in compile_network(project).plan.steps]
    assert [a.node_id for a in result.activations] == plan_order
    assert len(result.activations) == len(net.nodes)
    from graph import analyze

    shapes = analyze(net)
    for act in result.activations:
        inferred = shapes.nodes[act.node_id].output.shape
        assert act.shape == inferred
        assert act.value.shape == tuple(inferred[1:]), act.name
    kinds = {a.type_id: a.kind for a in result.activations}
    assert kinds["Conv2d"] == "image" and kinds["Flatten"] == "vector" and kinds["Input"] == "image"
    np.testing.assert_array_equal(result.by_name("image").value, sample)
    model = compile_network(project)
    model.load_state_dict(weights)
    model.eval()
    expected = model(torch.from_numpy(sample[None])).detach().numpy()[0]
    np.testing.assert_allclose(result.outputs["logits"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.by_name("logits").value, expected, rtol=1e-5, atol=1e-6)

    with pytest.raises(AnalysisError, match="Input 'image' takes 1×8×8 per sample but the sample is 64"):
        trace(project, "main", weights, sample.reshape(-1))


def test_trace_of_a_token_sequence_network() -> None:
    project = make_template("lstm-sequence")
    tokens = np.arange(20, dtype=np.int64) % 8
    result = trace(project, "main", None, tokens)
    kinds = [(a.type_id, a.kind, a.value.shape) for a in result.activations]
    assert kinds[0] == ("Input", "tokens", (20,))
    assert kinds[1] == ("Embedding", "sequence", (20, 16))
    assert kinds[-1] == ("Output", "vector", (8,))


def test_saliency_map_of_an_image_classifier() -> None:
    project = small_cnn()
    dataset = load_project_dataset(project)
    weights = compile_network(project, seed=7).state_dict()
    sample = dataset.x_val[0]
    result = saliency(project, "main", weights, sample, class_names=dataset.class_names)
    assert result.gradient.shape == sample.shape == (1, 8, 8)
    assert result.map.shape == (8, 8)
    assert result.map.max() > 0 and np.all(result.map >= 0)
    assert result.target_class == result.predicted == int(np.argmax(result.probabilities))
    assert result.probabilities.sum() == pytest.approx(1.0, rel=1e-5)
    other = (result.predicted + 1) % 10
    chosen = saliency(project, "main", weights, sample, target_class=other)
    assert chosen.target_class == other and not np.allclose(chosen.map, result.map)
    assert float(result.normalized.max()) == pytest.approx(1.0)

    with pytest.raises(AnalysisError, match="Class 12 does not exist"):
        saliency(project, "main", weights, sample, target_class=12)
    with pytest.raises(AnalysisError, match="token ids, which have no gradient"):
        saliency(make_template("lstm-sequence"), "main", None, np.zeros(20, dtype=np.int64))
    with pytest.raises(AnalysisError, match="saliency maps are drawn for image inputs"):
        saliency(moons_linear(), "main", hand_weights(), np.zeros(2, dtype=np.float32))
