"""Reshaping layers: `Flatten`, `Reshape` (views of each sample: the core sees it flat, so they
compute nothing)."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks
from fastmlp.layers import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional

    from fastmlp.layers.base import Shape

__all__ = ["Flatten", "Reshape"]


class Flatten(base.Layer):
    """Flattens each sample to one axis: ``(batch, 28, 28) -> (batch, 784)`` (a free reshape)."""

    def __init__(self, data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format is not None and (not isinstance(data_format, str) or data_format not in
                                        ("channels_last", "channels_first")):
            raise _checks.invalid("data_format", '"channels_last" or "channels_first"', data_format)
        if data_format == "channels_first":
            raise ValueError("Flatten: data_format='channels_first' is not supported.")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        dims = input_shape[1:]
        return (input_shape[0], int(np.prod(dims)) if dims else 1)


class Reshape(base.Layer):
    """Reshapes each sample to ``target_shape`` (a free view, like `Flatten`).

    Args:
        target_shape: tuple of positive ints, without the batch axis; one entry may be -1
            (inferred from the input size).

    Example:
        >>> layers.Reshape((4, 3))   # (batch, 12) -> (batch, 4, 3)
    """

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(target_shape, (int, np.integer)) and not isinstance(target_shape, bool):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (tuple, list)) or not target_shape:
            raise _checks.invalid("target_shape", "a non-empty tuple of ints", target_shape)
        shape = tuple(target_shape)
        if any(isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or
               d == 0 or d < -1 for d in shape):
            raise ValueError("Each dimension in `target_shape` must be a positive integer, or "
                             f"`-1` for a single unknown dimension. Received: "
                             f"target_shape={target_shape!r}")
        if shape.count(-1) > 1:
            raise ValueError("There must be at most one unknown dimension (-1) in "
                             f"`target_shape`. Received: target_shape={target_shape!r}")
        self.target_shape = tuple(int(d) for d in shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        size = int(np.prod(input_shape[1:], dtype=np.int64))
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"Reshape layer {self.name!r}: the input size cannot be "
                                 f"divided by the specified dimensions in target_shape. "
                                 f"Received: input_shape={tuple(input_shape)}, "
                                 f"target_shape={self.target_shape}")
            return (input_shape[0], *(size // known if d == -1 else d
                                      for d in self.target_shape))
        if known != size:
            raise ValueError(f"Reshape layer {self.name!r}: the total size of the tensor must be "
                             f"unchanged. Received: input_shape={tuple(input_shape)}, "
                             f"target_shape={self.target_shape}")
        return (input_shape[0], *self.target_shape)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}
