"""Array helpers shared by the metric families."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks

if _typing.TYPE_CHECKING:
    from typing import Optional


def as_2d(a, name: str = "y") -> np.ndarray:
    """``a`` as real numbers of shape (samples, values)."""
    a = _checks.real_array(a, name)
    return a.reshape(-1, 1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)


def targets_like(y_true, p: np.ndarray) -> np.ndarray:
    """Targets shaped like the predictions ``p``; integer labels become one-hot."""
    t = as_2d(y_true)
    if t.shape[1] == 1 and p.shape[1] > 1:
        onehot = np.zeros(p.shape, dtype=np.float64)
        onehot[np.arange(len(t)), t[:, 0].astype(np.int64)] = 1.0
        return onehot
    return t.reshape(p.shape)


def weighted_mean(values: np.ndarray, w: Optional[np.ndarray]) -> float:
    """The mean of ``values``, weighted by ``w`` when given (0 for no values or zero weight)."""
    if w is None:
        return float(values.mean()) if values.size else 0.0
    w = _checks.real_array(w, "sample_weight").astype(np.float64).reshape(-1)
    return float((values * w).sum() / w.sum()) if w.sum() else 0.0
