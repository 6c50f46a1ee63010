"""Losses with Keras names, aliases and arguments.

In ``model.compile(loss=...)`` a loss is a description handed to the C++ core, which computes it
(and its gradient) inside the training loop. Called directly, a loss object or function evaluates
on NumPy arrays with the same definitions (float64 NumPy), which is handy for checking results.

Example:
    >>> model.compile(loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> losses.MeanSquaredError()(np.zeros((2, 1)), np.ones((2, 1)))
    1.0
"""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _serialization

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Union

__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "Huber", "Loss", "MAE", "MSE",
    "MeanAbsoluteError", "MeanSquaredError", "SparseCategoricalCrossentropy", "binary_crossentropy",
    "categorical_crossentropy", "deserialize", "get", "huber", "mae", "mean_absolute_error",
    "mean_squared_error", "mse", "serialize", "sparse_categorical_crossentropy",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "none", None)
_EPS = 1e-7  # Keras's backend epsilon, used to clip probabilities


def _as2d(y, name: str) -> np.ndarray:
    a = _checks.real_array(y, name).astype(np.float64, copy=False)
    return a.reshape(-1, 1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of squared differences."""
    p = _as2d(y_pred, "y_pred")
    return np.mean((_as2d(y_true, "y_true").reshape(p.shape) - p) ** 2, axis=-1)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of absolute differences."""
    p = _as2d(y_pred, "y_pred")
    return np.mean(np.abs(_as2d(y_true, "y_true").reshape(p.shape) - p), axis=-1)


def huber(y_true, y_pred, delta: float = 1.0) -> np.ndarray:
    """Per-sample Huber loss: quadratic within ``delta``, linear beyond."""
    p = _as2d(y_pred, "y_pred")
    err = np.abs(_as2d(y_true, "y_true").reshape(p.shape) - p)
    quad = np.minimum(err, delta)
    return np.mean(0.5 * quad ** 2 + delta * (err - quad), axis=-1)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def binary_crossentropy(y_true, y_pred, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample binary cross-entropy (mean over the last axis)."""
    p = _as2d(y_pred, "y_pred")
    t = _as2d(y_true, "y_true").reshape(p.shape)
    t = t * (1 - label_smoothing) + 0.5 * label_smoothing
    if _checks.flag("from_logits", from_logits):
        # the stable form: max(z, 0) - z*t + log(1 + exp(-|z|))
        ce = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
    else:
        q = np.clip(p, _EPS, 1 - _EPS)
        ce = -(t * np.log(q) + (1 - t) * np.log(1 - q))
    return ce.mean(axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample cross-entropy against one-hot (or soft) targets."""
    p = _as2d(y_pred, "y_pred")
    t = _as2d(y_true, "y_true").reshape(p.shape)
    t = t * (1 - label_smoothing) + label_smoothing / p.shape[-1]
    if _checks.flag("from_logits", from_logits):
        logp = _log_softmax(p)
    else:
        q = p / p.sum(axis=-1, keepdims=True)
        logp = np.log(np.clip(q, _EPS, 1 - _EPS))
    return -(t * logp).sum(axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    """Per-sample cross-entropy against integer labels."""
    p = _as2d(y_pred, "y_pred")
    labels = _checks.real_array(y_true, "y_true").reshape(-1).astype(np.int64)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(labels)), labels] = 1.0
    return categorical_crossentropy(onehot, p, from_logits=from_logits)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


class Loss:
    """Base of loss objects: ``loss(y_true, y_pred, sample_weight=None)`` reduces like Keras."""

    _core_name = ""
    _fn: Callable = staticmethod(mean_squared_error)

    def __init__(self, name: Optional[str] = None,
                 reduction: Optional[str] = "sum_over_batch_size", dtype: Any = None) -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{_REDUCTIONS}. Received: reduction={reduction!r}")
        self.name = name or self._core_name
        self.reduction = reduction
        self.from_logits = False
        self.label_smoothing = 0.0
        self.delta = 1.0

    def call(self, y_true, y_pred) -> np.ndarray:
        return type(self)._fn(y_true, y_pred)

    def __call__(self, y_true, y_pred, sample_weight=None):
        per_sample = self.call(y_true, y_pred)
        if sample_weight is not None:
            weights = _checks.real_array(sample_weight, "sample_weight")
            per_sample = per_sample * weights.reshape(-1)
        if self.reduction in ("none", None):
            return per_sample.astype(np.float32)
        total = per_sample.sum()
        if self.reduction == "sum":
            return np.float32(total)
        return np.float32(total / max(per_sample.size, 1))

    def to_spec(self) -> Dict[str, Any]:
        """The core's loss dict; ValueError for settings the training loop cannot run."""
        if self.reduction != "sum_over_batch_size":
            raise ValueError(f"Training supports only reduction='sum_over_batch_size' (Keras's "
                             f"default). Received: reduction={self.reduction!r}")
        return {"name": self._core_name, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "delta": self.delta}

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Loss":
        return cls(**config)


class MeanSquaredError(Loss):
    """Mean of squared errors."""
    _core_name = "mean_squared_error"
    _fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(Loss):
    """Mean of absolute errors."""
    _core_name = "mean_absolute_error"
    _fn = staticmethod(mean_absolute_error)


class Huber(Loss):
    """Huber loss. Args: ``delta`` (defaults to 1.0)."""
    _core_name = "huber"

    def __init__(self, delta: float = 1.0, reduction: Optional[str] = "sum_over_batch_size",
                 name: str = "huber_loss", dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction)
        if not delta > 0:
            raise ValueError(f"Received an invalid value for `delta`, expected a positive number."
                             f" Received: delta={delta!r}")
        self.delta = float(delta)

    def call(self, y_true, y_pred) -> np.ndarray:
        return huber(y_true, y_pred, self.delta)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}


