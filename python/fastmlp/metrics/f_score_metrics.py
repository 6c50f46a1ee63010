"""`FBetaScore` and `F1Score`, computed by the C++ core
(``cpp/src/nn/metrics/f_score_metrics.cpp``) from per-class weighted counts, with Keras 3's
arguments, checks and formula (its epsilons included).

Example:
    >>> m = metrics.F1Score(average="macro", threshold=0.5)
    >>> m.update_state([[1, 0], [0, 1]], [[0.9, 0.2], [0.6, 0.7]]); float(m.result())
    0.8333...
"""

from __future__ import annotations

import typing as _typing

from fastmlp.metrics import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["F1Score", "FBetaScore"]

_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(base.CoreMetric):
    """``(1 + beta^2) * precision * recall / (beta^2 * precision + recall)`` per class.

    Args:
        average: None (one score per class: ``result()`` is an array), "micro" (from the counts
            pooled over classes), "macro" (the mean of the scores) or "weighted" (weighted by
            each class's target sum). Defaults to None.
        beta: a float > 0, the weight of recall. Defaults to 1.0.
        threshold: a float in (0, 1]: predictions above it are positive. None (the default):
            each row's largest prediction (when not ~0) is its positive one.
        name: Defaults to "fbeta_score".
    """

    core_name = "fbeta_score"

    def __init__(self, average: Optional[str] = None, beta: float = 1.0,
                 threshold: Optional[float] = None, name: str = "fbeta_score",
                 dtype: Any = None) -> None:
        _check_average(average)
        if not isinstance(beta, float):
            raise ValueError(f"Invalid `beta` argument value. It should be a Python float. "
                             f"Received: beta={beta!r} of type '{type(beta)}'")
        if not beta > 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. "
                             f"Received: beta={beta!r}")
        _check_threshold(threshold)
        super().__init__(name=name, **self._core_args(average, beta, threshold))
        self.average, self.beta, self.threshold = average, beta, threshold

    def _core_args(self, average: Optional[str], beta: float,
                   threshold: Optional[float]) -> Dict[str, Any]:
        return {"average": average, "beta": beta, "threshold": threshold}

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The harmonic mean of precision and recall per class: `FBetaScore` with beta 1.

    Args:
        average: None, "micro", "macro" or "weighted", as `FBetaScore`. Defaults to None.
        threshold: a float in (0, 1], or None (each row's largest prediction). Defaults to None.
        name: Defaults to "f1_score".
    """

    core_name = "f1_score"

    def __init__(self, average: Optional[str] = None, threshold: Optional[float] = None,
                 name: str = "f1_score", dtype: Any = None) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name)

    def _core_args(self, average: Optional[str], beta: float,
                   threshold: Optional[float]) -> Dict[str, Any]:
        return {"average": average, "threshold": threshold}

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


def _check_average(average: Any) -> None:
    if not (average is None or isinstance(average, str)) or average not in _AVERAGES:
        raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', "
                         f"'macro', 'weighted'}}. Received: average={average!r}")


def _check_threshold(threshold: Any) -> None:
    if threshold is None:
        return
    if not isinstance(threshold, float):
        raise ValueError(f"Invalid `threshold` argument value. It should be a Python float. "
                         f"Received: threshold={threshold!r} of type '{type(threshold)}'")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"Invalid `threshold` argument value. It should verify 0 < threshold "
                         f"<= 1. Received: threshold={threshold!r}")
