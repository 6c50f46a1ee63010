"""The network an estimator trains: its core layer specs, its weights as scikit-learn's fitted
attributes, and the `_core.Model` built from them.

Each hidden layer is Dense -> [BatchNormalization -> activation] -> [Dropout]: with
``batch_norm=True`` the Dense layer is linear and the activation follows the normalization (as
Ioffe & Szegedy place it); a Dropout layer follows the activation when its rate is above 0. The
output layer is a plain Dense. The core's weight list is, per hidden layer, kernel, bias and
(with batch_norm) gamma, beta, moving mean, moving variance, then the output kernel and bias.
"""

from __future__ import annotations

import contextlib

import numpy as np

from fastmlp import _core
from fastmlp.sklearn._params import ACTIVATIONS

_BN_WEIGHTS = 4  # gamma, beta, moving_mean, moving_variance (Keras's order)
# Keras's BatchNormalization defaults.
_BN_SPEC = {"type": "batch_normalization", "momentum": 0.99, "epsilon": 1e-3, "center": True,
            "scale": True, "gamma_initializer": {"name": "ones"},
            "beta_initializer": {"name": "zeros"}, "moving_mean_initializer": {"name": "zeros"},
            "moving_variance_initializer": {"name": "ones"}}


def _dense(units, activation, l2):
    zeros = {"name": "zeros"}
    return {"type": "dense", "units": int(units), "activation": activation,
            "activation_param": 0.0, "use_bias": True, "kernel_initializer": zeros,
            "bias_initializer": zeros, "kernel_regularizer": {"l1": 0.0, "l2": float(l2)},
            "bias_regularizer": {"l1": 0.0, "l2": 0.0}}


def layer_specs(est, l2):
    act = ACTIVATIONS[est.activation]
    specs = []
    for i, (units, rate) in enumerate(zip(est._hidden_sizes, est._dropout_rates)):
        if est.batch_norm:
            specs += [_dense(units, "linear", l2), dict(_BN_SPEC)]
            if act != "linear":
                specs.append({"type": "activation", "activation": act, "activation_param": 0.0})
        else:
            specs.append(_dense(units, act, l2))
        if rate > 0.0:
            # One seed per layer, derived from the estimator's (drawn once from random_state).
            specs.append({"type": "dropout", "rate": rate,
                          "seed": (est._dropout_seed + i) % (2**31 - 1)})
    specs.append(_dense(est.n_outputs_, est._core_output_activation(), l2))
    return specs


def init_weights(est, layer_units):
    """scikit-learn's Glorot-uniform scheme, drawn in the same order from the same generator,
    so a given random_state starts from scikit-learn's weights; BatchNormalization starts as
    the identity (gamma 1, beta 0, moving mean 0, moving variance 1)."""
    factor = 2.0 if est.activation == "logistic" else 6.0
    est.coefs_, est.intercepts_ = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        est.coefs_.append(est._random_state.uniform(-bound, bound, (fan_in, fan_out))
                          .astype(np.float32))
        est.intercepts_.append(est._random_state.uniform(-bound, bound, fan_out)
                               .astype(np.float32))
    est.batch_norm_weights_ = None
    if est.batch_norm:
        est.batch_norm_weights_ = [
            [np.ones(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32),
             np.ones(n, np.float32)] for n in layer_units[1:-1]]


def weights_list(est):
    """coefs_, intercepts_ and batch_norm_weights_ in the core's order."""
    out = []
    bn = est.batch_norm_weights_
    for i, (w, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        out += [np.ascontiguousarray(w, dtype=np.float32),
                np.ascontiguousarray(b, dtype=np.float32)]
        if bn is not None and i < len(bn):
            out += [np.ascontiguousarray(a, dtype=np.float32) for a in bn[i]]
    return out


def pull_weights(est, weights):
    """Splits the core's weight list into coefs_, intercepts_ and batch_norm_weights_."""
    est.coefs_, est.intercepts_ = [], []
    bn = [] if est.batch_norm_weights_ is not None else None
    pos = 0
    for layer in range(len(est._hidden_sizes) + 1):
        est.coefs_.append(weights[pos])
        est.intercepts_.append(weights[pos + 1])
        pos += 2
        if bn is not None and layer < len(est._hidden_sizes):
            bn.append(list(weights[pos:pos + _BN_WEIGHTS]))
            pos += _BN_WEIGHTS
    est.batch_norm_weights_ = bn


def core_from_config(config, weights, training_step=0, optimizer_state=None):
    n_features, specs, loss, optimizer = config
    model = _core.Model(n_features, specs)
    model.compile(loss, optimizer, [])
    model.set_weights(weights)
    # Dropout masks are keyed by the training step: carrying it over continues their stream.
    model.training_step = int(training_step)
    if optimizer_state is not None:
        model.set_optimizer_state(*optimizer_state)
    return model


@contextlib.contextmanager
def thread_count(n_threads):
    """fastmlp's process-wide thread count set to n_threads for the block (None: as it is)."""
    if n_threads is None:
        yield
        return
    before = _core.get_num_threads()
    _core.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        _core.set_num_threads(before)
