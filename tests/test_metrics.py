"""fastmlp.metrics against scikit-learn and (when installed) Keras 3, and the streaming contract:
the built-in metrics run the C++ core's state, standalone as in the training loop."""

import copy
import os
import pickle

import numpy as np
import pytest

import fastmlp
from fastmlp import layers, metrics


@pytest.fixture
def sk():
    return pytest.importorskip("sklearn.metrics", reason="scikit-learn gives the reference values")


@pytest.fixture
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", reason="keras (optional, with a backend) is not installed")


@pytest.fixture
def binary():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    p = np.clip(0.35 * y + 0.65 * rng.random(2000), 0, 1).astype(np.float32)
    return y, p


def test_auc_matches_sklearn_within_threshold_resolution(binary, sk):
    y, p = binary
    m = metrics.AUC()
    m.update_state(y[:1000], p[:1000])
    m.update_state(y[1000:], p[1000:])
    assert float(m.result()) == pytest.approx(sk.roc_auc_score(y, p), abs=2e-3)
    fine = metrics.AUC(num_thresholds=2000)
    assert float(fine(y, p)) == pytest.approx(sk.roc_auc_score(y, p), abs=2e-4)
    m.reset_state()
    assert float(m.result()) == 0.0


def test_auc_from_logits_and_sample_weights(binary, sk):
    y, p = binary
    logits = np.log(p + 1e-6) - np.log1p(-p + 1e-6)
    assert float(metrics.AUC(from_logits=True)(y, logits)) == pytest.approx(
        sk.roc_auc_score(y, p), abs=3e-3)
    w = np.random.default_rng(1).random(len(y))
    assert float(metrics.AUC(num_thresholds=2000)(y, p, sample_weight=w)) == pytest.approx(
        sk.roc_auc_score(y, p, sample_weight=w), abs=1e-3)


def test_precision_recall_match_sklearn(binary, sk):
    y, p = binary
    assert float(metrics.Precision()(y, p)) == pytest.approx(sk.precision_score(y, p > 0.5),
                                                              rel=1e-6)
    assert float(metrics.Recall()(y, p)) == pytest.approx(sk.recall_score(y, p > 0.5), rel=1e-6)
    assert float(metrics.Recall(thresholds=0.7)(y, p)) == pytest.approx(
        sk.recall_score(y, p > 0.7), rel=1e-6)
    assert float(metrics.Precision()(np.zeros(4), np.zeros(4))) == 0.0


def test_top_k_accuracies_match_sklearn(sk):
    rng = np.random.default_rng(2)
    p = rng.random((500, 6)).astype(np.float32)
    y = rng.integers(0, 6, 500)
    onehot = np.eye(6)[y]
    for k in (1, 2, 5):
        ref = sk.top_k_accuracy_score(y, p, k=k, labels=range(6))
        assert float(metrics.SparseTopKCategoricalAccuracy(k=k)(y, p)) == pytest.approx(ref)
        assert float(metrics.TopKCategoricalAccuracy(k=k)(onehot, p)) == pytest.approx(ref)


def test_regression_metrics_match_numpy(sk):
    rng = np.random.default_rng(3)
    t, p = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    assert float(metrics.RootMeanSquaredError()(t, p)) == pytest.approx(
        np.sqrt(sk.mean_squared_error(t, p)), rel=1e-6)
    assert float(metrics.MeanAbsoluteError()(t, p)) == pytest.approx(
        sk.mean_absolute_error(t, p), rel=1e-6)
    assert float(metrics.MeanSquaredError()(t, p)) == pytest.approx(
        sk.mean_squared_error(t, p), rel=1e-6)


def test_accuracies_match_numpy():
    rng = np.random.default_rng(4)
    p = rng.random((100, 4))
    y = rng.integers(0, 4, 100)
    assert float(metrics.SparseCategoricalAccuracy()(y, p)) == pytest.approx(
        np.mean(p.argmax(1) == y))
    assert float(metrics.CategoricalAccuracy()(np.eye(4)[y], p)) == pytest.approx(
        np.mean(p.argmax(1) == y))
    b = rng.random(100)
    yb = rng.integers(0, 2, 100)
    assert float(metrics.BinaryAccuracy(threshold=0.3)(yb, b)) == pytest.approx(
        np.mean((b > 0.3) == yb))


