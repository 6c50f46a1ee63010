"""Issue 19's metrics used on their own, against Keras 3 (JAX): the confusion counts at one or
several thresholds, F1Score / FBetaScore, R2Score, the loss-mean metrics (cross-entropies, KL,
MAPE, ...), streaming over several batches, weighted or not, with NaN rows; their result shapes
(one value per threshold or class), names, configs, copies and argument errors. In the training
loop: tests/test_weighted_metrics.py and tests/test_keras_compat.py."""

import copy
import os
import re
import pickle
import warnings

import numpy as np
import pytest

from fastmlp import _core, losses, metrics


@pytest.fixture
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", reason="keras (optional, with a backend) is not installed")


def _streams(seed=0, n=300, k=4):
    """Predictions with a NaN value and a NaN row; targets of every kind; sample weights."""
    rng = np.random.default_rng(seed)
    p = rng.random((n, k)).astype(np.float32)
    p[5, 1] = np.nan
    p[7] = np.nan
    labels = rng.integers(0, k, n)
    binary = rng.integers(0, 2, (n, k)).astype(np.float32)
    binary[3, 2] = 0.7  # a soft target: positive for the counts, 0.7 of one for F1
    targets = {"binary": binary, "labels": labels, "onehot": np.eye(k, dtype=np.float32)[labels],
               "soft": rng.dirichlet(np.ones(k), n).astype(np.float32),
               "values": rng.normal(size=(n, k)).astype(np.float32)}
    return p, targets, rng.random(n).astype(np.float32)


CASES = [
    ("TruePositives", {}, "binary"), ("FalsePositives", {"thresholds": [0.3, 0.5, 0.8]}, "binary"),
    ("TrueNegatives", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),  # evenly spaced: buckets
    ("FalseNegatives", {"thresholds": [0.9, 0.1]}, "binary"),  # not sorted: results as given
    ("TruePositives", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "binary"),
    ("Precision", {"thresholds": [0.2, 0.6]}, "binary"), ("Recall", {"thresholds": [0.7, 0.4]},
                                                          "binary"),
    ("F1Score", {}, "onehot"), ("F1Score", {"average": "micro"}, "onehot"),
    ("F1Score", {"average": "macro", "threshold": 0.5}, "binary"),
    ("FBetaScore", {"average": "weighted", "beta": 2.0}, "binary"),
    ("FBetaScore", {"beta": 0.5, "threshold": 0.3}, "binary"),
    ("R2Score", {}, "values"), ("R2Score", {"class_aggregation": None}, "values"),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 3},
     "values"),
    ("MeanAbsolutePercentageError", {}, "values"), ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "binary"),
    ("CategoricalCrossentropy", {}, "onehot"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "soft"),
    ("SparseCategoricalCrossentropy", {}, "labels"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels"),
    ("KLDivergence", {}, "soft"), ("Poisson", {}, "soft"),
    ("MeanSquaredLogarithmicError", {}, "soft"), ("LogCoshError", {}, "values"),
    ("CosineSimilarity", {}, "values"), ("Hinge", {}, "binary"), ("SquaredHinge", {}, "binary"),
    ("CategoricalHinge", {}, "onehot"),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("nan_rows", [False, True], ids=["finite", "nan"])
@pytest.mark.parametrize("name, kwargs, target", CASES,
                         ids=[f"{c[0]}{c[1] or ''}" for c in CASES])
def test_streaming_results_equal_keras(keras, name, kwargs, target, nan_rows, weighted):
    p, targets, w = _streams()
    if not nan_rows:
        p = np.nan_to_num(p, nan=0.25)
    y = targets[target]
    if target == "values":
        p = p + 0.5 * y  # predictions that explain part of the targets
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    for rows in (slice(0, 100), slice(100, 300)):  # two batches into one state
        sw = w[rows] if weighted else None
        ours.update_state(y[rows], p[rows], sample_weight=sw)
        theirs.update_state(y[rows], p[rows], sample_weight=sw)
    got, expected = ours.result(), np.asarray(theirs.result())
    assert np.shape(got) == expected.shape and np.asarray(got).dtype == np.float32
    # Keras sums in float32 (TN = all negatives - FP can come out as -8e-5 instead of 0)
    scale = np.abs(expected[np.isfinite(expected)]).max(initial=1.0)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6 * scale, equal_nan=True)
    ours.reset_state()
    theirs.reset_state()
    ours.update_state(y[:10], p[:10])
    theirs.update_state(y[:10], p[:10])
    np.testing.assert_allclose(ours.result(), theirs.result(), rtol=2e-6, atol=1e-6,
                               equal_nan=True)


