"""Probabilistic metrics: the cross-entropies, `KLDivergence` and `Poisson`, each the mean of the
C++ core's loss of the same name over the samples (``cpp/src/nn/metrics/loss_metrics.cpp``), as
Keras's `MeanMetricWrapper` averages its loss function, weighted by ``sample_weight`` when given.
The per-sample functions are `fastmlp.losses`'s, as in Keras
(``keras.metrics.binary_crossentropy is keras.losses.binary_crossentropy``)."""

from __future__ import annotations

import typing as _typing

from fastmlp import _checks
from fastmlp.losses import (binary_crossentropy, categorical_crossentropy, kl_divergence, poisson,
                            sparse_categorical_crossentropy)
from fastmlp.metrics import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "KLDivergence", "Poisson",
    "SparseCategoricalCrossentropy", "binary_crossentropy", "categorical_crossentropy",
    "kl_divergence", "poisson", "sparse_categorical_crossentropy",
]


class KLDivergence(base.LossMeanMetric):
    """Mean of ``sum(y_true * log(y_true / y_pred))`` (both clipped to [epsilon, 1])."""

    core_name = _default_name = "kl_divergence"


class Poisson(base.LossMeanMetric):
    """Mean of ``mean(y_pred - y_true * log(y_pred + epsilon))``."""

    core_name = _default_name = "poisson"


def _axis(axis: Any) -> None:
    if axis != -1:
        raise ValueError(f"Only axis=-1 is supported. Received: axis={axis!r}")


class BinaryCrossentropy(base.CoreMetric):
    """Mean binary cross-entropy. Args: ``from_logits`` (False), ``label_smoothing`` (0)."""

    core_name = _default_name = "binary_crossentropy"

    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0) -> None:
        self.from_logits = _checks.flag("from_logits", from_logits)
        super().__init__(name=name, from_logits=int(self.from_logits),
                         label_smoothing=label_smoothing)
        self.label_smoothing = label_smoothing

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(BinaryCrossentropy):
    """Mean cross-entropy against one-hot (or soft) targets. Args: ``from_logits`` (False),
    ``label_smoothing`` (0), ``axis`` (only -1)."""

    core_name = _default_name = "categorical_crossentropy"

    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0, axis: int = -1) -> None:
        _axis(axis)
        super().__init__(name=name, from_logits=from_logits, label_smoothing=label_smoothing)
        self.axis = axis

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class SparseCategoricalCrossentropy(base.CoreMetric):
    """Mean cross-entropy against integer labels. Args: ``from_logits`` (False);
    ``ignore_class`` (only None) and ``axis`` (only -1)."""

    core_name = _default_name = "sparse_categorical_crossentropy"

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, ignore_class: Optional[int] = None,
                 axis: int = -1) -> None:
        if ignore_class is not None:
            raise ValueError(f"`ignore_class` is not supported. Received: "
                             f"ignore_class={ignore_class!r}")
        _axis(axis)
        self.from_logits = _checks.flag("from_logits", from_logits)
        super().__init__(name=name, from_logits=int(self.from_logits))
        self.ignore_class, self.axis = ignore_class, axis

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}