class _CrossEntropy(Loss):
    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Optional[str] = "sum_over_batch_size", name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction)
        if axis != -1:
            raise ValueError(f"Only axis=-1 is supported. Received: axis={axis!r}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"Received an invalid value for `label_smoothing`, expected a number"
                             f" in [0, 1]. Received: label_smoothing={label_smoothing!r}")
        self.from_logits = _checks.flag("from_logits", from_logits)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred) -> np.ndarray:
        return type(self)._fn(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class BinaryCrossentropy(_CrossEntropy):
    """Binary cross-entropy. Args: ``from_logits``, ``label_smoothing``."""
    _core_name = "binary_crossentropy"
    _fn = staticmethod(binary_crossentropy)


class CategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy against one-hot targets. Args: ``from_logits``, ``label_smoothing``."""
    _core_name = "categorical_crossentropy"
    _fn = staticmethod(categorical_crossentropy)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy against integer labels. Args: ``from_logits``."""
    _core_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False, ignore_class: Optional[int] = None,
                 reduction: Optional[str] = "sum_over_batch_size", name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction)
        if ignore_class is not None:
            raise ValueError("`ignore_class` is not supported.")
        self.from_logits = _checks.flag("from_logits", from_logits)

    def call(self, y_true, y_pred) -> np.ndarray:
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, Huber,
                                     BinaryCrossentropy, CategoricalCrossentropy,
                                     SparseCategoricalCrossentropy)}
_NAMES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber, "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              huber: Huber, binary_crossentropy: BinaryCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy}


def get(identifier: Union[str, Loss, Callable, Dict[str, Any]]) -> Loss:
    """A loss object from a Keras name or alias, a loss function, an object or a config."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is not None:
            return cls()
    elif callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    raise ValueError(f"Unknown loss (custom losses cannot run in the C++ training loop). Expected"
                     f" one of {sorted(_NAMES)} or a fastmlp.losses object. "
                     f"Received: loss={identifier!r}")


def serialize(loss: Loss) -> Dict[str, Any]:
    return _serialization.serialize_object(loss)


def deserialize(config: Dict[str, Any]) -> Loss:
    return _serialization.deserialize_object(config, _CLASSES, "loss")
