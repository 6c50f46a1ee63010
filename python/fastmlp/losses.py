"""Losses with Keras names, aliases and arguments.

In ``model.compile(loss=...)`` a loss is a description handed to the C++ core, which computes it
(and its gradient) inside the training loop. Called directly, a loss function returns the
per-sample losses and a loss object reduces them as Keras does (``reduction``, ``sample_weight``),
both from the same C++ loss the training loop runs.

Example:
    >>> model.compile(loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> losses.MeanSquaredError()(np.zeros((2, 1)), np.ones((2, 1)))
    1.0
"""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _core, _serialization

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Union

__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "CategoricalHinge", "CosineSimilarity",
    "Hinge", "Huber", "KLDivergence", "LogCosh", "Loss", "MAE", "MSE", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError", "Poisson",
    "SparseCategoricalCrossentropy", "SquaredHinge", "binary_crossentropy",
    "categorical_crossentropy", "categorical_hinge", "cosine_similarity", "deserialize", "get",
    "hinge", "huber", "kl_divergence", "log_cosh", "mae", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error",
    "mse", "poisson", "serialize", "sparse_categorical_crossentropy", "squared_hinge",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _as2d(y, name: str) -> np.ndarray:
    a = _checks.real_array(y, name)
    return a.reshape(-1, 1) if a.ndim <= 1 else a.reshape(a.shape[0], int(np.prod(a.shape[1:])))


def _values(spec: Dict[str, Any], y_true, y_pred) -> np.ndarray:
    """Per-sample losses (float32) from the C++ core, the loss the training loop runs."""
    p = _as2d(y_pred, "y_pred")
    if spec["name"] == "sparse_categorical_crossentropy":
        t = _checks.real_array(y_true, "y_true").reshape(-1)
    else:
        t = _as2d(y_true, "y_true").reshape(p.shape)
    return _core.loss_values(spec, t, p)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of squared differences."""
    return _values({"name": "mean_squared_error"}, y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of absolute differences."""
    return _values({"name": "mean_absolute_error"}, y_true, y_pred)


