"""The metric bases: `Metric` (Keras's stateful interface, for metrics of your own),
`MeanMetricWrapper` (a per-sample function averaged over samples) and `CoreMetric`, the base of
the built-in metrics, whose state and arithmetic live in the C++ core."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _core
from fastmlp.metrics import _utils

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

__all__ = ["CoreMetric", "LossMeanMetric", "MeanMetricWrapper", "Metric"]


class Metric:
    """Keras's metric interface: ``update_state(y_true, y_pred, sample_weight=None)``,
    ``result()``, ``reset_state()``; calling the object updates it and returns the result.

    Subclass it for a metric of your own, Keras's way (override the three methods), or override
    ``compute(y_true, y_pred, sample_weight)`` alone: the default ``update_state`` keeps the
    batches and ``result()`` calls ``compute`` on all of them. In ``fit`` and ``evaluate`` the
    model calls ``update_state`` once per batch with that batch's targets and outputs.

    ``core_name`` is the C++ metric kind that computes it (built-in metrics), None for a metric
    computed in Python.
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
        """The metric over all the rows seen (2-D arrays), for subclasses."""
        raise NotImplementedError(f"{type(self).__name__} must override `compute`, or "
                                  "`update_state` and `result`.")

    def __call__(self, y_true, y_pred, sample_weight=None) -> np.float32:
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def _runs_in_core(self) -> bool:
        """True for a built-in metric whose update and result are the core's, so the training
        loop computes it; False when Python must (the model then keeps the batch outputs)."""
        return False

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class MeanMetricWrapper(Metric):
    """A per-sample function averaged over samples, weighted by ``sample_weight`` when given
    (Keras's ``Mean``: values with more than one axis are first averaged per sample)."""

    def __init__(self, fn: Callable, name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        self._fn, self._kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"))

    def reset_state(self) -> None:
        self._total, self._count = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        values = np.asarray(self._fn(y_true, y_pred, **self._kwargs), dtype=np.float64)
        if values.ndim > 1:
            values = values.reshape(values.shape[0], -1).mean(axis=1)
        if sample_weight is None:
            self._total += float(values.sum())
            self._count += float(values.shape[0]) if values.ndim else 1.0
            return
        w = np.broadcast_to(_checks.real_array(sample_weight, "sample_weight")
                            .astype(np.float64).reshape(-1), values.shape)
        self._total += float((values * w).sum())
        self._count += float(w.sum())

    def result(self) -> np.float32:
        return np.float32(self._total / self._count if self._count else 0.0)

    def compute(self, y_true, y_pred, sample_weight=None) -> float:
        twin = MeanMetricWrapper(self._fn, self.name, **self._kwargs)
        twin.update_state(y_true, y_pred, sample_weight)
        return float(twin.result())


class CoreMetric(Metric):
    """A built-in metric: a handle on a C++ metric (``_core.Metric``) of kind ``core_name``, the
    implementation the training loop runs too. Subclasses give the kind and Keras's arguments."""

    core_name = ""

    def __init__(self, name: Optional[str] = None, dtype: Any = None, **args: Any) -> None:
        self.name = name or self._default_name
        self._args = _utils.spec_args(**args)
        self._state = _core.Metric(self.core_spec())

    def core_spec(self) -> Dict[str, Any]:
        """The spec the model compiles: kind, log name and Keras's arguments."""
        return {"kind": self.core_name, "name": self.name, **self._args}

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        real = _checks.real_array
        self._state.update_state(real(y_true, "y_true"), real(y_pred, "y_pred"),
                                 None if sample_weight is None else
                                 real(sample_weight, "sample_weight"))

    def result(self) -> Any:
        """A float32 scalar, or a float32 array with one value per threshold or class."""
        self._warn_about_result()
        value = self._state.result()
        return np.float32(value) if isinstance(value, float) else value.astype(np.float32)

    def reset_state(self) -> None:
        self._state.reset_state()

    def _warn_about_result(self) -> None:
        """Where Keras's result() warns (R2Score's adjusted score falling back), a subclass does
        too; the training loop's logs do not."""

    def _runs_in_core(self) -> bool:
        cls = type(self)
        return all(getattr(cls, m) is getattr(CoreMetric, m)
                   for m in ("update_state", "result", "reset_state", "_runs_in_core"))


class LossMeanMetric(CoreMetric):
    """A built-in metric that averages a loss function and takes no argument of its own:
    ``(name, dtype)``, in Keras's order."""

    def __init__(self, name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(name=name)
