"""Metrics in the training loop: `weighted_metrics` (sample and class weights, Keras's log
names), metrics with one value per threshold or class in fit / evaluate / History / the progress
bar / batch callbacks, run by the C++ loop (no Python fallback), and compile configs that keep
weighted metrics through get_compile_config, .fastmlp, pickle and .keras files. Against Keras 3:
tests/test_keras_compat.py."""

import os
import pickle

import numpy as np
import pytest

import fastmlp
from fastmlp import metrics

from _mlp_helpers import blobs


def _model(classes=3, compile_kwargs=None):
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(8,)),
                                fastmlp.layers.Dense(8, activation="relu"),
                                fastmlp.layers.Dense(classes, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy", **(compile_kwargs or {}))
    return model


def _data(n=120, classes=3):
    x, labels = blobs(n=n, classes=classes)
    w = np.random.default_rng(3).uniform(0.0, 2.0, n).astype(np.float32)
    return x, np.eye(classes, dtype=np.float32)[labels], w


def test_weighted_metrics_see_sample_and_class_weights_in_evaluate_and_fit():
    x, y, w = _data()
    model = _model(compile_kwargs=dict(
        metrics=["mae", metrics.F1Score(average="macro")],
        weighted_metrics=["mae", metrics.F1Score(average="macro"), metrics.KLDivergence()]))
    logs = model.evaluate(x, y, sample_weight=w, batch_size=32, verbose=0, return_dict=True)
    assert sorted(logs) == ["f1_score", "kl_divergence", "loss", "mae", "weighted_f1_score",
                            "weighted_mae"]
    p = model.predict(x, verbose=0)
    for name, metric, weights in [("mae", metrics.MeanAbsoluteError(), None),
                                  ("weighted_mae", metrics.MeanAbsoluteError(), w),
                                  ("weighted_f1_score", metrics.F1Score(average="macro"), w),
                                  ("kl_divergence", metrics.KLDivergence(), w)]:
        metric.update_state(y, p, sample_weight=weights)
        assert logs[name] == pytest.approx(float(metric.result()), rel=1e-5), name
    assert logs["weighted_mae"] != pytest.approx(logs["mae"], rel=1e-3)
    # class_weight folds into the weights the weighted metrics see (as Keras's data adapter)
    table = {0: 0.0, 1: 1.0, 2: 3.0}
    history = model.fit(x, y, class_weight=table, batch_size=len(x), epochs=1, shuffle=False,
                        verbose=0).history
    expected = metrics.MeanAbsoluteError()
    expected.update_state(y, p, sample_weight=np.array([table[c] for c in y.argmax(1)]))
    assert history["weighted_mae"][0] == pytest.approx(float(expected.result()), rel=1e-5)
    assert model.metrics_names == ["loss", "mae", "f1_score", "weighted_mae",
                                   "weighted_f1_score", "kl_divergence"]
    assert model._pred_buffer(len(x)) is None  # all of them ran in the C++ loop


def test_log_names_follow_keras():
    x, y, _ = _data(n=40)
    model = _model(compile_kwargs=dict(metrics=["mae", "mae", "mae"],
                                       weighted_metrics=["mae", "mae", "mse"]))
    assert model.metrics_names == ["loss", "mae", "mae_1", "mae_2", "weighted_mae",
                                   "weighted_mae_1", "mse"]
    values = model.evaluate(x, y, verbose=0)
    assert len(values) == 7 and values[1] == values[2] == values[3] == values[4] == values[5]


def test_shaped_results_in_history_progress_and_batch_logs(capsys):
    x, y, _ = _data()
    seen = []
    model = _model(compile_kwargs=dict(metrics=[metrics.TruePositives(thresholds=[0.2, 0.5]),
                                                metrics.F1Score(), metrics.R2Score()]))
    callback = fastmlp.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(logs["f1_score"]))
    history = model.fit(x, y, batch_size=40, epochs=2, verbose=2, callbacks=[callback],
                        validation_data=(x[:30], y[:30])).history
    for key, shape in [("true_positives", (2,)), ("f1_score", (3,)), ("val_f1_score", (3,))]:
        assert len(history[key]) == 2 and all(np.shape(v) == shape for v in history[key])
        assert all(np.asarray(v).dtype == np.float32 for v in history[key])
    assert isinstance(history["r2_score"][0], float)
    assert len(seen) == 6 and all(np.shape(v) == (3,) for v in seen)
    out = capsys.readouterr().out
    # the bar shows a shaped metric's mean, as Keras's does
    assert f"f1_score: {np.mean(history['f1_score'][-1]):.4f}" in out
    loss, tp, f1, r2 = model.evaluate(x, y, verbose=0)
    assert np.shape(tp) == (2,) and np.shape(f1) == (3,) and np.shape(r2) == ()
    tp_values = model.test_on_batch(x, y, return_dict=True)["true_positives"]
    np.testing.assert_array_equal(tp_values, tp)
    assert model._pred_buffer(len(x)) is None