def test_names_and_resolution():
    assert metrics.get("accuracy", "sparse_categorical_crossentropy", 10).core_name == \
        "sparse_categorical_accuracy"
    assert metrics.get("accuracy", "categorical_crossentropy", 10).core_name == \
        "categorical_accuracy"
    assert metrics.get("acc", "mse", 1).core_name == "binary_accuracy"
    assert metrics.get("mae").name == "mae" and metrics.get("mae").core_name == \
        "mean_absolute_error"
    assert metrics.get(metrics.AUC()).name == "auc"
    # every built-in runs in the core, whatever its arguments; a function of one's own does not
    assert metrics.get("auc").core_name == "auc" and metrics.get("auc")._runs_in_core()
    assert metrics.BinaryAccuracy(threshold=0.7)._runs_in_core()
    assert not metrics.get(lambda t, p: p)._runs_in_core()
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.get("f1")


def test_custom_metric_function_is_averaged_per_sample():
    def under(y_true, y_pred):
        return (np.asarray(y_pred) < np.asarray(y_true)).astype(float).ravel()
    m = metrics.get(under)
    assert m.name == "under"
    assert m.compute(np.array([[1.0], [0.0]]), np.array([[0.0], [0.0]])) == 0.5


# ---- Keras 3's numerics, standalone -------------------------------------------------------------

def _streams(seed=0, n=300, k=4):
    """Predictions with NaN values and whole NaN rows, targets of every kind, sample weights."""
    rng = np.random.default_rng(seed)
    p = rng.random((n, k)).astype(np.float32)
    p[5, 1] = np.nan
    p[7] = np.nan
    labels = rng.integers(0, k, n)
    binary = rng.integers(0, 2, (n, k)).astype(np.float32)
    binary[3, 2] = 0.7  # a soft target: never equal to a thresholded prediction, yet positive
    return p, labels, np.eye(k, dtype=np.float32)[labels], binary, rng.random(n).astype(np.float32)


KERAS_CASES = [
    ("BinaryAccuracy", {}, "binary"), ("BinaryAccuracy", {"threshold": 0.3}, "binary"),
    ("CategoricalAccuracy", {}, "onehot"), ("SparseCategoricalAccuracy", {}, "labels"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "labels"),
    ("MeanSquaredError", {}, "binary"), ("MeanAbsoluteError", {}, "binary"),
    ("RootMeanSquaredError", {}, "binary"), ("Precision", {}, "binary"),
    ("Precision", {"class_id": 2}, "binary"), ("Recall", {"thresholds": 0.3}, "binary"),
    ("AUC", {}, "binary"), ("AUC", {"num_thresholds": 50}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.5, 0.55]}, "binary"), ("AUC", {"from_logits": True}, "binary"),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("nan_rows", [False, True], ids=["finite", "nan"])
@pytest.mark.parametrize("name, kwargs, target", KERAS_CASES,
                         ids=[f"{c[0]}{c[1] or ''}" for c in KERAS_CASES])
def test_streaming_results_equal_keras(keras, name, kwargs, target, nan_rows, weighted):
    p, labels, onehot, binary, w = _streams()
    if not nan_rows:
        p = np.nan_to_num(p, nan=0.25)
    y = {"labels": labels, "onehot": onehot, "binary": binary}[target]
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    for rows in (slice(0, 100), slice(100, 300)):  # two batches into one state
        sw = w[rows] if weighted else None
        ours.update_state(y[rows], p[rows], sample_weight=sw)
        theirs.update_state(y[rows], p[rows], sample_weight=sw)
    expected = float(theirs.result())
    if np.isnan(expected):  # the errors of NaN rows are NaN in both
        assert np.isnan(ours.result())
    else:
        assert float(ours.result()) == pytest.approx(expected, rel=3e-6, abs=1e-7)
    ours.reset_state()
    assert float(ours.result()) == 0.0


