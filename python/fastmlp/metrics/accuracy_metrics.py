"""Accuracy metrics: the per-sample functions and their metric objects, all computed by the C++
core (``cpp/src/nn/metrics/accuracy_metrics.cpp``)."""

from __future__ import annotations

import typing as _typing

import numpy as np

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
    """Per sample, the fraction of values with ``(y_pred > threshold) == y_true``."""
    return _utils.core_values("binary_accuracy", y_true, y_pred, threshold=threshold)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Per sample, 1 where ``argmax(y_pred) == argmax(y_true)``."""
    return _utils.core_values("categorical_accuracy", y_true, y_pred)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Per sample, 1 where ``argmax(y_pred)`` equals the integer label."""
    return _utils.core_values("sparse_categorical_accuracy", y_true, y_pred)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """Per sample, 1 where fewer than ``k`` outputs exceed the label's (ties favour it)."""
    return _utils.core_values("sparse_top_k_categorical_accuracy", y_true, y_pred, k=k)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """As `sparse_top_k_categorical_accuracy` with the label ``argmax(y_true)``."""
    return _utils.core_values("top_k_categorical_accuracy", y_true, y_pred, k=k)


class BinaryAccuracy(base.CoreMetric):
    """Fraction of ``(y_pred > threshold) == y_true``. Defaults to threshold 0.5."""

    core_name = "binary_accuracy"

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None,
                 threshold: float = 0.5) -> None:
        super().__init__(name=name, threshold=threshold)
        self.threshold = float(threshold)

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(base.CoreMetric):
    """Fraction of samples whose argmax matches the one-hot target."""

    core_name = _default_name = "categorical_accuracy"


class SparseCategoricalAccuracy(base.CoreMetric):
    """Fraction of samples whose argmax equals the label."""

    core_name = _default_name = "sparse_categorical_accuracy"


class TopKCategoricalAccuracy(base.CoreMetric):
    """Fraction of samples whose one-hot target is among the ``k`` largest outputs (k=5)."""

    core_name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(name=name or self.core_name, k=k)
        self.k = int(k)

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Fraction of samples whose integer label is among the ``k`` largest outputs (k=5)."""

    core_name = "sparse_top_k_categorical_accuracy"