def test_weighted_python_metrics_get_the_weights_as_keras_passes_them():
    calls = []

    class Calls(metrics.Metric):
        def reset_state(self):
            pass

        def update_state(self, y_true, y_pred, sample_weight=None):
            calls.append((self.name, sample_weight is not None))

        def result(self):
            return np.float32(0)

    def plain(y_true, y_pred):  # takes no weights: called with two arguments, as by Keras
        return np.zeros(len(y_true))

    x, y, w = _data(n=40)
    model = _model(compile_kwargs=dict(metrics=[Calls(name="unweighted"), plain],
                                       weighted_metrics=[Calls(name="weighted")]))
    model.evaluate(x, y, sample_weight=w, batch_size=20, verbose=0)
    assert calls == [("unweighted", False), ("weighted", True)] * 2  # batch by batch
    calls.clear()
    model.fit(x, y, batch_size=20, epochs=1, verbose=0)  # no weights given: None
    assert calls == [("unweighted", False), ("weighted", False)] * 2


def test_weighted_metrics_survive_configs_files_and_pickles(tmp_path):
    x, y, w = _data(n=60)
    model = _model(compile_kwargs=dict(metrics=["accuracy"], weighted_metrics=[
        "mae", metrics.FBetaScore(beta=2.0, average="micro", name="f2")]))
    model.fit(x, y, sample_weight=w, epochs=1, verbose=0)
    expected = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    config = model.get_compile_config()
    assert config["weighted_metrics"] == ["mae", {"class_name": "FBetaScore", "config": {
        "name": "f2", "average": "micro", "beta": 2.0, "threshold": None}}]
    twin = _model()
    twin.compile_from_config(config)
    twin.set_weights(model.get_weights())
    model.save(tmp_path / "m.fastmlp")
    copies = [twin, pickle.loads(pickle.dumps(model)),
              fastmlp.models.load_model(tmp_path / "m.fastmlp")]
    if pytest.importorskip("h5py", reason="h5py reads .keras files"):
        model.save(tmp_path / "m.keras")
        copies.append(fastmlp.models.load_model(tmp_path / "m.keras"))
    for copied in copies:
        assert copied.metrics_names == ["loss", "accuracy", "mae", "f2"]
        got = copied.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
        assert got == pytest.approx(expected, rel=1e-6)


# Keras's own Variable.numpy() (called when it saves) warns under NumPy 2.
@pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_keras_reads_our_weighted_metrics_and_we_read_its(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="keras (optional, with a backend) is not installed")
    pytest.importorskip("h5py")
    x, y, w = _data(n=60)
    model = _model(compile_kwargs=dict(metrics=[metrics.R2Score()],
                                       weighted_metrics=["mae", metrics.TruePositives(
                                           thresholds=[0.3, 0.6], name="tp")]))
    model.save(tmp_path / "ours.keras")
    theirs = keras.models.load_model(tmp_path / "ours.keras")
    expected = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    got = theirs.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=2e-5, atol=1e-6, err_msg=key)
    theirs.save(tmp_path / "theirs.keras")
    back = fastmlp.models.load_model(tmp_path / "theirs.keras")
    assert back.metrics_names == ["loss", "r2_score", "mae", "tp"]


def test_bad_weighted_metrics_are_refused():
    model = _model()
    with pytest.raises(ValueError, match=r"`weighted_metrics` must be a list \(fastmlp models "
                                         r"have one output\)"):
        model.compile("sgd", "mse", weighted_metrics={"out": "mae"})
    with pytest.raises(ValueError, match=r"`weighted_metrics`.*Received: weighted_metrics=3"):
        model.compile("sgd", "mse", weighted_metrics=3)
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile("sgd", "mse", weighted_metrics=["f2_score"])
    sparse = fastmlp.Sequential([fastmlp.Input(shape=(4,)), fastmlp.layers.Dense(3)])
    with pytest.raises(ValueError, match="needs integer labels, but the loss is "
                                         "mean_squared_error"):
        sparse.compile("sgd", "mse", weighted_metrics=[metrics.SparseCategoricalCrossentropy()])
        sparse.evaluate(np.zeros((2, 4)), np.zeros((2, 3)), verbose=0)


def test_batches_from_python_feed_weighted_metrics_as_arrays_do():
    """A generator's (x, y, sample_weight) batches: the weighted metrics, built-in and the
    user's own, get the same weights as from arrays."""
    seen = []

    class Weights(metrics.Metric):
        def reset_state(self):
            seen.clear()

        def update_state(self, y_true, y_pred, sample_weight=None):
            seen.append(None if sample_weight is None else np.asarray(sample_weight).copy())

        def result(self):
            return np.float32(len(seen))

    x, y, w = _data(n=40)
    model = _model(compile_kwargs=dict(weighted_metrics=["mae", Weights(name="weights")]))

    def batches():
        for start in range(0, 40, 20):
            yield x[start:start + 20], y[start:start + 20], w[start:start + 20]
    from_python = model.evaluate(batches(), verbose=0, return_dict=True)
    np.testing.assert_array_equal(np.concatenate(seen), w)
    from_arrays = model.evaluate(x, y, sample_weight=w, batch_size=20, verbose=0,
                                 return_dict=True)
    np.testing.assert_array_equal(np.concatenate(seen), w)
    assert from_python == pytest.approx(from_arrays, rel=1e-6)
