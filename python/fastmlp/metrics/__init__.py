"""Metrics with Keras names.

Every built-in metric is computed by the C++ core (``cpp/src/nn/metrics/``) with Keras 3's
numerics and streaming contract: in ``fit`` and ``evaluate`` the loop updates it once per batch,
and a metric object used on its own (``m.update_state(y, p); m.result()``) runs the same C++
state. Only a metric of your own (a function returning per-sample values, or a `Metric` subclass)
is computed in Python, from the batch outputs the loop then keeps. ``"accuracy"`` resolves as
Keras does: binary for one output unit, sparse categorical for a sparse loss (integer labels),
else categorical. Metrics are not weighted by ``sample_weight`` in ``fit`` (Keras's ``metrics``,
not ``weighted_metrics``); used on their own they take a ``sample_weight``.

Grouped as Keras groups them: `base` (`Metric`, `MeanMetricWrapper`), `accuracy_metrics`,
`regression_metrics` (errors, R2Score), `confusion_metrics` (the counts, Precision, Recall, AUC),
`f_score_metrics` (F1Score, FBetaScore), `probabilistic_metrics` (the cross-entropies, KL,
Poisson) and `hinge_metrics`; all of them are importable from here. A metric with one value per threshold or
class (``TruePositives(thresholds=[...])``, ``F1Score()``) logs an array, as in Keras.
``weighted_metrics`` in ``compile`` are computed with the sample weights (and class weights).

Example:
    >>> m = metrics.AUC(); m.update_state([0, 1, 1], [0.1, 0.8, 0.4]); float(m.result())
    1.0
"""

from __future__ import annotations

import typing as _typing

from fastmlp import _serialization
from fastmlp.metrics.accuracy_metrics import (
    BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from fastmlp.metrics.base import MeanMetricWrapper, Metric
from fastmlp.metrics.confusion_metrics import (AUC, FalseNegatives, FalsePositives, Precision,
                                               Recall, TrueNegatives, TruePositives)
from fastmlp.metrics.f_score_metrics import F1Score, FBetaScore
from fastmlp.metrics.hinge_metrics import (CategoricalHinge, Hinge, SquaredHinge,
                                           categorical_hinge, hinge, squared_hinge)
from fastmlp.metrics.probabilistic_metrics import (
    BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson,
    SparseCategoricalCrossentropy, binary_crossentropy, categorical_crossentropy, kl_divergence,
    poisson, sparse_categorical_crossentropy)
from fastmlp.metrics.regression_metrics import (
    CosineSimilarity, LogCoshError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredError, MeanSquaredLogarithmicError, R2Score, RootMeanSquaredError, log_cosh, mae,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
    mean_squared_logarithmic_error, mse)

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, Union

__all__ = [
    "AUC", "BinaryAccuracy", "BinaryCrossentropy", "CategoricalAccuracy",
    "CategoricalCrossentropy", "CategoricalHinge", "CosineSimilarity", "F1Score", "FBetaScore",
    "FalseNegatives", "FalsePositives", "Hinge", "KLDivergence", "LogCoshError",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanMetricWrapper", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Metric", "Poisson", "Precision", "R2Score", "Recall",
    "RootMeanSquaredError", "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy", "SquaredHinge", "TopKCategoricalAccuracy", "TrueNegatives",
    "TruePositives", "binary_accuracy", "binary_crossentropy", "categorical_accuracy",
    "categorical_crossentropy", "categorical_hinge", "deserialize", "get", "hinge",
    "kl_divergence", "log_cosh", "mae", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_error", "mean_squared_logarithmic_error", "mse", "poisson", "serialize",
    "sparse_categorical_accuracy", "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy", "squared_hinge", "top_k_categorical_accuracy",
]

_CLASSES = {c.__name__: c for c in (
    BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanAbsoluteError,
    MeanSquaredError, RootMeanSquaredError, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, AUC, Precision, Recall, TruePositives, FalsePositives,
    TrueNegatives, FalseNegatives, F1Score, FBetaScore, R2Score, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, LogCoshError, CosineSimilarity, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge,
    SquaredHinge, CategoricalHinge)}
# Keras 3's names (keras.metrics.get): the classes' snake-case names and the short ones.
_NAMES: Dict[str, Callable[[], Metric]] = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError, "rmse": RootMeanSquaredError,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "auc": AUC, "precision": Precision, "recall": Recall, "true_positives": TruePositives,
    "false_positives": FalsePositives, "true_negatives": TrueNegatives,
    "false_negatives": FalseNegatives, "f1_score": F1Score, "f_beta_score": FBetaScore,
    "r2_score": R2Score, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "log_cosh_error": LogCoshError,
    "cosine_similarity": CosineSimilarity, "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "poisson": Poisson, "hinge": Hinge,
    "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
}
# Per-sample functions that are a built-in metric's: passed to compile, the core computes them.
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy,
              mean_absolute_error: MeanAbsoluteError, mean_squared_error: MeanSquaredError,
              top_k_categorical_accuracy: TopKCategoricalAccuracy,
              sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy,
              mean_absolute_percentage_error: MeanAbsolutePercentageError,
              mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
              log_cosh: LogCoshError, binary_crossentropy: BinaryCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              kl_divergence: KLDivergence, poisson: Poisson, hinge: Hinge,
              squared_hinge: SquaredHinge, categorical_hinge: CategoricalHinge}


def _accuracy_for(loss_name: str, output_dim: int) -> str:
    """The accuracy Keras picks for "accuracy" given the loss and the output width."""
    if output_dim == 1 or loss_name == "binary_crossentropy":
        return "binary_accuracy"
    if loss_name == "sparse_categorical_crossentropy":
        return "sparse_categorical_accuracy"
    return "categorical_accuracy"


def get(identifier: Union[str, Metric, Callable], loss_name: str = "",
        output_dim: int = 0) -> Metric:
    """A metric object from a Keras name, object or per-sample function.

    The object's ``name`` is what logs and History use: the string as given for names (as Keras),
    the object's own name otherwise. "accuracy"/"acc" need ``loss_name`` and ``output_dim``.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            key = _accuracy_for(loss_name, output_dim)
        cls = _NAMES.get(key) or _CLASSES.get(identifier)
        if cls is not None:
            metric = cls()
            metric.name = identifier
            return metric
    elif callable(identifier):
        if identifier in _FUNCTIONS:  # named after the function, as Keras names it
            metric = _FUNCTIONS[identifier]()
            metric.name = identifier.__name__
            return metric
        # A user function returning per-sample values: averaged over the samples in Python.
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Unknown metric. Expected one of {sorted(_NAMES) + ['accuracy']}, a "
                     f"fastmlp.metrics object or a function. Received: {identifier!r}")


def serialize(metric: Union[str, Metric]) -> Union[str, Dict[str, Any]]:
    if isinstance(metric, str):
        return metric
    if type(metric).__name__ not in _CLASSES:
        raise ValueError(f"Metric {metric!r} cannot be saved (only fastmlp's own metrics and "
                         "names can).")
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: Union[str, Dict[str, Any]]) -> Union[str, Metric]:
    if isinstance(config, str):
        return config
    cls = _CLASSES.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"Unknown metric config: {config!r:.200}")
    return cls.from_config(_serialization.object_config(config, "metric"))