@pytest.mark.parametrize("fn, target", [
    ("binary_crossentropy", "binary"), ("categorical_crossentropy", "onehot"),
    ("sparse_categorical_crossentropy", "labels"), ("kl_divergence", "soft"),
    ("poisson", "soft"), ("mean_absolute_percentage_error", "values"),
    ("mean_squared_logarithmic_error", "soft"), ("log_cosh", "values"), ("hinge", "binary"),
    ("squared_hinge", "binary"), ("categorical_hinge", "onehot")])
def test_metric_functions_are_the_losses_as_in_keras(keras, fn, target):
    p, targets, _ = _streams(seed=1)
    p = np.nan_to_num(p, nan=0.5)
    assert getattr(metrics, fn) is getattr(losses, fn)
    assert getattr(keras.metrics, fn) is getattr(keras.losses, fn)
    np.testing.assert_allclose(getattr(metrics, fn)(targets[target], p),
                               np.asarray(getattr(keras.metrics, fn)(targets[target], p)),
                               rtol=2e-6, atol=1e-6)


KERAS_NAMES = ["true_positives", "false_positives", "true_negatives", "false_negatives",
               "f1_score", "f_beta_score", "r2_score", "mean_absolute_percentage_error", "mape",
               "msle", "mean_squared_logarithmic_error", "log_cosh_error", "cosine_similarity",
               "binary_crossentropy", "bce", "categorical_crossentropy",
               "sparse_categorical_crossentropy", "kl_divergence", "poisson", "hinge",
               "squared_hinge", "categorical_hinge", "TruePositives", "F1Score", "R2Score",
               "KLDivergence", "BinaryCrossentropy"]


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_names_resolve_to_kerass_classes_in_the_core(keras, name):
    ours, theirs = metrics.get(name), keras.metrics.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == name and ours._runs_in_core()
    # the class's default name ("logcosh"), without Keras's counter of unnamed instances
    assert type(ours)().name == re.sub(r"_\d+$", "", type(theirs)().name)


def test_functions_passed_as_metrics_run_in_the_core_named_after_them():
    for fn in (metrics.kl_divergence, losses.binary_crossentropy, metrics.log_cosh):
        m = metrics.get(fn)
        assert m._runs_in_core() and m.name == fn.__name__


CONFIG_CASES = [
    (metrics.TruePositives, {"thresholds": [0.2, 0.7]}), (metrics.FalseNegatives, {}),
    (metrics.F1Score, {"average": "macro", "threshold": 0.4}),
    (metrics.FBetaScore, {"beta": 2.0}), (metrics.R2Score, {"class_aggregation": None}),
    (metrics.R2Score, {"num_regressors": 2}), (metrics.MeanAbsolutePercentageError, {}),
    (metrics.BinaryCrossentropy, {"from_logits": True, "label_smoothing": 0.2}),
    (metrics.CategoricalCrossentropy, {"label_smoothing": 0.1}),
    (metrics.SparseCategoricalCrossentropy, {"from_logits": True}), (metrics.KLDivergence, {}),
    (metrics.LogCoshError, {}), (metrics.CosineSimilarity, {}), (metrics.Hinge, {}),
]


@pytest.mark.parametrize("cls, kwargs", CONFIG_CASES,
                         ids=[f"{c[0].__name__}{c[1] or ''}" for c in CONFIG_CASES])
def test_configs_copies_and_pickles_keep_the_metric_and_its_state(cls, kwargs):
    p, targets, w = _streams(seed=2, n=40)
    p = np.nan_to_num(p, nan=0.5)
    y = targets["labels" if cls is metrics.SparseCategoricalCrossentropy else "binary"]
    m = cls(name="mine", **kwargs)
    config = m.get_config()
    assert config["name"] == "mine" and all(config[k] == v for k, v in kwargs.items())
    twin = metrics.deserialize(metrics.serialize(m))
    assert type(twin) is cls and twin.get_config() == config
    m.update_state(y[:20], p[:20], sample_weight=w[:20])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # R2Score's adjusted R2 on few values warns
        for copied in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
            np.testing.assert_array_equal(copied.result(), m.result())
            copied.update_state(y[20:], p[20:])
            twin.update_state(y[:20], p[:20], sample_weight=w[:20])
            twin.update_state(y[20:], p[20:])
            np.testing.assert_allclose(copied.result(), twin.result(), rtol=1e-12)
            twin.reset_state()


