"""Hinge metrics: the means of `fastmlp.losses.hinge`, `squared_hinge` and `categorical_hinge`
over the samples, computed by the C++ core's losses (``cpp/src/nn/metrics/loss_metrics.cpp``);
as in Keras, an update whose targets are all 0 or 1 reads them as -1 and 1."""

from __future__ import annotations

from fastmlp.losses import categorical_hinge, hinge, squared_hinge
from fastmlp.metrics import base

__all__ = ["CategoricalHinge", "Hinge", "SquaredHinge", "categorical_hinge", "hinge",
           "squared_hinge"]


class Hinge(base.LossMeanMetric):
    """Mean of `fastmlp.losses.hinge` ({0, 1} targets of an update become {-1, 1})."""

    core_name = _default_name = "hinge"


class SquaredHinge(base.LossMeanMetric):
    """Mean of `fastmlp.losses.squared_hinge`."""

    core_name = _default_name = "squared_hinge"


class CategoricalHinge(base.LossMeanMetric):
    """Mean of `fastmlp.losses.categorical_hinge`."""

    core_name = _default_name = "categorical_hinge"
