"""Small data sets and models shared by the Python API tests."""

import numpy as np

import fastmlp
from fastmlp import layers


def blobs(n=600, features=8, classes=3, seed=0):
    """Linearly separable-ish Gaussian blobs: float32 x, int64 labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    x = (centers[y] + rng.normal(size=(n, features))).astype(np.float32)
    return x, y


def regression(n=400, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, 1))
    y = (x @ w + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


def classifier(features=8, classes=3, hidden=16, seed=0, softmax=True, **compile_kwargs):
    fastmlp.utils.set_random_seed(seed)
    model = fastmlp.Sequential([
        fastmlp.Input(shape=(features,)),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(classes, activation="softmax" if softmax else None),
    ])
    kwargs = {"optimizer": "adam", "loss": "sparse_categorical_crossentropy",
              "metrics": ["accuracy"]}
    kwargs.update(compile_kwargs)
    model.compile(**kwargs)
    return model


def saved_classifier(path):
    """classifier(hidden=4) after one epoch on blobs(n=64), saved to `path`: (model, x)."""
    model = classifier(hidden=4)
    x, y = blobs(n=64)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(str(path))
    return model, x
