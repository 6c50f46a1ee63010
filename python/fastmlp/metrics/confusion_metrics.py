"""Metrics from confusion counts: `Precision` and `Recall` at one threshold, `AUC` (ROC)."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp.metrics import _utils, base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional, Sequence

__all__ = ["AUC", "Precision", "Recall"]


class _Confusion(base.Metric):
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
        p = _utils.as_2d(y_pred).astype(np.float64)
        t = _utils.targets_like(y_true, p)
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


class AUC(base.Metric):
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
        p = _utils.as_2d(y_pred).astype(np.float64)
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        t = _utils.targets_like(y_true, p) > 0.5
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