def test_width_sized_states_are_fixed_by_their_first_update():
    m = metrics.F1Score()
    assert np.shape(m.result()) == (0,)  # no classes seen yet
    m.update_state(np.eye(3)[[0, 1]], np.eye(3)[[0, 2]])
    assert m.result().shape == (3,)
    with pytest.raises(ValueError, match=r"its state counts 3 columns, got predictions with 2"):
        m.update_state(np.eye(2), np.eye(2))
    m.reset_state()
    assert m.result().tolist() == [0.0, 0.0, 0.0]
    raw = _core.Metric("r2_score")
    raw.update_state(np.ones((3, 2)) * [[1], [2], [3]], np.zeros((3, 2)))
    assert len(raw.state) == 4 * 2 + 1
    fresh = _core.Metric("r2_score")
    fresh.state = raw.state
    assert fresh.result() == raw.result()


def test_adjusted_r2_falls_back_with_kerass_warning(keras):
    y, p = np.array([[1.0], [2.0], [4.0]]), np.array([[1.5], [2.0], [3.0]])
    ours, theirs = metrics.R2Score(num_regressors=2), keras.metrics.R2Score(num_regressors=2)
    ours.update_state(y, p)
    theirs.update_state(y, p)
    with pytest.warns(UserWarning, match="Division by zero in adjusted R2 score"):
        got = float(ours.result())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert got == pytest.approx(float(theirs.result()), rel=1e-6)
    ours.update_state(y, p)  # 6 values: adjusted with N - 1 = 5 over N - p - 1 = 3
    r2 = 1 - 1.25 / (42 / 9)
    assert float(ours.result()) == pytest.approx(1 - (1 - r2) * 5 / 3, rel=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: metrics.F1Score(average="mean"),
     r"Invalid `average` argument value. Expected one of: \{None, 'micro', 'macro', "
     r"'weighted'\}. Received: average='mean'"),
    (lambda: metrics.FBetaScore(beta=2), r"`beta`.*Python float. Received: beta=2 of type"),
    (lambda: metrics.FBetaScore(beta=-1.0), r"It should be > 0. Received: beta=-1.0"),
    (lambda: metrics.F1Score(threshold=1), r"`threshold`.*Python float. Received: threshold=1 "),
    (lambda: metrics.F1Score(threshold=1.5), r"0 < threshold <= 1. Received: threshold=1.5"),
    (lambda: metrics.R2Score(class_aggregation="mean"),
     r"`class_aggregation`. Expected one of \(None, 'uniform_average', "
     r"'variance_weighted_average'\). Received: class_aggregation='mean'"),
    (lambda: metrics.R2Score(num_regressors=-1), r"Expected a value >= 0. Received: "
                                                  r"num_regressors=-1"),
    (lambda: metrics.TruePositives(thresholds=[0.5, 1.2]),
     r"`thresholds`, expected threshold values in \[0, 1\]. Received: thresholds=\[0.5, 1.2\]"),
    (lambda: metrics.FalsePositives(thresholds="0.5"), r"`thresholds`, expected a number"),
    (lambda: metrics.SparseCategoricalCrossentropy(ignore_class=0),
     r"`ignore_class` is not supported. Received: ignore_class=0"),
    (lambda: metrics.CategoricalCrossentropy(axis=0), r"Only axis=-1 is supported"),
    (lambda: metrics.BinaryCrossentropy(label_smoothing=2.0),
     r"`label_smoothing`.*Received: label_smoothing=2"),
    (lambda: metrics.BinaryCrossentropy(from_logits="yes"), r"from_logits"),
    (lambda: metrics.CosineSimilarity(axis=1), r"Only axis=-1 is supported. Received: axis=1"),
    (lambda: _core.Metric({"kind": "f1_score", "average": "mean"}),
     r"`average`, expected one of None, 'micro', 'macro', 'weighted'. Received: average='mean'"),
    (lambda: _core.Metric({"kind": "true_positives", "class_id": 1}),
     r"unknown argument `class_id` \(valid: thresholds\)"),
])
def test_bad_arguments_are_refused_in_kerass_words(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_batches_name_the_problem():
    with pytest.raises(ValueError, match=r"label 4 at index 1 is outside \[0, 4\)"):
        metrics.SparseCategoricalCrossentropy().update_state([0, 4], np.full((2, 4), 0.25))
    with pytest.raises(ValueError, match="does not match"):
        metrics.KLDivergence().update_state(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="sample_weight needs 3 values"):
        metrics.F1Score().update_state(np.eye(3), np.eye(3), sample_weight=[1.0, 2.0])
