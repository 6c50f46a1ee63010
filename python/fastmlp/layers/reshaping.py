"""Reshaping layers: `Flatten`."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks
from fastmlp.layers import base

if _typing.TYPE_CHECKING:
    from typing import Any, Optional

    from fastmlp.layers.base import Shape

__all__ = ["Flatten"]


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
