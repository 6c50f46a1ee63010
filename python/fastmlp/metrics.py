"""Metrics with Keras names.

In ``model.compile(metrics=[...])`` the accuracies, MAE and MSE are computed by the C++ core inside
the batch loop; the others (AUC, Precision, Recall, top-k accuracies, RMSE, other thresholds) are
computed vectorized in NumPy from the predictions the loop collects for the epoch. ``"accuracy"``
resolves as Keras does: binary for one output unit, sparse categorical for a sparse loss (integer
labels), else categorical. Metrics are not weighted by ``sample_weight`` in ``fit`` (Keras's
``metrics``, not ``weighted_metrics``).

Standalone, a metric object has Keras's stateful interface (``update_state``, ``result``,
``reset_state``) and metric functions return per-sample values.

Example:
    >>> m = metrics.AUC(); m.update_state([0, 1, 1], [0.1, 0.8, 0.4]); float(m.result())
    1.0
"""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _serialization

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Union

__all__ = [
    "AUC", "BinaryAccuracy", "CategoricalAccuracy", "MeanAbsoluteError", "MeanMetricWrapper",
    "MeanSquaredError", "Metric", "Precision", "Recall", "RootMeanSquaredError",
    "SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy",
    "binary_accuracy", "categorical_accuracy", "deserialize", "get", "mae",
    "mean_absolute_error", "mean_squared_error", "mse", "serialize",
    "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]


def _2d(a, name: str = "y") -> np.ndarray:
    a = _checks.real_array(a, name)
    return a.reshape(-1, 1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)


def _targets_like(y_true, p: np.ndarray) -> np.ndarray:
    """Targets shaped like the predictions ``p``; integer labels become one-hot."""
    t = _2d(y_true)
    if t.shape[1] == 1 and p.shape[1] > 1:
        onehot = np.zeros(p.shape, dtype=np.float64)
        onehot[np.arange(len(t)), t[:, 0].astype(np.int64)] = 1.0
        return onehot
    return t.reshape(p.shape)


# ---- per-sample functions (Keras's metric functions) -------------------------------------------
def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    p = _2d(y_pred).astype(np.float32)
    t = _2d(y_true).reshape(p.shape)
    return np.mean((p > threshold) == (t > 0.5), axis=-1, dtype=np.float64)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    return (np.argmax(_2d(y_true), -1) == np.argmax(_2d(y_pred), -1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    labels = _checks.real_array(y_true, "y_true").reshape(-1)
    return (labels.astype(np.int64) == np.argmax(_2d(y_pred), -1)).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    p = _2d(y_pred).astype(np.float32)
    labels = _checks.real_array(y_true, "y_true").reshape(-1).astype(np.int64)
    if k >= p.shape[1]:
        return np.ones(len(labels))
    target = p[np.arange(len(labels)), labels]
    # In the top k when fewer than k scores are strictly larger (ties favour the target).
    return ((p > target[:, None]).sum(axis=1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    return sparse_top_k_categorical_accuracy(np.argmax(_2d(y_true), -1), y_pred, k)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    p = _2d(y_pred).astype(np.float64)
    return np.mean(np.abs(_targets_like(y_true, p) - p), axis=-1)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    p = _2d(y_pred).astype(np.float64)
    return np.mean((_targets_like(y_true, p) - p) ** 2, axis=-1)


mae = mean_absolute_error
mse = mean_squared_error


# ---- metric objects ----------------------------------------------------------------------------
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
        t = np.concatenate([_2d(b[0]) for b in self._batches])
        p = np.concatenate([_2d(b[1]) for b in self._batches])
        ws = [b[2] for b in self._batches]
        w = None if all(x is None for x in ws) else np.concatenate(
            [np.ones(len(_2d(b[1]))) if b[2] is None else b[2].reshape(-1)
             for b in self._batches])
        return np.float32(self.compute(t, p, w))

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray,
                sample_weight: Optional[np.ndarray] = None) -> float:
        """The metric over whole arrays (what the model calls once per epoch)."""
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> np.float32:
        return np.float32(self.compute(_2d(y_true), _2d(y_pred), sample_weight))

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _weighted_mean(values: np.ndarray, w: Optional[np.ndarray]) -> float:
    if w is None:
        return float(values.mean()) if values.size else 0.0
    w = _checks.real_array(w, "sample_weight").astype(np.float64).reshape(-1)
    return float((values * w).sum() / w.sum()) if w.sum() else 0.0


class MeanMetricWrapper(Metric):
    """A per-sample function averaged over samples (optionally weighted)."""

    def __init__(self, fn: Callable, name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        self._fn, self._kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"))

    def compute(self, y_true, y_pred, sample_weight=None) -> float:
        return _weighted_mean(np.asarray(self._fn(y_true, y_pred, **self._kwargs),
                                         dtype=np.float64).reshape(-1), sample_weight)


class BinaryAccuracy(MeanMetricWrapper):
    """Fraction of ``(y_pred > threshold) == y_true``. Defaults to threshold 0.5."""

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None,
                 threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name=name, threshold=threshold)
        self.threshold = float(threshold)
        self.core_name = "binary_accuracy" if self.threshold == 0.5 else None

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "threshold": self.threshold}


def _wrapper(fn: Callable, core: Optional[str], doc: str):
    class _M(MeanMetricWrapper):
        __doc__ = doc
        core_name = core

        def __init__(self, name: str = fn.__name__, dtype: Any = None) -> None:
            super().__init__(fn, name=name)
    return _M


CategoricalAccuracy = _wrapper(categorical_accuracy, "categorical_accuracy",
                               "Fraction of samples whose argmax matches the one-hot target.")
SparseCategoricalAccuracy = _wrapper(sparse_categorical_accuracy, "sparse_categorical_accuracy",
                                     "Fraction of samples whose argmax equals the label.")
MeanAbsoluteError = _wrapper(mean_absolute_error, "mean_absolute_error",
                             "Mean absolute error.")
MeanSquaredError = _wrapper(mean_squared_error, "mean_squared_error", "Mean squared error.")
for _name, _cls in (("CategoricalAccuracy", CategoricalAccuracy),
                    ("SparseCategoricalAccuracy", SparseCategoricalAccuracy),
                    ("MeanAbsoluteError", MeanAbsoluteError),
                    ("MeanSquaredError", MeanSquaredError)):
    _cls.__name__ = _cls.__qualname__ = _name


class TopKCategoricalAccuracy(MeanMetricWrapper):
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


class RootMeanSquaredError(Metric):
    """``sqrt(mean((y_true - y_pred)**2))`` over all values of the epoch."""

    _default_name = "root_mean_squared_error"

    def compute(self, y_true, y_pred, sample_weight=None) -> float:
        return float(np.sqrt(_weighted_mean(mean_squared_error(y_true, y_pred), sample_weight)))


class _Confusion(Metric):
    """Counts at a decision threshold over all values, flattened (Keras's default)."""

    def __init__(self, thresholds: Optional[float] = None, top_k: Optional[int] = None,
                 class_id: Optional[int] = None, name: Optional[str] = None,
                 dtype: Any = None) -> None:
        if top_k is not None:
            raise ValueError("`top_k` is not supported.")
        if thresholds is not None and not np.isscalar(thresholds):
            raise ValueError(f"Only one threshold is supported. Received: thresholds="
                             f"{thresholds!r}")
        self.thresholds, self.class_id = thresholds, class_id
        super().__init__(name=name)

    def _counts(self, y_true, y_pred, w):
        p = _2d(y_pred).astype(np.float64)
        t = _targets_like(y_true, p)
        if self.class_id is not None:
            p, t = p[:, self.class_id:self.class_id + 1], t[:, self.class_id:self.class_id + 1]
        w = np.ones(p.shape[0]) if w is None else np.asarray(w, np.float64).reshape(-1)
        w = np.broadcast_to(w[:, None], p.shape)
        pos, pred = t > 0.5, p > (0.5 if self.thresholds is None else self.thresholds)
        return (w * (pos & pred)).sum(), (w * (~pos & pred)).sum(), (w * (pos & ~pred)).sum()

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "thresholds": self.thresholds, "class_id": self.class_id}


class Precision(_Confusion):
    """TP / (TP + FP) at threshold 0.5 (or ``thresholds``); 0 when nothing is predicted."""

    _default_name = "precision"

    def compute(self, y_true, y_pred, sample_weight=None) -> float:
        tp, fp, _ = self._counts(y_true, y_pred, sample_weight)
        return float(tp / (tp + fp)) if tp + fp else 0.0


class Recall(_Confusion):
    """TP / (TP + FN) at threshold 0.5 (or ``thresholds``); 0 when there are no positives."""

    _default_name = "recall"

    def compute(self, y_true, y_pred, sample_weight=None) -> float:
        tp, _, fn = self._counts(y_true, y_pred, sample_weight)
        return float(tp / (tp + fn)) if tp + fn else 0.0


class AUC(Metric):
    """Area under the ROC curve, Keras's way: counts at ``num_thresholds`` evenly spaced
    thresholds in [0, 1], trapezoidal sum. Values are flattened (``multi_label=False``).

    Args:
        num_thresholds: > 1. Defaults to 200.
        curve: only "ROC" is supported.
        from_logits: apply a sigmoid to predictions first. Defaults to False.
    """

    _default_name = "auc"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: Optional[str] = None,
                 dtype: Any = None, thresholds: Optional[Sequence[float]] = None,
                 multi_label: bool = False, num_labels: Optional[int] = None,
                 label_weights: Any = None, from_logits: bool = False) -> None:
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) \
                or num_thresholds <= 1:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 1. Received: "
                             f"num_thresholds={num_thresholds!r}")
        if curve.upper() != "ROC" or summation_method != "interpolation" or multi_label \
                or label_weights is not None:
            raise ValueError("Only curve='ROC', summation_method='interpolation', "
                             "multi_label=False and no label_weights are supported.")
        self.num_thresholds, self.from_logits, self.curve = num_thresholds, from_logits, "ROC"
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._thresholds = np.array([-1e-7] + (list(thresholds) if thresholds is not None
                                              else inner) + [1 + 1e-7])
        super().__init__(name=name)

    def compute(self, y_true, y_pred, sample_weight=None) -> float:
        p = _2d(y_pred).astype(np.float64)
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        t = _targets_like(y_true, p) > 0.5
        w = np.ones(p.shape[0]) if sample_weight is None else \
            np.asarray(sample_weight, np.float64).reshape(-1)
        w = np.broadcast_to(w[:, None], p.shape).reshape(-1)
        p, t = p.reshape(-1), t.reshape(-1)
        # Weighted count of values above each threshold, for positives and negatives.
        tp = self._above(p[t], w[t])
        fp = self._above(p[~t], w[~t])
        pos, neg = w[t].sum(), w[~t].sum()
        tpr = tp / pos if pos else np.zeros_like(tp)
        fpr = fp / neg if neg else np.zeros_like(fp)
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))

    def _above(self, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
        order = np.argsort(values, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(weights[order])])
        idx = np.searchsorted(values[order], self._thresholds, side="right")
        return cum[-1] - cum[idx]

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "num_thresholds": self.num_thresholds,
                "from_logits": self.from_logits}


_CLASSES = {c.__name__: c for c in (BinaryAccuracy, CategoricalAccuracy,
                                     SparseCategoricalAccuracy, MeanAbsoluteError,
                                     MeanSquaredError, RootMeanSquaredError,
                                     TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
                                     AUC, Precision, Recall)}
_NAMES: Dict[str, Callable[[], Metric]] = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError, "rmse": RootMeanSquaredError,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "auc": AUC, "precision": Precision, "recall": Recall,
}
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy,
              mean_absolute_error: MeanAbsoluteError, mean_squared_error: MeanSquaredError,
              top_k_categorical_accuracy: TopKCategoricalAccuracy,
              sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy}


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
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]()
        # A user function returning per-sample values: averaged over the epoch in NumPy.
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
