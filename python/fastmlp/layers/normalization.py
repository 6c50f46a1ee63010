"""Normalization layers: `BatchNormalization`, `LayerNormalization`."""

from __future__ import annotations

import typing as _typing
import warnings

import numpy as np

from fastmlp import _checks, initializers
from fastmlp.layers import _axes, base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from fastmlp.layers.base import Shape

__all__ = ["BatchNormalization", "LayerNormalization"]


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


class LayerNormalization(base.Layer):
    """Normalizes each sample by its own mean and variance along ``axis``, then scales by
    ``gamma`` and shifts by ``beta`` (trained, one per position along those axes).

    Args:
        axis: int or list of ints, the axes normalized together; they must be the last axes
            of the input (the default -1, or e.g. [-2, -1]). Defaults to -1.
        epsilon: added to the variance. Defaults to 1e-3.
        center: learn ``beta``. Defaults to True.
        scale: learn ``gamma``. Defaults to True.
        beta_initializer, gamma_initializer: Defaults to "zeros" / "ones".
        rms_scaling: Keras's deprecated ``x * rsqrt(variance + epsilon) * gamma`` (with
            Keras's warning). Defaults to False.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: not
            supported (must be None).

    Example:
        >>> layers.LayerNormalization(epsilon=1e-6)
    """

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, rms_scaling: bool = False,
                 **kwargs: Any) -> None:
        rms_scaling = _checks.flag("rms_scaling", rms_scaling)
        if rms_scaling:
            warnings.warn("You passed `rms_scaling=True`, which is deprecated. This argument "
                          "incorrectly scales the input by the variance, not the root mean "
                          "square. To correctly use RMS Normalization, please use "
                          "`keras.layers.RMSNormalization` instead.", stacklevel=2)
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            _axes.axis_list("axis", axis)
            self.axis: Any = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_)):
            self.axis = int(axis)
        else:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', "
                            f"but received: {axis!r}")
        self.epsilon = _checks.number("epsilon", epsilon, 0)
        self.center = _checks.flag("center", center)
        self.scale = _checks.flag("scale", scale)
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        for arg, value in (("beta_regularizer", beta_regularizer),
                           ("gamma_regularizer", gamma_regularizer),
                           ("beta_constraint", beta_constraint),
                           ("gamma_constraint", gamma_constraint)):
            if value is not None:
                raise ValueError(f"LayerNormalization: `{arg}` is not supported by fastmlp. "
                                 f"Received: {arg}={value!r}")
        self._param_shape: Optional[List[int]] = None
        self._initializer_specs: Optional[Dict[str, Any]] = None

    def _axes(self) -> List[int]:
        return _axes.axis_list("axis", self.axis)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        axes = _axes.resolve(self, "axis", self._axes(), input_shape)
        _axes.trailing_group(self, "axis", axes, input_shape)
        self._param_shape = [int(input_shape[a]) for a in axes]
        return tuple(input_shape)

    def weight_shapes(self, input_shape: Shape) -> List[Tuple[int, ...]]:
        self.compute_output_shape(input_shape)
        return [tuple(self._param_shape)] * len(self.weight_names())

    def weight_names(self) -> List[Tuple[str, bool]]:
        return ([("gamma", True)] if self.scale or self.rms_scaling else []) + \
               ([("beta", True)] if self.center and not self.rms_scaling else [])

    def to_spec(self) -> Dict[str, Any]:
        if self._initializer_specs is None:  # drawn once: rebuilding keeps the initial values
            self._initializer_specs = {"gamma_initializer": self.gamma_initializer.to_spec(),
                                       "beta_initializer": self.beta_initializer.to_spec()}
        return {"type": "layer_normalization", "group": int(np.prod(self._param_shape)),
                "param_shape": list(self._param_shape), "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                **self._initializer_specs}

    def _build_spec(self) -> Dict[str, Any]:
        return self.to_spec()  # follows the input shape of each build

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                "gamma_constraint": None}