@pytest.mark.parametrize("name, kwargs, target", [
    ("binary_accuracy", {"threshold": 0.4}, "binary"), ("categorical_accuracy", {}, "onehot"),
    ("sparse_categorical_accuracy", {}, "labels"), ("top_k_categorical_accuracy", {"k": 2},
                                                     "onehot"),
    ("sparse_top_k_categorical_accuracy", {"k": 2}, "labels"),
    ("mean_squared_error", {}, "binary"), ("mean_absolute_error", {}, "binary")])
def test_metric_functions_return_kerass_per_sample_values(keras, name, kwargs, target):
    p, labels, onehot, binary, _ = _streams(seed=1)
    y = {"labels": labels, "onehot": onehot, "binary": binary}[target]
    ours = getattr(metrics, name)(y, p, **kwargs)
    theirs = np.asarray(getattr(keras.metrics, name)(y, p, **kwargs))
    if theirs.ndim == 2:  # Keras's binary_accuracy is per value; its metric averages each row
        theirs = theirs.mean(axis=-1)
    assert ours.dtype == np.float32 and ours.shape == (len(p),)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def test_keras_semantics_without_keras():
    """Keras reads a binary target as hit only when it equals the thresholded prediction, and a
    non-zero target as positive; a NaN prediction is below every threshold; calling a metric
    updates its state. (NumPy formulas with `> 0.5` targets gave 1.0, 0.5, 0.5.)"""
    y = np.array([1.0, 0.7, 0.3, 0.0])
    p = np.array([0.9, 0.8, np.nan, 0.2], np.float32)
    assert float(metrics.BinaryAccuracy()(y, p)) == pytest.approx(0.5)  # 1 == 1, 0 == 0
    assert float(metrics.Precision()(y, p)) == 1.0  # 0.7 is a positive target: TP, not FP
    assert float(metrics.Recall()(y, p)) == pytest.approx(2 / 3)  # NaN: a false negative
    m = metrics.Recall()
    m(y[:2], p[:2])
    assert float(m(y[2:], p[2:])) == pytest.approx(2 / 3)  # both calls accumulated
    assert float(metrics.SparseCategoricalAccuracy()([1, 2], [[0.1, np.nan, 0.3],
                                                              [0.5, 0.2, 0.9]])) == 1.0


def test_standalone_metrics_copy_and_pickle_with_their_state():
    m = metrics.AUC(num_thresholds=20)
    m.update_state([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.7])
    for twin in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert float(twin.result()) == float(m.result()) == pytest.approx(0.75)
        twin.update_state([1], [0.1])
        assert float(twin.result()) != float(m.result())


def test_bad_metric_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"invalid value for `k`, expected a positive integer\. "
                                         r"Received: k=0"):
        metrics.TopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match=r"`num_thresholds`, expected an integer > 1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match=r"`k`, expected a number\. Received: k=True"):
        metrics.SparseTopKCategoricalAccuracy(k=True)
    with pytest.raises(ValueError, match=r"`thresholds`, expected threshold values in \[0, 1\]"
                                         r"\. Received: thresholds=\[0.2, 1.6\]"):
        metrics.Precision(thresholds=[0.2, 1.6])
    with pytest.raises(ValueError, match=r"class_id.*\[0, 2\)"):
        metrics.Precision(class_id=2).update_state(np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"label 3 at index 1 is outside \[0, 3\)"):
        metrics.SparseCategoricalAccuracy().update_state([0, 3], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="does not match"):
        metrics.MeanSquaredError().update_state(np.zeros((4, 3)), np.zeros((4, 2)))


# ---- in the training loop -----------------------------------------------------------------------

