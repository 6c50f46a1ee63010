"""Activation layers (Keras's ``layers/activations``): `ReLU`, `LeakyReLU`, `PReLU`, `ELU`,
`Softmax`. Each is one layer of the C++ core (ReLU and LeakyReLU as its "relu" layer, which runs
the plain cases on the activation kernels)."""

from __future__ import annotations

import typing as _typing
import warnings

from fastmlp import _checks, initializers
from fastmlp.layers import _axes, base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from fastmlp.layers.base import Shape

__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]


class ReLU(base.Layer):
    """Rectified linear unit: ``x`` above ``threshold`` (capped at ``max_value``),
    ``negative_slope * (x - threshold)`` below.

    Args:
        max_value: float >= 0, the largest output; None is unlimited. Defaults to None.
        negative_slope: float >= 0, the slope below the threshold. Defaults to 0.0.
        threshold: float >= 0, below which values are damped. Defaults to 0.0.

    Example:
        >>> layers.ReLU(max_value=6.0)   # relu6
    """

    def __init__(self, max_value: Optional[float] = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_value = _checks.number("max_value", max_value, 0, optional=True)
        self.negative_slope = _checks.number("negative_slope", negative_slope, 0)
        self.threshold = _checks.number("threshold", threshold, 0)

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "relu", "negative_slope": self.negative_slope,
                "max_value": self.max_value, "threshold": self.threshold}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(base.Layer):
    """``x`` for x >= 0, ``negative_slope * x`` below.

    Args:
        negative_slope: float >= 0. Defaults to 0.3 (Keras's layer default; the
            ``leaky_relu`` activation's is 0.2). ``alpha=`` (Keras 2) is accepted with
            Keras's deprecation warning.
    """

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _checks.number("negative_slope", negative_slope, 0)

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "relu", "negative_slope": self.negative_slope}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(base.Layer):
    """Exponential linear unit: ``x`` for x > 0, ``alpha * (exp(x) - 1)`` below.

    Args:
        alpha: float, the scale of the negative part. Defaults to 1.0.
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = _checks.number("alpha", alpha)

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "elu", "alpha": self.alpha}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(base.Layer):
    """Parametric ReLU: ``x`` for x >= 0, ``alpha * x`` below, with ``alpha`` trained per
    element of the sample (shared along ``shared_axes``).

    Args:
        alpha_initializer: initializer of alpha. Defaults to "Zeros".
        alpha_regularizer, alpha_constraint: not supported (must be None).
        shared_axes: int or list of input axes (batch axis 0) along which alpha is shared,
            e.g. ``[1]`` for one alpha per feature of (batch, steps, features). Defaults to None.
    """

    def __init__(self, alpha_initializer: Any = "Zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        for arg, value in (("alpha_regularizer", alpha_regularizer),
                           ("alpha_constraint", alpha_constraint)):
            if value is not None:
                raise ValueError(f"PReLU: `{arg}` is not supported by fastmlp. "
                                 f"Received: {arg}={value!r}")
        self.shared_axes = _axes.axis_list("shared_axes", shared_axes, allow_none=True)
        self._sample: Optional[Tuple[int, ...]] = None
        self._initializer_spec: Optional[Dict[str, Any]] = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.shared_axes:
            _axes.resolve(self, "shared_axes", self.shared_axes, input_shape)
        self._sample = tuple(int(d) for d in input_shape[1:])
        return tuple(input_shape)

    def _param_shape(self, sample: Tuple[int, ...]) -> List[int]:
        shared = _axes.resolve(self, "shared_axes", self.shared_axes or [], (None, *sample))
        return [1 if axis + 1 in shared else d for axis, d in enumerate(sample)]

    def weight_shapes(self, input_shape: Shape) -> List[Tuple[int, ...]]:
        return [tuple(self._param_shape(tuple(input_shape[1:])))]

    def weight_names(self) -> List[Tuple[str, bool]]:
        return [("alpha", True)]

    def to_spec(self) -> Dict[str, Any]:
        param_shape = self._param_shape(self._sample)
        shared = {a - 1 for a in _axes.resolve(self, "shared_axes", self.shared_axes or [],
                                               (None, *self._sample))}
        if self._initializer_spec is None:  # drawn once: rebuilding keeps the initial alpha
            self._initializer_spec = self.alpha_initializer.to_spec()
        return {"type": "prelu", "sample_shape": list(self._sample),
                "param_axes": [a for a in range(len(self._sample)) if a not in shared],
                "param_shape": param_shape, "alpha_initializer": self._initializer_spec}

    def _build_spec(self) -> Dict[str, Any]:
        return self.to_spec()  # follows the input shape of each build

    @property
    def alpha(self) -> Any:
        return self.weights[0]

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": None, "alpha_constraint": None,
                "shared_axes": self.shared_axes}


class Softmax(base.Layer):
    """Softmax along ``axis``: ``exp(x - max) / sum(exp(x - max))``.

    Args:
        axis: int or list of ints, the axis or axes normalized together; they must be the
            last axes of the input (the default -1, or e.g. [-2, -1]). Defaults to -1.
    """

    def __init__(self, axis: Any = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _axes.axis_list("axis", axis)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self._group = 0

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        axes = _axes.resolve(self, "axis", _axes.axis_list("axis", self.axis), input_shape)
        self._group = _axes.trailing_group(self, "axis", axes, input_shape)
        return tuple(input_shape)

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "softmax", "group": self._group}

    def _build_spec(self) -> Dict[str, Any]:
        return self.to_spec()

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
