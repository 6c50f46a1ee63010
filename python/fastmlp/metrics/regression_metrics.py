"""Regression metrics: mean absolute and squared errors and their root."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp.metrics import _utils, base

if _typing.TYPE_CHECKING:
    from typing import Any

__all__ = [
    "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "mae",
    "mean_absolute_error", "mean_squared_error", "mse",
]


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    p = _utils.as_2d(y_pred).astype(np.float64)
    return np.mean(np.abs(_utils.targets_like(y_true, p) - p), axis=-1)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    p = _utils.as_2d(y_pred).astype(np.float64)
    return np.mean((_utils.targets_like(y_true, p) - p) ** 2, axis=-1)


mae = mean_absolute_error
mse = mean_squared_error


class MeanAbsoluteError(base.MeanMetricWrapper):
    """Mean absolute error."""

    core_name = "mean_absolute_error"

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, name=name)


class MeanSquaredError(base.MeanMetricWrapper):
    """Mean squared error."""

    core_name = "mean_squared_error"

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, name=name)


class RootMeanSquaredError(base.Metric):
    """``sqrt(mean((y_true - y_pred)**2))`` over all values of the epoch."""

    _default_name = "root_mean_squared_error"

    def compute(self, y_true, y_pred, sample_weight=None) -> float:
        squares = mean_squared_error(y_true, y_pred)
        return float(np.sqrt(_utils.weighted_mean(squares, sample_weight)))
