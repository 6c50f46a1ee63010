"""What ``fit`` trains and validates on: checked arrays (a `_core.Dataset`, made once per fit)
or batches from Python (`_pysource`)."""

from __future__ import annotations

import math
from typing import Any, Tuple

from fastmlp.models import _pysource


def fit_data(model: Any, x: Any, y: Any, sample_weight: Any, class_weight: Any,
             validation_data: Any, a: Any, distributed: bool) -> Tuple[Any, Any]:
    """(training data, validation data or None): each a `_core.Dataset` checked once here,
    however many epochs read it, or a `_pysource.Source` whose batches are checked as they
    come."""
    if _pysource.is_source(x):
        if distributed:
            raise ValueError("Python generators and PyDataset inputs are not supported under "
                             "fastmlp.distribution: give each rank its rows as arrays.")
        if a.validation_split:
            raise ValueError("`validation_split` is only supported for NumPy arrays. Found "
                             f"incompatible type in the input: {type(x).__name__} (pass "
                             "`validation_data` instead)")
        data = _pysource.make(x, y, sample_weight, class_weight, a.shuffle)
        if data.num_batches is None and data.kind == "PyDataset" and \
                a.steps_per_epoch is None:
            raise ValueError("An infinite PyDataset (num_batches None) needs `steps_per_epoch`."
                             " Received: steps_per_epoch=None")
        return data, validation(model, validation_data)
    data, x_dtype = model._dataset(x, y, sample_weight, class_weight)
    val = validation(model, validation_data)
    if val is None and a.validation_split:
        n = len(data)
        split = int(math.floor(n * (1.0 - a.validation_split)))
        if split == 0 or split == n:
            raise ValueError(f"`validation_split`={a.validation_split} leaves no training or no"
                             f" validation samples out of {n}.")
        data, val = data.slice(0, split), data.slice(split, n)
    model._note_training_input(x_dtype, data)
    return data, val


def validation(model: Any, data: Any) -> Any:
    """``validation_data`` as a `_core.Dataset`, a `_pysource.Source`, or None."""
    if data is None:
        return None
    if _pysource.is_source(data):
        return _pysource.make(data)
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val,"
                         f" sample_weight_val), a generator or a PyDataset. Received: "
                         f"{type(data).__name__} of length "
                         f"{len(data) if hasattr(data, '__len__') else '?'}")
    names = ("validation_data[0]", "validation_data[1]", "validation_data[2]")
    return model._dataset(data[0], data[1], data[2] if len(data) == 3 else None,
                          names=names)[0]
