"""Regression metrics: mean absolute and squared errors and their root, computed by the C++ core
(``cpp/src/nn/metrics/regression_metrics.cpp``)."""

from __future__ import annotations

import numpy as np

from fastmlp.metrics import _utils, base

__all__ = [
    "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "mae",
    "mean_absolute_error", "mean_squared_error", "mse",
]


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per sample, the mean of ``|y_true - y_pred|``."""
    return _utils.core_values("mean_absolute_error", y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per sample, the mean of ``(y_true - y_pred) ** 2``."""
    return _utils.core_values("mean_squared_error", y_true, y_pred)


mae = mean_absolute_error
mse = mean_squared_error


class MeanAbsoluteError(base.CoreMetric):
    """Mean absolute error."""

    core_name = _default_name = "mean_absolute_error"


class MeanSquaredError(base.CoreMetric):
    """Mean squared error."""

    core_name = _default_name = "mean_squared_error"


class RootMeanSquaredError(base.CoreMetric):
    """``sqrt(mean((y_true - y_pred)**2))`` over all values seen."""

    core_name = _default_name = "root_mean_squared_error"
