"""Metrics from confusion counts: the counts themselves (`TruePositives`, `FalsePositives`,
`TrueNegatives`, `FalseNegatives`), `Precision` and `Recall`, at one or several thresholds, and
`AUC` (ROC), computed by the C++ core (``cpp/src/nn/metrics/confusion_metrics.cpp``). As in
Keras, a target counts as positive when it is not zero, a prediction when it exceeds the
threshold, and every value of a row is one decision (``class_id`` picks one column); integer
labels against several outputs are read as one-hot rows. With a list of thresholds the result
has one value per threshold (a single threshold gives a scalar)."""

from __future__ import annotations

import typing as _typing

from fastmlp import _checks
from fastmlp.metrics import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional, Sequence, Union

__all__ = ["AUC", "FalseNegatives", "FalsePositives", "Precision", "Recall", "TrueNegatives",
           "TruePositives"]


class _Confusion(base.CoreMetric):
    """Precision and Recall at ``thresholds`` (0.5 by default; a float or a list in [0, 1])."""

    def __init__(self, thresholds: Optional[Union[float, Sequence[float]]] = None,
                 top_k: Optional[int] = None, class_id: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        if top_k is not None:
            raise ValueError("`top_k` is not supported.")
        super().__init__(name=name, thresholds=thresholds, class_id=class_id)
        self.thresholds, self.class_id = thresholds, class_id

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "thresholds": self.thresholds, "class_id": self.class_id}


class Precision(_Confusion):
    """TP / (TP + FP) at threshold 0.5 (or ``thresholds``); 0 when nothing is predicted."""

    core_name = _default_name = "precision"


class Recall(_Confusion):
    """TP / (TP + FN) at threshold 0.5 (or ``thresholds``); 0 when there are no positives."""

    core_name = _default_name = "recall"


class _Count(base.CoreMetric):
    """A weighted confusion count at ``thresholds`` (0.5 by default; a float or a list in
    [0, 1]; ``sample_weight`` 0 masks a sample). Keras picks its bucket formula when the
    thresholds are evenly spaced over [0, 1] (at least 3), and so does fastmlp."""

    def __init__(self, thresholds: Optional[Union[float, Sequence[float]]] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(name=name, thresholds=thresholds)
        self.thresholds = thresholds

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "thresholds": self.thresholds}


class TruePositives(_Count):
    """The (weighted) number of positive targets predicted above the threshold."""

    core_name = _default_name = "true_positives"


class FalsePositives(_Count):
    """The (weighted) number of zero targets predicted above the threshold."""

    core_name = _default_name = "false_positives"


class TrueNegatives(_Count):
    """The (weighted) number of zero targets predicted at or below the threshold."""

    core_name = _default_name = "true_negatives"


class FalseNegatives(_Count):
    """The (weighted) number of positive targets predicted at or below the threshold."""

    core_name = _default_name = "false_negatives"


class AUC(base.CoreMetric):
    """Area under the ROC curve, Keras's way: counts at ``num_thresholds`` evenly spaced
    thresholds in [0, 1] (or at ``thresholds``), trapezoidal sum. Values are flattened
    (``multi_label=False``).

    Args:
        num_thresholds: > 1. Defaults to 200.
        curve: only "ROC" is supported.
        thresholds: thresholds in [0, 1] to use instead of ``num_thresholds``.
        from_logits: apply a sigmoid to predictions first. Defaults to False.
    """

    core_name = _default_name = "auc"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: Optional[str] = None,
                 dtype: Any = None, thresholds: Optional[Sequence[float]] = None,
                 multi_label: bool = False, num_labels: Optional[int] = None,
                 label_weights: Any = None, from_logits: bool = False) -> None:
        if not isinstance(curve, str) or curve.upper() != "ROC" or \
                summation_method != "interpolation" or multi_label or label_weights is not None:
            raise ValueError("Only curve='ROC', summation_method='interpolation', "
                             "multi_label=False and no label_weights are supported.")
        flag = _checks.flag("from_logits", from_logits)
        super().__init__(name=name, num_thresholds=None if thresholds is not None else
                         num_thresholds, thresholds=thresholds, from_logits=int(flag))
        self.num_thresholds = int(num_thresholds) if thresholds is None else len(thresholds) + 2
        self.from_logits, self.curve = flag, "ROC"
        self._given_thresholds = None if thresholds is None else [float(t) for t in thresholds]

    def get_config(self) -> Dict[str, Any]:
        config = {"name": self.name, "num_thresholds": self.num_thresholds,
                  "from_logits": self.from_logits}
        if self._given_thresholds is not None:
            config["thresholds"] = self._given_thresholds
        return config
