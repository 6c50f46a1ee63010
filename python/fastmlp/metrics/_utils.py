"""Helpers shared by the metric families: 2-D views of arrays, core metric specs and values."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _core

if _typing.TYPE_CHECKING:
    from typing import Any, Dict


def as_2d(a, name: str = "y") -> np.ndarray:
    """``a`` as real numbers of shape (samples, values)."""
    a = _checks.real_array(a, name)
    return a.reshape(-1, 1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)


def spec_args(**args: Any) -> Dict[str, Any]:
    """Keras arguments for a core metric spec: numbers or lists of numbers (never bools: flags
    are checked by the caller and passed as 0/1), names (average="macro"), None for the
    default. The core checks the values."""
    out: Dict[str, Any] = {}
    for key, value in args.items():
        if value is None or isinstance(value, str):
            out[key] = value
        elif _checks.is_real(value):
            out[key] = float(value)
        elif isinstance(value, (list, tuple, np.ndarray)) and \
                all(_checks.is_real(v) for v in np.asarray(value, dtype=object).reshape(-1)):
            out[key] = [float(v) for v in np.asarray(value, dtype=object).reshape(-1)]
        else:
            raise _checks.invalid(key, "a number", value)
    return out


def core_values(kind: str, y_true, y_pred, **args: Any) -> np.ndarray:
    """The per-sample values (float32) of a core mean metric: Keras's metric functions."""
    real = _checks.real_array
    return _core.Metric({"kind": kind, **spec_args(**args)}).values(real(y_true, "y_true"),
                                                                    real(y_pred, "y_pred"))
