"""The metric bases: `Metric` (Keras's stateful interface) and `MeanMetricWrapper` (a per-sample
function averaged over samples)."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks
from fastmlp.metrics import _utils

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

__all__ = ["MeanMetricWrapper", "Metric"]


class Metric:
    """Base: accumulates (y_true, y_pred, sample_weight) and computes ``result()`` from all.

    ``core_name`` is the C++ built-in computing the same value in the training loop, or None
    when the model computes it from collected predictions with ``compute``.
    """

    core_name: Optional[str] = None
    _default_name = "metric"

    def __init__(self, name: Optional[str] = None, dtype: Any = None) -> None:
        self.name = name or self._default_name
        self.reset_state()

    def reset_state(self) -> None:
        self._batches: List[tuple] = []

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        real = _checks.real_array
        self._batches.append((real(y_true, "y_true"), real(y_pred, "y_pred"),
                              None if sample_weight is None else
                              real(sample_weight, "sample_weight")))

    def result(self) -> np.float32:
        if not self._batches:
            return np.float32(0.0)
        t = np.concatenate([_utils.as_2d(b[0]) for b in self._batches])
        p = np.concatenate([_utils.as_2d(b[1]) for b in self._batches])
        ws = [b[2] for b in self._batches]
        w = None if all(x is None for x in ws) else np.concatenate(
            [np.ones(len(_utils.as_2d(b[1]))) if b[2] is None else b[2].reshape(-1)
             for b in self._batches])
        return np.float32(self.compute(t, p, w))

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray,
                sample_weight: Optional[np.ndarray] = None) -> float:
        """The metric over whole arrays (what the model calls once per epoch)."""
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> np.float32:
        return np.float32(self.compute(_utils.as_2d(y_true), _utils.as_2d(y_pred), sample_weight))

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class MeanMetricWrapper(Metric):
    """A per-sample function averaged over samples (optionally weighted)."""

    def __init__(self, fn: Callable, name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        self._fn, self._kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"))

    def compute(self, y_true, y_pred, sample_weight=None) -> float:
        values = np.asarray(self._fn(y_true, y_pred, **self._kwargs), dtype=np.float64)
        return _utils.weighted_mean(values.reshape(-1), sample_weight)
