"""Spec builders shared by the `_core.Model` tests."""

import numpy as np


def dense(units, activation="linear", seed=1, use_bias=True, l1=0.0, l2=0.0, bias="zeros", param=0.0):
    return {"type": "dense", "units": units, "activation": activation, "activation_param": param,
            "use_bias": use_bias,
            "kernel_initializer": {"name": "glorot_uniform", "seed": seed},
            "bias_initializer": {"name": bias, "seed": seed + 1000, "minval": -0.5, "maxval": 0.5},
            "kernel_regularizer": {"l1": l1, "l2": l2}, "bias_regularizer": {"l1": l1, "l2": l2}}


def batchnorm(scale=True, center=True):
    return {"type": "batch_normalization", "momentum": 0.99, "epsilon": 1e-3, "center": center,
            "scale": scale,
            "gamma_initializer": {"name": "random_uniform", "minval": 0.5, "maxval": 1.5, "seed": 5},
            "beta_initializer": {"name": "random_uniform", "minval": -0.5, "maxval": 0.5, "seed": 6},
            "moving_mean_initializer": {"name": "zeros"},
            "moving_variance_initializer": {"name": "ones"}}


def sparse_ce(from_logits=True):
    return {"name": "sparse_categorical_crossentropy", "from_logits": from_logits}


def sgd(lr=0.05, momentum=0.0):
    return {"name": "sgd", "learning_rate": lr, "momentum": momentum}


def blobs(n=256, d=8, k=3, seed=0):
    """A linearly separable k-class problem."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(k, d)).astype(np.float32)
    y = rng.integers(0, k, size=n).astype(np.int32)
    x = (centers[y] + rng.normal(0, 0.5, size=(n, d))).astype(np.float32)
    return x, y


def hooks():
    """fastmlp._core._testing (what the tests see inside the core), or a skip where fastmlp was
    built without it (FASTMLP_TEST_HOOKS=OFF: a plain `pip install .`; the README's test command
    builds the hooks, so CI runs every test that needs them)."""
    import pytest

    from fastmlp import _core
    testing = getattr(_core, "_testing", None)
    if testing is None:
        pytest.skip("fastmlp was built without its test hooks (FASTMLP_TEST_HOOKS=OFF); install "
                    "with the README's test command to run this test",
                    allow_module_level=True)
    return testing
