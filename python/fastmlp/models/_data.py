"""Converts user arrays once, at the boundary, into what `_core.Dataset` and predict read.

Here only what Python alone can do: array-likes become arrays, x is matched with the model's input
shape (sample axes beyond the first are flattened, a free reshape for contiguous data) and kept as
2-D C-contiguous float32 (used as is), float64 or uint8 (the core converts per batch), anything
else converted once to float32; class_weight becomes a table. `_core.Dataset` checks the rest,
once: the rows, y's shape and labels, every value. Every check names the argument.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from fastmlp._checks import _show, is_real, is_sparse, refuse_sparse

_PASS_THROUGH = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint8))


def _shape_str(shape: Sequence[Any]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def as_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    refuse_sparse(x, name)
    if isinstance(x, (list, tuple)) and len(x) and isinstance(x[0], np.ndarray) and \
            len(x) == 1:
        x = x[0]  # a one-element list of arrays, as Keras accepts for single-input models
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise TypeError(f"Argument `{name}` must be a NumPy array or convertible to one. "
                        f"Received: {type(x).__name__} ({e})") from None
    return arr


def prepare_x(x: Any, sample_shape: Tuple[int, ...], name: str = "x", sparse_ok: bool = False
              ) -> Any:
    """Returns a 2-D C-contiguous array (float32, float64 or uint8) of ``(n, prod(sample_shape))``,
    or with ``sparse_ok`` for a scipy.sparse ``x``, a CSR matrix of that shape (see `_sparse`)."""
    if sparse_ok and is_sparse(x):
        from fastmlp.models import _sparse
        return _sparse.prepare(x, int(np.prod(sample_shape)), name)
    arr = as_array(x, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{name}` must hold real numbers; received dtype {arr.dtype}.")
    dim = int(np.prod(sample_shape))
    if arr.ndim == 1 and dim == 1:
        arr = arr.reshape(-1, 1)
    ok = arr.ndim >= 2 and (tuple(arr.shape[1:]) == tuple(sample_shape)
                            or (arr.ndim == 2 and arr.shape[1] == dim))
    if not ok:
        raise ValueError(f"Argument `{name}` must have shape {_shape_str((None,) + sample_shape)}"
                         f" to match the model's input; received an array of shape "
                         f"{_shape_str(arr.shape)}.")
    if arr.dtype not in _PASS_THROUGH:
        arr = arr.astype(np.float32)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr.reshape(arr.shape[0], dim)


def infer_sample_shape(x: Any, name: str = "x") -> Tuple[int, ...]:
    if is_sparse(x) and len(x.shape) == 2:
        return (int(x.shape[1]),)
    arr = as_array(x, name)
    if arr.ndim < 2:
        raise ValueError(f"Cannot build the model from `{name}` of shape {_shape_str(arr.shape)}:"
                         " expected (batch, features...). Add an Input layer to give the shape.")
    return tuple(int(d) for d in arr.shape[1:])


def targets(y: Any, name: str = "y") -> np.ndarray:
    """``y`` as an array; `_core.Dataset` checks its shape, dtype and values."""
    if y is None:
        raise ValueError(f"Argument `{name}` (the targets) is required.")
    return as_array(y, name)


def sample_weights(sample_weight: Any, name: str = "sample_weight") -> Optional[np.ndarray]:
    """``sample_weight`` as an array (or None); `_core.Dataset` checks it."""
    return None if sample_weight is None else as_array(sample_weight, name)


def check_class_weight(class_weight: Any) -> Dict[int, float]:
    """``{class index: weight}`` with int keys >= 0 and finite weights >= 0, checked once."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"Argument `class_weight` must be a dict mapping class indices to "
                         f"weights. Received: class_weight={_show(class_weight)}")
    table: Dict[int, float] = {}
    for k, v in class_weight.items():
        if not isinstance(k, numbers.Integral) or isinstance(k, (bool, np.bool_)) or k < 0:
            raise ValueError(f"Received an invalid key in `class_weight`, expected a "
                             f"non-negative class index (int). Received: key {k!r} in "
                             f"class_weight={_show(class_weight)}")
        if not is_real(v) or not math.isfinite(float(v)) or v < 0:
            raise ValueError(f"Received an invalid value in `class_weight`, expected a finite "
                             f"non-negative number. Received: class_weight[{k!r}]={v!r}")
        table[int(k)] = float(v)
    return table


def class_weight_table(class_weight: Any, outputs: int) -> List[float]:
    """``{class: weight}`` as a table by class index for `_core.Dataset`, which multiplies the
    sample weights by it (classes missing from the dict weigh 1)."""
    weights = check_class_weight(class_weight)
    # Keys of classes that cannot occur change nothing (as Keras), so the table only spans the
    # possible classes (two for one output column): a key such as 10**20 sizes no allocation.
    table = [1.0] * max(int(outputs), 2)
    for k, v in weights.items():
        if k < len(table):
            table[k] = v
    return table


def prepare_weights(weights: Any, expected: Sequence[Tuple[int, ...]], model_name: str
                    ) -> List[np.ndarray]:
    """C-contiguous float32 copies of ``weights``, one per shape of ``expected``.

    Complex, string and object values are refused: a float32 cast would drop the imaginary
    part silently (outside a warnings filter) or fail inside NumPy.
    """
    weights = weight_list(weights, "`set_weights`")
    if len(weights) != len(expected):
        raise ValueError(f"You called `set_weights(weights)` on model {model_name!r} with a "
                         f"weight list of length {len(weights)}, but the model expects "
                         f"{len(expected)} weights.")
    return [weight_array(w, i, shape) for i, (w, shape) in enumerate(zip(weights, expected))]


def weight_list(weights: Any, caller: str) -> List[Any]:
    """`weights` as a list, or a TypeError naming `caller` when it is not a sequence of arrays."""
    if isinstance(weights, (str, bytes, dict)) or not hasattr(weights, "__iter__"):
        raise TypeError(f"{caller} expects a list of NumPy arrays (as `get_weights()` returns). "
                        f"Received: {type(weights).__name__}")
    return list(weights)


def weight_array(w: Any, index: int, shape: Tuple[int, ...]) -> np.ndarray:
    expected = f"Weight {index} must be an array of real numbers of shape {shape}"
    try:
        a = w if isinstance(w, np.ndarray) else np.asarray(w)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{expected}; received {type(w).__name__} ({err}).") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{expected}; received dtype {a.dtype}.")
    if a.shape != tuple(shape):
        raise ValueError(f"Weight {index} has shape {a.shape}, but the model expects shape "
                         f"{tuple(shape)}.")
    return np.asarray(a, dtype=np.float32, order="C")  # ascontiguousarray makes 0-d 1-d
