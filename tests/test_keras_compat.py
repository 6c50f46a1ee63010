"""Trains the same small model in Keras 3 and fastmlp from identical weights; losses must agree."""

import os

import numpy as np
import pytest

import fastmlp

from _mlp_helpers import blobs

# Keras 3 defaults to TensorFlow; the `keras3` extra installs JAX as its backend.
os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras", reason="keras (optional, with a backend) is not installed")


def _build(lib, layers_mod):
    return lib.Sequential([lib.Input(shape=(8,)), layers_mod.Dense(16, activation="relu"),
                           layers_mod.Dense(3, activation="softmax")])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_same_losses_as_keras_from_identical_weights(optimizer):
    x, y = blobs(n=256)
    ours = _build(fastmlp, fastmlp.layers)
    theirs = _build(keras, keras.layers)
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    h_ours = ours.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0).history
    h_theirs = theirs.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0).history
    assert sorted(h_ours) == sorted(h_theirs)
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=2e-4)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0),
                               rtol=2e-4)


def _binary_model(lib):
    return lib.Sequential([lib.Input(shape=(8,)), lib.layers.Dense(16, activation="relu"),
                           lib.layers.Dense(1, activation="sigmoid")])


def test_same_metrics_as_keras_in_fit_validation_and_evaluate():
    """Every built-in metric, accumulated batch by batch in the C++ loop, against Keras's."""
    x, y = blobs(n=256, classes=2)
    y = y.astype(np.float32)
    ours, theirs = _binary_model(fastmlp), _binary_model(keras)
    theirs.set_weights(ours.get_weights())
    for lib, model in ((fastmlp, ours), (keras, theirs)):
        m = lib.metrics
        model.compile(optimizer="sgd", loss="binary_crossentropy",
                      metrics=["accuracy", m.AUC(name="auc"), m.Precision(name="precision"),
                               m.Recall(thresholds=0.3, name="recall"),
                               m.MeanSquaredError(name="mse"),
                               m.RootMeanSquaredError(name="rmse")])
    kw = dict(epochs=2, batch_size=32, shuffle=False, verbose=0, validation_data=(x[:64], y[:64]))
    h_ours, h_theirs = ours.fit(x, y, **kw).history, theirs.fit(x, y, **kw).history
    assert sorted(h_ours) == sorted(h_theirs)
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-4, atol=1e-6, err_msg=key)
    e_ours = ours.evaluate(x, y, batch_size=50, verbose=0, return_dict=True)
    e_theirs = theirs.evaluate(x, y, batch_size=50, verbose=0, return_dict=True)
    for key in e_theirs:
        assert e_ours[key] == pytest.approx(e_theirs[key], rel=2e-4, abs=1e-6), key


def _targets(kind, labels, rng):
    """Targets for a loss: a distribution, counts, regression values, {0, 1} / {-1, 1} or
    one-hot rows (three columns, as the models' outputs)."""
    onehot = np.eye(3, dtype=np.float32)[labels]
    return {"distribution": (0.8 * onehot + 0.2 * rng.dirichlet(np.ones(3), len(labels))),
            "counts": rng.poisson(onehot * 2 + 0.5), "values": onehot * 2 + rng.normal(
                size=onehot.shape), "positive": 1.0 + onehot + rng.random(onehot.shape),
            "binary": onehot, "signed": 2 * onehot - 1, "onehot": onehot}[kind].astype(np.float32)


@pytest.mark.parametrize("loss, activation, targets", [
    ("kl_divergence", "softmax", "distribution"), ("poisson", "softplus", "counts"),
    ("log_cosh", None, "values"), ("mean_squared_logarithmic_error", "relu", "positive"),
    ("mean_absolute_percentage_error", None, "positive"), ("cosine_similarity", None, "values"),
    ("hinge", "tanh", "binary"), ("squared_hinge", "tanh", "signed"),
    ("categorical_hinge", None, "onehot")])
