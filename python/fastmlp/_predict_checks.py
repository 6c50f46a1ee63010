"""What `fastmlp predict` says about its input: what the model file records of its training data,
and a warning when the input's values are far from it."""

from __future__ import annotations

from typing import Optional

import numpy as np


def expected_input(model) -> str:
    """What the model was trained on, as `fit` recorded it in the file."""
    record = getattr(model, "_training_input", None)
    shape = tuple(model.input_shape[1:])
    if record is None:
        return (f"model expects: inputs of shape {shape} per sample (this file does not record "
                "the dtype and value range of its training data)")
    return (f"model expects: {record['dtype']} inputs of shape {tuple(record['shape'])} per "
            f"sample, values in [{record['min']:g}, {record['max']:g}] (as in training)")


def range_warning(model, x: np.ndarray) -> Optional[str]:
    """A warning when the input's values are far from the training data's: beyond the training
    range by more than its width, or spread over less than a tenth of it (0-1 images given to a
    model trained on 0-255 pixels)."""
    record = getattr(model, "_training_input", None)
    if record is None or x.size == 0 or x.dtype.kind not in "biuf":
        return None
    low, high = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(low) and np.isfinite(high)):
        return None  # predict refuses NaN/Inf itself
    lo, hi = record["min"], record["max"]
    width = hi - lo
    margin = width if width > 0 else max(abs(hi), 1.0)
    if low >= lo - margin and high <= hi + margin and high - low >= 0.1 * width:
        return None
    return (f"the input's values are in [{low:g}, {high:g}], far from the training data's "
            f"[{lo:g}, {hi:g}]; the predictions are likely meaningless unless the input is "
            "scaled as the training data was")
