"""Checks of the scalar arguments of compile / fit / evaluate / predict, once, at the call
(the arrays are checked in `_data`). Messages are Keras's: they name the argument, what was
expected and the value received."""

from __future__ import annotations

import numbers
from types import SimpleNamespace
from typing import Any, List, Optional, Tuple

import numpy as np

from fastmlp import _checks


def verbosity(verbose: Any) -> int:
    """'auto' (= 1), 0, 1 or 2."""
    # Exact-type tests first: predict's lean path runs this on every call (~60 ns, not ~400).
    kind = type(verbose)
    if kind is str and verbose == "auto":
        return 1
    if kind is int and 0 <= verbose <= 2:
        return verbose
    if isinstance(verbose, (bool, np.bool_)) or not isinstance(verbose, numbers.Integral) \
            or verbose not in (0, 1, 2):
        raise ValueError(f"Received an invalid value for `verbose`, expected 'auto', 0, 1 or 2."
                         f" Received: verbose={_checks._show(verbose)}")
    return int(verbose)


def positive_int(name: str, value: Any, default: int) -> int:
    """A positive integer, or ``default`` for None."""
    if value is None:
        return default
    return _checks.integer(name, value, 1)


def flag(name: str, value: Any) -> bool:
    return _checks.flag(name, value)


def fit_args(batch_size: Any, epochs: Any, verbose: Any, validation_split: Any, shuffle: Any,
             initial_epoch: Any, steps_per_epoch: Any, validation_steps: Any,
             validation_batch_size: Any, validation_freq: Any) -> SimpleNamespace:
    """The scalar arguments of ``fit``, checked before any data is touched."""
    batch = positive_int("batch_size", batch_size, 32)
    return SimpleNamespace(
        verbose=verbosity(verbose), batch_size=batch,
        epochs=_checks.integer("epochs", epochs, 0),
        validation_split=_checks.number("validation_split", validation_split, 0.0, 1.0,
                                        high_open=True, expected="a float in [0, 1)"),
        shuffle=flag("shuffle", shuffle),
        initial_epoch=_checks.integer("initial_epoch", initial_epoch, 0),
        steps_per_epoch=_checks.integer("steps_per_epoch", steps_per_epoch, 1, optional=True),
        validation_steps=_checks.integer("validation_steps", validation_steps, 1,
                                         optional=True),
        validation_batch_size=positive_int("validation_batch_size", validation_batch_size,
                                           batch),
        validation_freq=positive_int("validation_freq", validation_freq, 1))


def steps(value: Any) -> Optional[int]:
    return _checks.integer("steps", value, 1, optional=True)


def compile_metrics(metrics: Any, loss_weights: Any, weighted_metrics: Any, run_eagerly: Any,
                    steps_per_execution: Any, jit_compile: Any) -> Tuple[List[Any], List[Any]]:
    """The lists of metric and weighted-metric identifiers; refuses what fastmlp cannot honour
    (several outputs) and wrongly typed Keras-compatibility arguments it otherwise ignores."""
    one = loss_weights is None or (_checks.is_real(loss_weights) and loss_weights == 1) or \
        (isinstance(loss_weights, (list, tuple)) and len(loss_weights) == 1
         and _checks.is_real(loss_weights[0]) and loss_weights[0] == 1)
    if not one:
        raise ValueError(f"`loss_weights` is not supported (fastmlp models have one output)."
                         f" Received: loss_weights={_checks._show(loss_weights)}")
    flag("run_eagerly", run_eagerly)
    _checks.integer("steps_per_execution", steps_per_execution, 1)
    if not (isinstance(jit_compile, str) and jit_compile == "auto"):
        if not isinstance(jit_compile, (bool, np.bool_)):
            raise _checks.invalid("jit_compile", "'auto', True or False", jit_compile)
    return _metric_list("metrics", metrics), _metric_list("weighted_metrics", weighted_metrics)


def _metric_list(name: str, metrics: Any) -> List[Any]:
    from fastmlp import metrics as metrics_module

    if metrics is None:
        return []
    if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
        return [metrics]
    if isinstance(metrics, dict):
        raise ValueError(f"`{name}` must be a list (fastmlp models have one output).")
    if not isinstance(metrics, (list, tuple)):
        raise _checks.invalid(name, "a list of metric names or fastmlp.metrics objects",
                              metrics)
    return list(metrics)