def _nan_model(lib=fastmlp):
    """h = 1e30 * x, out = sigmoid(h0 - h1): 1 for (1, 0), 0 for (0, 1), NaN for (1e10, 1e10)
    (inf - inf)."""
    model = lib.Sequential([lib.Input(shape=(2,)), lib.layers.Dense(2),
                            lib.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.diag([1e30, 1e30]).astype(np.float32), np.zeros(2, np.float32),
                       np.array([[1], [-1]], np.float32), np.zeros(1, np.float32)])
    x = np.array([[1, 0], [0, 1], [1e10, 1e10], [1e10, 1e10], [1, 0], [0, 1]], np.float32)
    return model, x, np.array([1, 0, 1, 0, 0, 1], np.float32)


def _fit_until_nan(model, lib):
    """Batches of 2 rows: the second batch's loss is NaN and TerminateOnNaN stops the epoch
    after it (a batch hook makes the loop report every batch); learning rate 0 keeps the
    weights, so rows 0-3 are predicted 1, 0, NaN, NaN."""
    model.compile(lib.optimizers.SGD(0.0), "binary_crossentropy",
                  metrics=["accuracy", lib.metrics.Precision(name="precision"),
                           lib.metrics.Recall(name="recall"),
                           lib.metrics.AUC(num_thresholds=3, name="auc")])
    _, x, y = _nan_model()
    stop = [lib.callbacks.TerminateOnNaN(),
            lib.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)]
    return model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False,
                     callbacks=stop).history


def test_rows_whose_prediction_is_nan_count_as_in_keras():
    """The NaN-filled prediction buffer dropped rows whose prediction is NaN from the Python
    metrics when a callback stopped the epoch: recall and AUC were 1.0 (Keras: 0.5, 0.75)."""
    model, x, y = _nan_model()
    assert np.isnan(model.predict(x, verbose=0)[2:4]).all()
    history = _fit_until_nan(model, fastmlp)
    assert model.optimizer.iterations == 2 and np.isnan(history["loss"][0])
    # predicted 1, 0, NaN, NaN against 1, 0, 1, 0: NaN lies below every threshold
    assert history["accuracy"] == [pytest.approx(0.75)]
    assert history["precision"] == [pytest.approx(1.0)]
    assert history["recall"] == [pytest.approx(0.5)]
    # in AUC's evenly spaced buckets (Keras's bucket formula) NaN counts as 0
    auc = metrics.AUC(num_thresholds=3)(y[:4], np.array([1, 0, 0, 0]))
    assert history["auc"] == [pytest.approx(float(auc))] and float(auc) == pytest.approx(0.75)


def test_rows_whose_prediction_is_nan_fit_and_evaluate_as_in_keras(keras):
    ours, theirs = _nan_model()[0], _nan_model(keras)[0]
    h_ours, h_theirs = _fit_until_nan(ours, fastmlp), _fit_until_nan(theirs, keras)
    _, x, y = _nan_model()
    e_ours = ours.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    e_theirs = theirs.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    for name in ("accuracy", "precision", "recall", "auc"):
        assert h_ours[name] == [pytest.approx(h_theirs[name][0], rel=1e-6)], name
        assert e_ours[name] == pytest.approx(e_theirs[name], rel=1e-6), name


def test_only_metrics_of_ones_own_make_the_loop_keep_outputs():
    """Built-ins accumulate in the core; a Keras-style Metric subclass (update_state/result) is
    updated batch by batch in the loop's order (it used to be handed to `compute`, which it does
    not define)."""
    class LargestBatch(metrics.Metric):
        def reset_state(self):
            self.sizes = []

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.sizes.append(len(y_true))

        def result(self):
            return np.float32(max(self.sizes))

    x, y = np.random.default_rng(0).random((70, 3), np.float32), np.arange(70) % 2
    model = fastmlp.Sequential([fastmlp.Input(shape=(3,)), layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy", "auc"])
    model.fit(x, y, batch_size=16, verbose=0)
    assert model._pred_buffer(70) is None
    mine = LargestBatch(name="largest_batch")
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy", mine])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert mine.sizes == [16, 16, 16, 16, 6] and history["largest_batch"] == [16.0, 16.0]
    assert model._pred_buffer(70).shape == (70, 2)
    assert model.evaluate(x, y, batch_size=50, verbose=0)[2] == 50.0
