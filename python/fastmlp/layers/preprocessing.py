"""Preprocessing layers: `Rescaling` (fused into the input conversion when first) and
`Normalization` (with `adapt`)."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks
from fastmlp.layers import _axes, base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

    from fastmlp.layers.base import Shape

__all__ = ["Normalization", "Rescaling"]


class Rescaling(base.Layer):
    """``inputs * scale + offset``; as the first layer, fused into the input conversion.

    Args:
        scale: the factor, e.g. ``1 / 255``.
        offset: added after scaling. Defaults to 0.0.
    """

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = _checks.number("scale", scale)
        self.offset = _checks.number("offset", offset)

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "rescaling", "scale": self.scale, "offset": self.offset}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class _Statistic(np.ndarray):
    """A copy of a statistic that also answers Keras's ``Variable.numpy()`` (code such as the
    TensorFlow tutorials reads ``normalizer.mean.numpy()``)."""

    def numpy(self) -> np.ndarray:
        return np.array(self)


class Normalization(base.Layer):
    """Shifts and scales inputs to mean 0 and variance 1 with a mean and variance per position
    of ``axis``: ``(x - mean) / sqrt(variance)`` (the square root floored at 1e-7).

    The statistics come from ``adapt(data)`` (before or after the layer joins a model) or from
    ``mean`` and ``variance``. adapt computes them as Keras does: NumPy's mean and (biased)
    variance of an array, or, for an iterable of batches, Keras's running combination of each
    batch's float32 mean and variance.

    Args:
        axis: int, tuple of ints or None: the input axes (batch axis 0) with a separate mean
            and variance each; None for one scalar mean and variance. Defaults to -1.
        mean, variance: the statistics, broadcast to the kept axes; both or neither.
        invert: apply the inverse, ``mean + x * sqrt(variance)``. Defaults to False.

    Example:
        >>> norm = layers.Normalization()
        >>> norm.adapt(x_train)
        >>> model = fastmlp.Sequential([layers.Input((8,)), norm, layers.Dense(1)])
    """

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = tuple(_axes.axis_list("axis", axis, allow_none=True) or ())
        self.invert = _checks.flag("invert", invert)
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be "
                             f"set. Received: mean={mean} and variance={variance}")
        self.input_mean = self.input_variance = None
        if mean is not None:
            m = _checks.real_array(mean, "mean").astype(np.float64)
            v = _checks.real_array(variance, "variance").astype(np.float64)
            if m.shape != v.shape:
                raise ValueError("When setting values directly, `mean` and `variance` must "
                                 f"have the same shape. Received: mean shape {m.shape} and "
                                 f"variance shape {v.shape}")
            if m.ndim > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number "
                                 f"of axes ({len(self.axis)}). Received: mean shape {m.shape} "
                                 f"for axis {self.axis}")
            self.input_mean, self.input_variance = mean, variance
            self._given = (m, v)
        self._keep: Optional[Tuple[int, ...]] = None   # kept axes of the built input shape
        self._shape: Optional[Tuple[Optional[int], ...]] = None
        self._adapted: Optional[Tuple[np.ndarray, np.ndarray]] = None

    # ---- shapes ---------------------------------------------------------------------------
    def _build_shape(self, shape: Sequence[Optional[int]], what: str) -> Tuple[int, ...]:
        """Checks ``axis`` against ``shape`` (batch axis first); returns the kept axes."""
        ndim = len(shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received "
                             f"{what} with ndim={ndim}, while axis={self.axis}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        if 0 in keep:
            raise ValueError(f"Normalization layer {self.name!r}: axis={self.axis} keeps the "
                             f"batch axis of {what} of shape {tuple(shape)}; use axis=None for "
                             "one mean and variance, or data of shape (samples, features...).")
        # The statistics a built or adapted layer holds fix the kept axes' shape.
        expected = self._kept_shape() if self.built else \
            (None if self._adapted is None else self._adapted[0].shape)
        if expected is not None and (tuple(shape[d] for d in keep) != expected or
                                     (self.built and len(shape) != len(self._shape))):
            raise ValueError(f"Normalization layer {self.name!r} was built for inputs of shape "
                             f"{self._shape} (statistics of shape {expected} for "
                             f"axis={self.axis}), but {what} has the incompatible shape "
                             f"{tuple(shape)}")
        return keep

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        keep = self._build_shape(input_shape, "inputs")
        self._keep, self._shape = keep, (None, *input_shape[1:])
        return tuple(input_shape)

    def _kept_shape(self) -> Tuple[int, ...]:
        return tuple(int(self._shape[d]) for d in self._keep)

    def weight_shapes(self, input_shape: Shape) -> List[Tuple[int, ...]]:
        self.compute_output_shape(input_shape)
        return [] if self.input_mean is not None else [self._kept_shape()] * 2 + [()]

    def weight_names(self) -> List[Tuple[str, bool]]:
        if self.input_mean is not None:
            return []
        return [("mean", False), ("variance", False), ("count", False)]

    def _statistics(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(mean, variance) over the kept shape: adapted, given, or None (0 and 1)."""
        if self.input_mean is not None:
            kept = self._kept_shape()
            m, v = self._given
            # Keras: the given values align with the kept axes from the right, then broadcast.
            target = (1,) * (len(kept) - m.ndim) + m.shape
            try:
                return tuple(np.broadcast_to(a.reshape(target), kept) for a in (m, v))
            except ValueError:
                raise ValueError(f"Normalization layer {self.name!r}: `mean` of shape "
                                 f"{m.shape} cannot be broadcast to the kept axes' shape "
                                 f"{kept}") from None
        return self._adapted

    def to_spec(self) -> Dict[str, Any]:
        stats = self._statistics()
        spec = {"type": "normalization", "sample_shape": [int(d) for d in self._shape[1:]],
                "param_axes": [a - 1 for a in self._keep], "param_shape": list(self._kept_shape()),
                "invert": self.invert, "constant": self.input_mean is not None}
        if stats is not None:
            spec["mean"] = np.asarray(stats[0], np.float32).ravel().tolist()
            spec["variance"] = np.asarray(stats[1], np.float32).ravel().tolist()
        return spec

    def _build_spec(self) -> Dict[str, Any]:
        return self.to_spec()  # follows the input shape and the latest adapt

    # ---- adapt ----------------------------------------------------------------------------
    def adapt(self, data: Any) -> None:
        """Computes the mean and variance of ``data`` along the axes not in ``axis``.

        Args:
            data: a NumPy array (or array-like) of shape (samples, ...), or an iterable of
                such batches (a list of arrays, a generator, a PyDataset; ``(x, y)`` batches
                use ``x``).
        """
        if self.input_mean is not None:
            raise ValueError(f"Normalization layer {self.name!r} was given `mean` and "
                             "`variance`; it has no statistics to adapt.")
        from fastmlp.layers import _adapt
        mean, var, shape, keep = _adapt.moments(data, self._build_shape)
        self._adapted = (np.asarray(mean, np.float32), np.asarray(var, np.float32))
        if not self.built:
            self._keep, self._shape = keep, (None, *shape[1:])
        else:
            self.set_weights([*self._adapted, np.zeros((), np.float32)])

    # ---- Keras surface --------------------------------------------------------------------
    def _broadcast(self, values: Optional[np.ndarray]) -> Optional[np.ndarray]:
        if values is None:
            return None
        return np.asarray(values, np.float32).reshape(
            [self._shape[d] if d in self._keep else 1 for d in range(len(self._shape))]
        ).view(_Statistic)

    @property
    def mean(self) -> Optional[np.ndarray]:
        """The mean in the input's broadcast shape (batch axis 1), as Keras's ``layer.mean``;
        None before adapt or build."""
        if self.built and self.input_mean is None:
            return self._broadcast(self.get_weights()[0])
        stats = self._statistics() if self._keep is not None else None
        return self._broadcast(stats[0]) if stats is not None else None

    @property
    def variance(self) -> Optional[np.ndarray]:
        """The variance, shaped as `mean`."""
        if self.built and self.input_mean is None:
            return self._broadcast(self.get_weights()[1])
        stats = self._statistics() if self._keep is not None else None
        return self._broadcast(stats[1]) if stats is not None else None

    def get_weights(self) -> List[np.ndarray]:
        """[mean, variance, count] (Keras's order); after adapt also before the model is built."""
        if not self.built and self._adapted is not None:
            return [self._adapted[0].copy(), self._adapted[1].copy(), np.zeros((), np.float32)]
        return super().get_weights()

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": None if self.input_mean is None else
                np.asarray(self.input_mean).tolist(),
                "variance": None if self.input_variance is None else
                np.asarray(self.input_variance).tolist()}