def test_keras_3_losses_train_as_in_keras(loss, activation, targets):
    """Forward, the loss's gradient and the optimizer step in the C++ loop: the same history
    and evaluation as Keras from the same weights (hinge's {0, 1} targets become {-1, 1})."""
    x, labels = blobs(n=256)
    y = _targets(targets, labels, np.random.default_rng(1))
    models = []
    for lib in (fastmlp, keras):
        models.append(lib.Sequential([lib.Input(shape=(8,)),
                                      lib.layers.Dense(16, activation="relu"),
                                      lib.layers.Dense(3, activation=activation)]))
    ours, theirs = models
    theirs.set_weights(ours.get_weights())
    for model in models:
        model.compile(optimizer="sgd", loss=loss)
    kw = dict(epochs=3, batch_size=32, shuffle=False, verbose=0, validation_data=(x[:64], y[:64]))
    h_ours, h_theirs = ours.fit(x, y, **kw).history, theirs.fit(x, y, **kw).history
    assert sorted(h_ours) == sorted(h_theirs) == ["loss", "val_loss"]
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-4, err_msg=key)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-3, atol=1e-5)
    assert ours.evaluate(x, y, batch_size=50, verbose=0) == pytest.approx(
        theirs.evaluate(x, y, batch_size=50, verbose=0), rel=2e-4)


def _compare_logs(ours, theirs):
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        expected = np.asarray(theirs[key], np.float64)
        got = np.asarray(ours[key], np.float64)
        assert got.shape == expected.shape, key
        np.testing.assert_allclose(got, expected, rtol=2e-4,
                                   atol=1e-6 * max(1.0, np.abs(expected).max()), err_msg=key)


def test_issue_19_metrics_and_weighted_metrics_log_as_in_keras():
    """Confusion counts at several thresholds and F1Score(average=None) log one value per
    threshold / class, in fit (History), validation and evaluate; weighted_metrics see the
    sample and class weights, and a weighted metric named like another is "weighted_<name>"."""
    x, labels = blobs(n=256, classes=3)
    y = np.eye(3, dtype=np.float32)[labels]
    sw = np.random.default_rng(2).uniform(0.2, 2.0, len(x)).astype(np.float32)
    ours, theirs = _build(fastmlp, fastmlp.layers), _build(keras, keras.layers)
    theirs.set_weights(ours.get_weights())
    for lib, model in ((fastmlp, ours), (keras, theirs)):
        m = lib.metrics
        model.compile(optimizer="sgd", loss="categorical_crossentropy",
                      metrics=[m.TruePositives(thresholds=[0.3, 0.5], name="tp"),
                               m.FalseNegatives(name="fn"),
                               m.F1Score(), m.FBetaScore(average="macro", beta=2.0),
                               m.R2Score(), m.KLDivergence(), "mape", "mae", "mae",
                               m.CategoricalCrossentropy(label_smoothing=0.1)],
                      weighted_metrics=["mae", m.Precision(thresholds=[0.4, 0.6], name="pr"),
                                        m.F1Score(average="weighted"), "categorical_accuracy"])
    # Keras takes class_weight or sample_weight in fit, not both
    kw = dict(epochs=2, batch_size=32, shuffle=False, verbose=0,
              class_weight={0: 1.0, 1: 2.0, 2: 0.5}, validation_data=(x[:64], y[:64], sw[:64]))
    h_ours, h_theirs = ours.fit(x, y, **kw).history, theirs.fit(x, y, **kw).history
    assert "weighted_mae" in h_ours and "mae_1" in h_ours and "val_f1_score" in h_ours
    assert np.shape(h_ours["tp"][0]) == (2,) and np.shape(h_ours["f1_score"][0]) == (3,)
    assert not np.allclose(h_ours["weighted_mae"], h_ours["mae"])  # the class weights count
    _compare_logs({k: np.array(v) for k, v in h_ours.items()},
                  {k: np.array(v) for k, v in h_theirs.items()})
    e_ours = ours.evaluate(x, y, sample_weight=sw, batch_size=50, verbose=0, return_dict=True)
    e_theirs = theirs.evaluate(x, y, sample_weight=sw, batch_size=50, verbose=0,
                               return_dict=True)
    _compare_logs(e_ours, e_theirs)
