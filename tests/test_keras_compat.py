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
