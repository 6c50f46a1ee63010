"""`Normalization.adapt`: the mean and variance of data along the reduced axes, computed as
Keras 3 computes them (keras/src/layers/preprocessing/normalization.py)."""

from __future__ import annotations

import itertools
import math
import typing as _typing

import numpy as np

from fastmlp import _checks

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Sequence, Tuple

    KeepFn = Callable[[Sequence[Any], str], Tuple[int, ...]]


def _batch_array(batch: Any, what: str) -> np.ndarray:
    if isinstance(batch, tuple):  # (x, y) or (x, y, sample_weight)
        batch = batch[0] if batch else batch
    if not (isinstance(batch, np.ndarray) or hasattr(batch, "__array__")):
        raise TypeError(f"adapt() expects arrays with a `.shape` (NumPy arrays), or an iterable "
                        f"of such batches. Got {what} of type {type(batch).__name__}; for a "
                        f"list of numbers pass np.asarray(data).")
    arr = _checks.real_array(batch, "data")
    if arr.ndim == 0:
        raise ValueError(f"adapt() needs batches of shape (samples, ...); got a 0-d {what}.")
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"adapt() data holds NaN or Inf values ({what}); the mean and variance "
                         "would be NaN.")
    return arr


def _batches(data: Any) -> Iterator[Any]:
    """The batches of an iterable (a PyDataset without __iter__ is read by index)."""
    if not hasattr(data, "__iter__") and hasattr(data, "__getitem__") and \
            hasattr(data, "__len__"):
        return (data[i] for i in range(len(data)))
    if not hasattr(data, "__iter__"):
        raise TypeError(f"Unsupported data type: {type(data).__name__}. `adapt` supports NumPy "
                        "arrays and iterables of batches (a list of arrays, a generator, a "
                        "PyDataset).")
    return iter(data)


def moments(data: Any, keep_axes: KeepFn) -> Tuple[np.ndarray, np.ndarray, Tuple[int, ...],
                                                   Tuple[int, ...]]:
    """(mean, variance, data shape, kept axes); ``keep_axes(shape, what)`` checks a shape
    against the layer's ``axis`` and returns the kept axes."""
    if isinstance(data, np.ndarray) or (hasattr(data, "__array__") and
                                        not isinstance(data, (list, tuple))):
        arr = _batch_array(data, "data")
        keep = keep_axes(arr.shape, "data")
        if arr.shape[0] == 0:
            raise ValueError("adapt() needs at least one sample; `data` has shape "
                             f"{arr.shape}.")
        reduce = tuple(d for d in range(arr.ndim) if d not in keep)
        # As Keras: NumPy's mean and biased variance, in the data's own precision.
        return np.mean(arr, axis=reduce), np.var(arr, axis=reduce), arr.shape, keep
    it = _batches(data)
    first = next(it, None)
    if first is None:
        raise ValueError("adapt() received an empty iterable (no batches). Expected at least "
                         "one batch, e.g. layer.adapt([x]).")
    first_arr = _batch_array(first, "the first batch")
    shape = first_arr.shape
    keep = keep_axes(shape, "data")
    reduce = tuple(d for d in range(len(shape)) if d not in keep)
    kept = tuple(shape[d] for d in keep)
    total_mean = np.zeros(kept, np.float32)
    total_var = np.zeros(kept, np.float32)
    total_count = 0
    for i, batch in enumerate(itertools.chain([first], it)):
        arr = first_arr if i == 0 else _batch_array(batch, f"batch {i}")
        if arr.ndim != len(shape) or tuple(arr.shape[d] for d in keep) != kept:
            raise ValueError(f"adapt() yielded a batch with incompatible shape. Expected "
                             f"{shape}, got {arr.shape} (batch {i}).")
        arr = arr.astype(np.float32, copy=False)  # Keras converts each batch to float32
        count = math.prod(arr.shape[d] for d in reduce) if reduce else 1
        if count == 0:
            continue
        batch_mean = np.mean(arr, axis=reduce)
        batch_var = np.var(arr, axis=reduce)
        total_count += count
        weight = float(count) / total_count
        existing = 1.0 - weight
        new_mean = total_mean * existing + batch_mean * weight
        # Keras's lack-of-fit sum of squares combination
        total_var = (total_var + (total_mean - new_mean) ** 2) * existing + \
            (batch_var + (batch_mean - new_mean) ** 2) * weight
        total_mean = new_mean
    if total_count == 0:
        raise ValueError("adapt() needs at least one sample; every batch was empty.")
    return total_mean, total_var, shape, keep
