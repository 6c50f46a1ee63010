"""Checks of the estimators' parameters, run once at the start of every fit / partial_fit
(scikit-learn's contract: __init__ only stores its arguments, fit validates them)."""

from __future__ import annotations

import numbers

import numpy as np

# scikit-learn's hidden activations, plus every fastmlp activation under its own name.
ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu", "gelu": "gelu",
               "silu": "silu", "softplus": "softplus"}
SOLVERS = ("adam", "sgd")
LR_SCHEDULES = ("constant", "invscaling", "adaptive")
MAX_THREADS = 4096  # fastmlp.set_num_threads's bound


def fail(name, value, expected):
    raise ValueError(f"Received an invalid value for `{name}`, expected {expected}. "
                     f"Received: {name}={value!r}")


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_number(est, name, low, high=None, integer=False, low_open=False, high_open=False):
    value = getattr(est, name)
    ok = (_is_int(value) if integer else _is_real(value)) and np.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = ("(" if low_open else "["), (")" if high_open or high is None else "]")
        fail(name, value, f"{'an int' if integer else 'a number'} in {lo}{low}, "
                          f"{'inf' if high is None else high}{hi}")


def hidden_sizes(est):
    sizes = est.hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, numbers.Integral) else sizes
    try:
        sizes = list(sizes)
    except TypeError:
        fail("hidden_layer_sizes", est.hidden_layer_sizes, "an int or a sequence of ints")
    if any(not _is_int(h) or h <= 0 for h in sizes):
        fail("hidden_layer_sizes", est.hidden_layer_sizes, "positive ints")
    return [int(h) for h in sizes]


def dropout_rates(est, n_hidden):
    """One rate in [0, 1) per hidden layer, from a float or a sequence of n_hidden floats."""
    rates = est.dropout
    expected = f"a float in [0, 1) or a sequence of {n_hidden} such floats (one per hidden layer)"
    if _is_real(rates):
        rates = [rates] * n_hidden
    elif isinstance(rates, str):
        fail("dropout", est.dropout, expected)
    else:
        try:
            rates = list(rates)
        except TypeError:
            fail("dropout", est.dropout, expected)
    if len(rates) != n_hidden or not all(_is_real(r) and 0.0 <= r < 1.0 for r in rates):
        fail("dropout", est.dropout, expected)
    return [float(r) for r in rates]


def check_flag(est, name):
    if not isinstance(getattr(est, name), (bool, np.bool_)):
        fail(name, getattr(est, name), "True or False")


def check_n_threads(est):
    n = est.n_threads
    if n is not None and not (_is_int(n) and 1 <= n <= MAX_THREADS):
        fail("n_threads", n, f"None or an int in [1, {MAX_THREADS}]")


def check_class_weight(value):
    if value is None or (isinstance(value, str) and value == "balanced"):
        return
    if not isinstance(value, dict):
        fail("class_weight", value, "None, 'balanced' or a dict {class label: weight}")
    for label, weight in value.items():
        if not (_is_real(weight) and np.isfinite(weight) and weight >= 0):
            fail("class_weight", value,
                 f"finite non-negative weights (class {label!r} has weight {weight!r})")


def validate(est):
    """Checks every shared parameter; returns (hidden layer sizes, dropout rates)."""
    sizes = hidden_sizes(est)
    if not isinstance(est.activation, str) or est.activation not in ACTIVATIONS:
        fail("activation", est.activation, f"one of {sorted(ACTIVATIONS)}")
    if est.solver == "lbfgs":
        raise ValueError("solver='lbfgs' is not supported by fastmlp, whose C++ core trains "
                         "with mini-batch optimizers; use solver='adam' (the default) or "
                         "'sgd'. Received: solver='lbfgs'")
    if est.solver not in SOLVERS:
        fail("solver", est.solver, f"one of {SOLVERS}")
    if est.learning_rate not in LR_SCHEDULES:
        fail("learning_rate", est.learning_rate, f"one of {LR_SCHEDULES}")
    if not (est.batch_size == "auto" or (_is_int(est.batch_size) and est.batch_size >= 1)):
        fail("batch_size", est.batch_size, "'auto' or a positive int")
    for name, low, high, kw in (
            ("alpha", 0, None, {}), ("learning_rate_init", 0, None, {"low_open": True}),
            ("power_t", 0, None, {}), ("max_iter", 1, None, {"integer": True}),
            ("tol", 0, None, {}), ("momentum", 0, 1, {}),
            ("validation_fraction", 0, 1, {"high_open": True}),
            ("beta_1", 0, 1, {"high_open": True}), ("beta_2", 0, 1, {"high_open": True}),
            ("epsilon", 0, None, {"low_open": True}),
            ("n_iter_no_change", 1, None, {"integer": True}),
            ("max_fun", 1, None, {"integer": True})):
        check_number(est, name, low, high, **kw)
    check_flag(est, "batch_norm")
    check_n_threads(est)
    return sizes, dropout_rates(est, len(sizes))
