"""Axis arguments of the layers that work along some axes of a sample (Softmax,
LayerNormalization, Normalization, PReLU's shared_axes), checked against the input shape.

Axes count the batch axis as 0, as in Keras; the core sees each sample flattened, so a layer
there works on rows of the trailing axes it normalizes, or broadcasts a parameter over the
axes it leaves out.
"""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks

if _typing.TYPE_CHECKING:
    from typing import Any, List, Optional, Sequence, Tuple

    Shape = Tuple[Optional[int], ...]


def axis_list(name: str, value: Any, allow_none: bool = False) -> Optional[List[int]]:
    """An int or a list/tuple of ints as a list (None stays None when allowed)."""
    if value is None and allow_none:
        return None
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items and not allow_none:
        raise _checks.invalid(name, "an int or a non-empty list of ints", value)
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
            expected = "an int, a list/tuple of ints" + (" or None" if allow_none else "")
            raise _checks.invalid(name, expected, value)
    return [int(a) for a in items]


def resolve(layer: Any, name: str, axes: Sequence[int], shape: Shape) -> List[int]:
    """``axes`` as sorted non-negative axes of ``shape`` (batch axis 0), refusing the batch
    axis, axes out of range and repeats with a message naming the layer and the shape."""
    rank = len(shape)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"{type(layer).__name__} layer {layer.name!r}: axis {a} is out of "
                             f"bounds for input shape {tuple(shape)}. Received: {name}={axes}")
        out.append(a % rank)
    if 0 in out:
        raise ValueError(f"{type(layer).__name__} layer {layer.name!r}: `{name}` cannot "
                         f"include the batch axis (0) of input shape {tuple(shape)}. "
                         f"Received: {name}={axes}")
    if len(set(out)) != len(out):
        raise ValueError(f"{type(layer).__name__} layer {layer.name!r}: `{name}` repeats an "
                         f"axis. Received: {name}={axes}")
    return sorted(out)


def trailing_group(layer: Any, name: str, axes: Sequence[int], shape: Shape) -> int:
    """The number of values per row when ``axes`` (resolved) are the last axes of ``shape``."""
    rank = len(shape)
    if list(axes) != list(range(rank - len(axes), rank)):
        raise ValueError(f"{type(layer).__name__} layer {layer.name!r}: fastmlp works along "
                         f"the last axes of a sample only (-1, or a run of axes ending with "
                         f"it such as [-2, -1]); input shape {tuple(shape)}. Received: "
                         f"{name}={list(axes)}")
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))
