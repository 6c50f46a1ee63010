"""Trains the same small model in Keras 3 and fastmlp from identical weights; losses must agree."""

import os

import numpy as np
import pytest

import fastmlp

from _mlp_helpers import blobs

# Keras 3 defaults to TensorFlow; the `keras` extra installs JAX as its backend.
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
