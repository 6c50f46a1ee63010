"""Utilities with Keras names: seeding, label encoding, `PyDataset` (Python-made batches).

(Plotting helpers such as ``plot_history`` belong in this module too; they are added separately
below the marked section.)
"""

from __future__ import annotations

import random
import typing as _typing

import numpy as np

from fastmlp import _naming, _random
from fastmlp._pydataset import PyDataset

Sequence = PyDataset  # Keras 3 exports the class under both names

if _typing.TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["PyDataset", "Sequence", "clear_session", "plot_history", "set_random_seed",
           "to_categorical"]


def clear_session() -> None:
    """Resets automatic layer and model names ("dense", "dense_1", ... start again), as Keras."""
    _naming.reset()


def set_random_seed(seed: int) -> None:
    """Makes everything random in fastmlp reproducible from ``seed``.

    Restarts the stream that gives initializer seeds, dropout seeds and each model's shuffle seed
    (per-epoch shuffle orders are derived from that), and seeds Python's ``random`` and NumPy's
    global generator as Keras does. Same seed, same model code: the same bits, for any thread
    count.

    Args:
        seed: a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Received an invalid value for `seed`, expected a non-negative "
                         f"integer. Received: seed={seed!r}")
    _random.reseed(int(seed))
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)


def to_categorical(x: Any, num_classes: Optional[int] = None) -> np.ndarray:
    """One-hot encodes integer labels: ``(n,)`` -> float32 ``(n, num_classes)``.

    Args:
        x: integer class labels (any shape; a trailing axis of 1 is dropped).
        num_classes: number of classes; ``max(x) + 1`` when None.
    """
    from fastmlp import _checks

    labels = _checks.real_array(x, "x", "integer class labels")
    num_classes = _checks.integer("num_classes", num_classes, 1, optional=True)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.floor(labels)):
        raise ValueError("to_categorical: `x` must hold integer class labels.")
    labels = labels.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes - 1}]; received "
                         f"values in [{labels.min()}, {labels.max()}].")
    out = np.zeros(labels.shape + (num_classes,), dtype=np.float32)
    np.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out


# ---- plotting helpers (added by the plotting work) ----------------------------------------------
from fastmlp.plotting import plot_history  # noqa: E402,F401  (matplotlib imported only when called)
