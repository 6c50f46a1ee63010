"""Accuracy metrics: the per-sample functions and their metric objects."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks
from fastmlp.metrics import _utils, base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = [
    "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    p = _utils.as_2d(y_pred).astype(np.float32)
    t = _utils.as_2d(y_true).reshape(p.shape)
    return np.mean((p > threshold) == (t > 0.5), axis=-1, dtype=np.float64)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    hits = np.argmax(_utils.as_2d(y_true), -1) == np.argmax(_utils.as_2d(y_pred), -1)
    return hits.astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    labels = _checks.real_array(y_true, "y_true").reshape(-1)
    return (labels.astype(np.int64) == np.argmax(_utils.as_2d(y_pred), -1)).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    p = _utils.as_2d(y_pred).astype(np.float32)
    labels = _checks.real_array(y_true, "y_true").reshape(-1).astype(np.int64)
    if k >= p.shape[1]:
        return np.ones(len(labels))
    target = p[np.arange(len(labels)), labels]
    # In the top k when fewer than k scores are strictly larger (ties favour the target).
    return ((p > target[:, None]).sum(axis=1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    return sparse_top_k_categorical_accuracy(np.argmax(_utils.as_2d(y_true), -1), y_pred, k)


class BinaryAccuracy(base.MeanMetricWrapper):
    """Fraction of ``(y_pred > threshold) == y_true``. Defaults to threshold 0.5."""

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None,
                 threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name=name, threshold=threshold)
        self.threshold = float(threshold)
        self.core_name = "binary_accuracy" if self.threshold == 0.5 else None

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "threshold": self.threshold}

class CategoricalAccuracy(base.MeanMetricWrapper):
    """Fraction of samples whose argmax matches the one-hot target."""

    core_name = "categorical_accuracy"

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name)


class SparseCategoricalAccuracy(base.MeanMetricWrapper):
    """Fraction of samples whose argmax equals the label."""

    core_name = "sparse_categorical_accuracy"

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name)


class TopKCategoricalAccuracy(base.MeanMetricWrapper):
    """Fraction of samples whose one-hot target is among the ``k`` largest outputs (k=5)."""

    _fn_k = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: Optional[str] = None, dtype: Any = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"Received an invalid value for `k`, expected a positive integer. "
                             f"Received: k={k!r}")
        fn = type(self)._fn_k
        super().__init__(fn, name=name or fn.__name__, k=k)
        self.k = k

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Fraction of samples whose integer label is among the ``k`` largest outputs (k=5)."""

    _fn_k = staticmethod(sparse_top_k_categorical_accuracy)
