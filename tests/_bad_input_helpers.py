"""Models, data and message patterns shared by the bad-input table (test_bad_input.py) and the
tests of accepted inputs (test_input_decisions.py)."""

import os
import tempfile

import numpy as np

import fastmlp
from fastmlp import layers

X = np.random.default_rng(0).random((10, 4)).astype(np.float32)
Y = np.arange(10) % 3


def model(loss="sparse_categorical_crossentropy", out=3, activation="softmax", compile=True,
          metrics=None):
    fastmlp.utils.set_random_seed(1)
    m = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                            layers.Dense(out, activation=activation)])
    if compile:
        m.compile("adam", loss, metrics=metrics)
    return m


def fit(m, x, y, **kw):
    return m.fit(x, y, verbose=0, **kw)


def mse_model():
    return model("mse", activation=None)


def unbuilt():
    return fastmlp.Sequential([layers.Dense(3)])


def weights_like(m, change):
    w = m.get_weights()
    change(w)
    return w


def readonly_out():
    out = np.zeros((2, 5), np.float32)
    out.flags.writeable = False
    return out


NAN_X = np.where(X > 0.5, np.nan, X).astype(np.float32)
BAD_KIND = "must hold real numbers"


def bad(name, received):
    """The Keras-style message for argument ``name``: what was expected, then the value."""
    return rf"Received an invalid value for `{name}`, expected .+\. Received: {name}={received}"


def cb_fit(cb):
    return fit(model(), X, Y, epochs=2, validation_split=0.2, callbacks=[cb])


def set_weight(target, index, value):
    w = target.get_weights()
    w[index] = value
    target.set_weights(w)


C64 = X.astype(np.complex64)
LR_OUTPUT = "output of the `schedule` function should be a finite, non-negative float"


def core_model():
    m = model()
    m.fit(X, Y, verbose=0)  # builds and compiles the core
    return m._core


def load_damaged(offset, mask):
    """load_model of a saved model with the bits ``mask`` of byte ``offset`` flipped."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "damaged.fastmlp")
        model().save(path)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data[offset] ^= mask
        with open(path, "wb") as f:
            f.write(bytes(data))
        return fastmlp.models.load_model(path)
