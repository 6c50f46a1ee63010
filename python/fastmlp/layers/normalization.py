"""Normalization layers: `BatchNormalization`."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, initializers
from fastmlp.layers import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Tuple

    from fastmlp.layers.base import Shape

__all__ = ["BatchNormalization"]


class BatchNormalization(base.Layer):
    """Normalizes features with batch statistics in training and moving averages in inference.

    Args:
        axis: must be -1 (the feature axis of a flat input). Defaults to -1.
        momentum: moving-average momentum. Defaults to 0.99.
        epsilon: added to the variance. Defaults to 1e-3.
        center: learn an offset ``beta``. Defaults to True.
        scale: learn a factor ``gamma``. Defaults to True.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: initializers (Keras defaults zeros/ones/zeros/ones).
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) \
                or axis not in (-1, 1):
            raise _checks.invalid("axis", "-1 (the feature axis)", axis)
        self.axis = -1
        self.momentum = _checks.number("momentum", momentum)
        if not 0 <= self.momentum <= 1:
            raise _checks.invalid("momentum", "a number in [0, 1]", momentum)
        self.epsilon = _checks.number("epsilon", epsilon)
        if self.epsilon <= 0:
            raise _checks.invalid("epsilon", "a positive number", epsilon)
        self.center = _checks.flag("center", center)
        self.scale = _checks.flag("scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        for arg, value in (("beta_regularizer", beta_regularizer),
                           ("gamma_regularizer", gamma_regularizer),
                           ("beta_constraint", beta_constraint),
                           ("gamma_constraint", gamma_constraint)):
            if value is not None:
                raise ValueError(f"BatchNormalization: `{arg}` is not supported. "
                                 f"Received: {arg}={value!r}")
        if synchronized:
            raise ValueError("BatchNormalization: `synchronized=True` is not supported.")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(f"BatchNormalization layer {self.name!r} expects flat inputs; add "
                             f"layers.Flatten() before it. Received input shape "
                             f"{tuple(input_shape)}")
        return tuple(input_shape)

    def weight_names(self) -> List[Tuple[str, bool]]:
        names = ([("gamma", True)] if self.scale else []) + \
                ([("beta", True)] if self.center else [])
        return names + [("moving_mean", False), ("moving_variance", False)]

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "batch_normalization", "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "gamma_initializer": self.gamma_initializer.to_spec(),
                "beta_initializer": self.beta_initializer.to_spec(),
                "moving_mean_initializer": self.moving_mean_initializer.to_spec(),
                "moving_variance_initializer": self.moving_variance_initializer.to_spec()}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": -1, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer":
                    initializers.serialize(self.moving_variance_initializer)}