def huber(y_true, y_pred, delta: float = 1.0) -> np.ndarray:
    """Per-sample Huber loss: quadratic within ``delta``, linear beyond."""
    return _values({"name": "huber", "delta": delta}, y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample binary cross-entropy (mean over the last axis)."""
    return _values({"name": "binary_crossentropy", "label_smoothing": label_smoothing,
                    "from_logits": _checks.flag("from_logits", from_logits)}, y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample cross-entropy against one-hot (or soft) targets."""
    return _values({"name": "categorical_crossentropy", "label_smoothing": label_smoothing,
                    "from_logits": _checks.flag("from_logits", from_logits)}, y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    """Per-sample cross-entropy against integer labels."""
    return _values({"name": "sparse_categorical_crossentropy",
                    "from_logits": _checks.flag("from_logits", from_logits)}, y_true, y_pred)


def kl_divergence(y_true, y_pred) -> np.ndarray:
    """Per-sample ``sum(y_true * log(y_true / y_pred))``, both clipped to [epsilon, 1]."""
    return _values({"name": "kl_divergence"}, y_true, y_pred)


def poisson(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of ``y_pred - y_true * log(y_pred + epsilon)``."""
    return _values({"name": "poisson"}, y_true, y_pred)


def log_cosh(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of ``log(cosh(y_pred - y_true))``."""
    return _values({"name": "log_cosh"}, y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of ``(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2``."""
    return _values({"name": "mean_squared_logarithmic_error"}, y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))``."""
    return _values({"name": "mean_absolute_percentage_error"}, y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis: int = -1) -> np.ndarray:
    """Per-sample ``-sum(l2_normalize(y_true) * l2_normalize(y_pred))``: -1 when aligned."""
    _last_axis(axis)
    return _values({"name": "cosine_similarity"}, y_true, y_pred)


def hinge(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of ``max(1 - y_true * y_pred, 0)``; targets in {-1, 1} (a call whose
    targets are all 0 or 1 maps them to -1 and 1, as Keras does)."""
    return _values({"name": "hinge"}, y_true, y_pred)


def squared_hinge(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of ``max(1 - y_true * y_pred, 0) ** 2``; targets as `hinge`."""
    return _values({"name": "squared_hinge"}, y_true, y_pred)


def categorical_hinge(y_true, y_pred) -> np.ndarray:
    """Per-sample ``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)``."""
    return _values({"name": "categorical_hinge"}, y_true, y_pred)


def _last_axis(axis: Any) -> None:
    if axis != -1:
        raise ValueError(f"Only axis=-1 is supported. Received: axis={axis!r}")


def _reduce(values: np.ndarray, sample_weight: Any, reduction: Optional[str]):
    """Keras's reduce_weighted_values, in float32 as Keras computes it."""
    if sample_weight is not None:
        w = _checks.real_array(sample_weight, "sample_weight").astype(np.float32)
        if w.size == 1:  # Keras divides by the scalar itself under mean_with_sample_weight
            w = w.reshape(())
        elif w.size == values.size:
            w = w.reshape(values.shape)
        else:
            raise ValueError(f"`sample_weight` needs one value per sample ({values.size}) or one "
                             f"for all. Received: sample_weight of shape {np.shape(w)}")
        values = values * w
    if reduction in ("none", None) or values.shape == (0,):
        return values
    total = values.sum(dtype=np.float32)
    if reduction == "sum":
        return np.float32(total)
    divisor = values.size
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = w.sum(dtype=np.float32)
    return np.float32(total / divisor if divisor else 0.0)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


class Loss:
    """Base of loss objects: ``loss(y_true, y_pred, sample_weight=None)`` reduces like Keras."""

    _core_name = ""

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
        """The per-sample losses (float32), computed by the C++ core."""
        return _values(self._spec(), y_true, y_pred)

    def __call__(self, y_true, y_pred, sample_weight=None):
        return _reduce(self.call(y_true, y_pred), sample_weight, self.reduction)

    def _spec(self) -> Dict[str, Any]:
        return {"name": self._core_name, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "delta": self.delta}

    def to_spec(self) -> Dict[str, Any]:
        """The core's loss dict; ValueError for settings the training loop cannot run."""
        if not self._core_name or type(self).call is not Loss.call:
            raise _not_in_core(self)
        if self.reduction != "sum_over_batch_size":
            raise ValueError(f"Training supports only reduction='sum_over_batch_size' (Keras's "
                             f"default). Received: reduction={self.reduction!r}")
        return self._spec()

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Loss":
        return cls(**config)


class MeanSquaredError(Loss):
    """Mean of squared errors."""
    _core_name = "mean_squared_error"


class MeanAbsoluteError(Loss):
    """Mean of absolute errors."""
    _core_name = "mean_absolute_error"


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

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}


class _CrossEntropy(Loss):
    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Optional[str] = "sum_over_batch_size", name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction)
        _last_axis(axis)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"Received an invalid value for `label_smoothing`, expected a number"
                             f" in [0, 1]. Received: label_smoothing={label_smoothing!r}")
        self.from_logits = _checks.flag("from_logits", from_logits)
        self.label_smoothing = float(label_smoothing)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class BinaryCrossentropy(_CrossEntropy):
    """Binary cross-entropy. Args: ``from_logits``, ``label_smoothing``."""
    _core_name = "binary_crossentropy"


class CategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy against one-hot targets. Args: ``from_logits``, ``label_smoothing``."""
    _core_name = "categorical_crossentropy"


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

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


class _Keras3Loss(Loss):
    """A Keras 3 loss without arguments of its own: (reduction, name, dtype), in Keras's order."""

    def __init__(self, reduction: Optional[str] = "sum_over_batch_size",
                 name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction)


class KLDivergence(_Keras3Loss):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))`` (both clipped to
    [epsilon, 1])."""
    _core_name = "kl_divergence"


class Poisson(_Keras3Loss):
    """Poisson loss ``mean(y_pred - y_true * log(y_pred + epsilon))``."""
    _core_name = "poisson"


class LogCosh(_Keras3Loss):
    """Mean of ``log(cosh(y_pred - y_true))``: squared error near 0, absolute error far off."""
    _core_name = "log_cosh"


class MeanSquaredLogarithmicError(_Keras3Loss):
    """Mean of squared differences of ``log(max(., epsilon) + 1)``."""
    _core_name = "mean_squared_logarithmic_error"


class MeanAbsolutePercentageError(_Keras3Loss):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))``."""
    _core_name = "mean_absolute_percentage_error"


class Hinge(_Keras3Loss):
    """``mean(max(1 - y_true * y_pred, 0))``; {0, 1} targets become {-1, 1}."""
    _core_name = "hinge"


class SquaredHinge(_Keras3Loss):
    """``mean(max(1 - y_true * y_pred, 0) ** 2)``; {0, 1} targets become {-1, 1}."""
    _core_name = "squared_hinge"


class CategoricalHinge(_Keras3Loss):
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` per sample."""
    _core_name = "categorical_hinge"


class CosineSimilarity(_Keras3Loss):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred))``. Args: ``axis`` (only -1)."""
    _core_name = "cosine_similarity"

    def __init__(self, axis: int = -1, reduction: Optional[str] = "sum_over_batch_size",
                 name: Optional[str] = None, dtype: Any = None) -> None:
        _last_axis(axis)
        super().__init__(reduction=reduction, name=name)
        self.axis = axis


_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, Huber,
                                     BinaryCrossentropy, CategoricalCrossentropy,
                                     SparseCategoricalCrossentropy, KLDivergence, Poisson,
                                     LogCosh, MeanSquaredLogarithmicError,
                                     MeanAbsolutePercentageError, Hinge, SquaredHinge,
                                     CategoricalHinge, CosineSimilarity)}
# Keras 3's names (keras.losses.get): each class's function name, and the short ones.
_NAMES = {c._core_name: c for c in _CLASSES.values()}
_NAMES.update({"mse": MeanSquaredError, "mae": MeanAbsoluteError, "huber_loss": Huber,
               "bce": BinaryCrossentropy, "kld": KLDivergence,
               "msle": MeanSquaredLogarithmicError, "mape": MeanAbsolutePercentageError})
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              huber: Huber, binary_crossentropy: BinaryCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              kl_divergence: KLDivergence, poisson: Poisson, log_cosh: LogCosh,
              mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
              mean_absolute_percentage_error: MeanAbsolutePercentageError, hinge: Hinge,
              squared_hinge: SquaredHinge, categorical_hinge: CategoricalHinge,
              cosine_similarity: CosineSimilarity}
# Arguments every loss takes or that only have their default in the training loop.
_COMMON_ARGS = ("self", "reduction", "name", "dtype", "axis", "ignore_class")


def _catalogue() -> str:
    """One line per built-in loss: its names and its class with the arguments it takes."""
    import inspect
    lines = []
    for cls in _CLASSES.values():
        names = [n for n, c in _NAMES.items() if c is cls]
        params = inspect.signature(cls.__init__).parameters.values()
        args = ", ".join(f"{p.name}={p.default!r}" for p in params if p.name not in _COMMON_ARGS)
        lines.append(f"{' / '.join(repr(n) for n in names)}: {cls.__name__}({args})")
    return "; ".join(lines)


def _not_in_core(identifier: Any) -> ValueError:
    """The error for a loss the C++ training loop cannot run, with the losses it can."""
    if callable(identifier) and not isinstance(identifier, (str, type)):
        what = ("fastmlp trains in a C++ loop, which does not run Python loss functions or Loss "
                "subclasses that override `call`")
    else:
        what = "Unknown loss"
    return ValueError(f"{what}. Received: loss={identifier!r}. Use a built-in loss, by name or "
                      f"as a fastmlp.losses object (reduction='sum_over_batch_size' in "
                      f"training): {_catalogue()}")


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
    raise _not_in_core(identifier)


def serialize(loss: Loss) -> Dict[str, Any]:
    return _serialization.serialize_object(loss)


def deserialize(config: Dict[str, Any]) -> Loss:
    return _serialization.deserialize_object(config, _CLASSES, "loss")
