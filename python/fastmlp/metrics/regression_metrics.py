"""Regression metrics, computed by the C++ core: mean absolute and squared errors and their root,
`R2Score` (``cpp/src/nn/metrics/regression_metrics.cpp``), and the means of the regression losses
(MAPE, MSLE, log-cosh, cosine similarity: ``cpp/src/nn/metrics/loss_metrics.cpp``)."""

from __future__ import annotations

import typing as _typing
import warnings

import numpy as np

from fastmlp.losses import (log_cosh, mean_absolute_percentage_error,
                            mean_squared_logarithmic_error)
from fastmlp.metrics import _utils, base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = [
    "CosineSimilarity", "LogCoshError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredError", "MeanSquaredLogarithmicError", "R2Score", "RootMeanSquaredError",
    "log_cosh", "mae", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_error", "mean_squared_logarithmic_error", "mse",
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


class MeanAbsolutePercentageError(base.LossMeanMetric):
    """Mean of ``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))``."""

    core_name = _default_name = "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(base.LossMeanMetric):
    """Mean of `fastmlp.losses.mean_squared_logarithmic_error`."""

    core_name = _default_name = "mean_squared_logarithmic_error"


class LogCoshError(base.LossMeanMetric):
    """Mean of ``log(cosh(y_pred - y_true))``. Named "logcosh" by default, as in Keras."""

    core_name = "log_cosh_error"
    _default_name = "logcosh"


class CosineSimilarity(base.CoreMetric):
    """Mean of ``sum(l2_normalize(y_true) * l2_normalize(y_pred))`` (1 when aligned). Args:
    ``axis`` (only -1)."""

    core_name = _default_name = "cosine_similarity"

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None,
                 axis: int = -1) -> None:
        if axis != -1:
            raise ValueError(f"Only axis=-1 is supported. Received: axis={axis!r}")
        super().__init__(name=name)
        self.axis = axis

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "axis": self.axis}


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(base.CoreMetric):
    """The coefficient of determination, Keras's way (weighted sums per output column).

    Args:
        class_aggregation: "uniform_average" (the mean over output columns, the default),
            "variance_weighted_average" (weighted by each column's variance) or None (one score
            per column: ``result()`` is an array).
        num_regressors: the number of independent variables, for the adjusted R2 (0: plain R2;
            at least the number of values seen minus one falls back to plain R2 with a warning,
            as Keras does). Defaults to 0.
        name: Defaults to "r2_score".
    """

    core_name = "r2_score"

    def __init__(self, class_aggregation: Optional[str] = "uniform_average",
                 num_regressors: int = 0, name: str = "r2_score", dtype: Any = None) -> None:
        if not (class_aggregation is None or isinstance(class_aggregation, str)) or \
                class_aggregation not in _AGGREGATIONS:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of "
                             f"{_AGGREGATIONS}. Received: class_aggregation={class_aggregation!r}")
        if not isinstance(num_regressors, (int, np.integer)) or isinstance(num_regressors, bool) \
                or num_regressors < 0:
            raise ValueError(f"Invalid value for argument `num_regressors`. Expected a value >= 0."
                             f" Received: num_regressors={num_regressors!r}")
        super().__init__(name=name, class_aggregation=class_aggregation or "",
                         num_regressors=int(num_regressors))
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)

    def _warn_about_result(self) -> None:
        if self.num_regressors:
            seen = self._state.state[-1] if self._state.state else 0.0
            if self.num_regressors >= seen - 1:
                what = "More independent predictors than datapoints" \
                    if self.num_regressors > seen - 1 else "Division by zero"
                warnings.warn(f"{what} in adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=3)

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
