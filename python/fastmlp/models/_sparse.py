"""scipy.sparse inputs for fit / evaluate / predict, as Keras accepts them.

A sparse ``x`` is never densified whole (a 200,000 x 5,000 matrix would take 4 GB): the rows of
one block at a time are densified into a float32 buffer allocated once per call (at most
``BLOCK_ELEMENTS`` floats, a whole number of batches), and the core runs that block. A shuffled
epoch visits the rows in the core's own order for its seed (``_core._shuffled_order``), so the
batches, and so the results, are those of the dense array.

scipy stays optional: it is never imported here (see `fastmlp._checks.is_sparse`).

``train_epoch``, ``evaluate`` and ``predict`` take a dense array (passed straight to the core) or
a CSR matrix from ``prepare``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from fastmlp import _core
from fastmlp._checks import is_sparse  # noqa: F401  (re-exported for the training code)

BLOCK_ELEMENTS = 1 << 22  # 16 MiB of float32 per densified block


def prepare(x: Any, dim: int, name: str) -> Any:
    """A CSR copy or view of the scipy.sparse ``x`` of shape ``(n, dim)`` holding finite reals."""
    shape = tuple(x.shape)
    if len(shape) != 2 or shape[1] != dim:
        raise ValueError(f"Argument `{name}` must have shape (None, {dim}) to match the model's "
                         f"input; received a scipy.sparse matrix of shape {shape}.")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{name}` must hold real numbers; received a scipy.sparse "
                        f"matrix of dtype {x.dtype}.")
    csr = x.tocsr()
    if csr.data.size and not np.isfinite(csr.data).all():
        first = int(np.flatnonzero(~np.isfinite(csr.data))[0])
        row = int(np.searchsorted(csr.indptr, first, side="right")) - 1
        raise ValueError(f"{name} contains NaN or Inf (row {row})")
    return csr


def _block_rows(n: int, width: int, batch_size: int) -> int:
    """Rows per block: as many whole batches as fit in BLOCK_ELEMENTS (at least one batch)."""
    rows = max(1, BLOCK_ELEMENTS // max(width, 1))
    rows = max(batch_size, rows - rows % batch_size)
    return min(rows, n)


class _Densifier:
    """Densifies row blocks of a CSR matrix into one reused float32 buffer."""

    def __init__(self, csr: Any, rows: int) -> None:
        self.csr = csr
        self.buffer = np.empty((rows, csr.shape[1]), dtype=np.float32)

    def rows(self, index: Any) -> np.ndarray:
        block = self.csr[index]
        if block.dtype != np.float32:
            block = block.astype(np.float32)
        out = self.buffer[:block.shape[0]]
        block.toarray(out=out)  # zeroes out first, sums duplicate entries
        return out


def predict(core: Any, x: Any, batch_size: Optional[int]) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return core.predict(x) if batch_size is None else core.predict(x, batch_size)
    n = x.shape[0]
    out = np.empty((n, int(core.output_dim)), dtype=np.float32)
    step = _block_rows(n, x.shape[1], batch_size or 1)
    dense = _Densifier(x, step)
    for start in range(0, n, step):
        block = dense.rows(slice(start, start + step))
        out[start:start + len(block)] = core.predict(block) if batch_size is None else \
            core.predict(block, batch_size)
    return out


def evaluate(core: Any, x: Any, y: np.ndarray, sample_weight: Optional[np.ndarray],
             batch_size: int, y_pred_out: Optional[np.ndarray]) -> Dict[str, float]:
    if isinstance(x, np.ndarray):
        return dict(core.evaluate(x, y, sample_weight=sample_weight, batch_size=batch_size,
                                  y_pred_out=y_pred_out))
    n = x.shape[0]
    if n == 0:
        raise ValueError("x has no rows")
    step = _block_rows(n, x.shape[1], batch_size)
    dense = _Densifier(x, step)
    logs: Dict[str, float] = {}
    for start in range(0, n, step):
        rows = slice(start, start + step)
        block = dense.rows(rows)
        # The loss mean and the metrics go on over the blocks: the last logs cover them all.
        logs = dict(core.evaluate(
            block, y[rows], batch_size=batch_size,
            sample_weight=None if sample_weight is None else sample_weight[rows],
            y_pred_out=None if y_pred_out is None else y_pred_out[rows],
            reset_metrics=start == 0))
    return logs


def train_epoch(core: Any, x: Any, y: np.ndarray, sample_weight: Optional[np.ndarray],
                batch_size: int, shuffle: bool, seed: int, y_pred_out: Optional[np.ndarray],
                batch_callback: Optional[Callable], callback_every: int,
                stop_on_nonfinite: bool = True) -> Dict[str, float]:
    """One epoch; with a CSR ``x``, block by block, each block a whole number of batches."""
    if isinstance(x, np.ndarray):
        return dict(core.train_epoch(x, y, sample_weight=sample_weight, batch_size=batch_size,
                                     shuffle=shuffle, seed=seed, y_pred_out=y_pred_out,
                                     batch_callback=batch_callback,
                                     callback_every=callback_every,
                                     stop_on_nonfinite=stop_on_nonfinite))
    n = x.shape[0]
    if n == 0:
        raise ValueError("x has no rows")
    batch_size = min(batch_size, n)
    order = _core._shuffled_order(n, seed) if shuffle else None
    step = _block_rows(n, x.shape[1], batch_size)
    dense = _Densifier(x, step)
    logs: Dict[str, float] = {}
    for start in range(0, n, step):
        rows = slice(start, start + step) if order is None else order[start:start + step]
        block = dense.rows(rows)
        pred = None if y_pred_out is None else \
            np.empty((len(block), y_pred_out.shape[1]), dtype=np.float32)
        hook, stopped = _block_hook(batch_callback, start // batch_size)
        # The loss mean and the metrics go on over the blocks: the last logs cover them all.
        logs = dict(core.train_epoch(
            block, y[rows], sample_weight=None if sample_weight is None else sample_weight[rows],
            batch_size=batch_size, shuffle=False, seed=0, y_pred_out=pred,
            batch_callback=hook, callback_every=callback_every,
            stop_on_nonfinite=stop_on_nonfinite, reset_metrics=start == 0))
        if pred is not None:
            y_pred_out[rows] = pred
        if stopped:
            break
    return logs


def _block_hook(batch_callback: Optional[Callable], first_batch: int
                ) -> Tuple[Optional[Callable], list]:
    """The core's batch callback for one block, numbering batches over the epoch; ``stopped``
    becomes non-empty when the callback stops the epoch."""
    stopped: list = []
    if batch_callback is None:
        return None, stopped

    def hook(batch: int, logs: Any) -> bool:
        if batch_callback(first_batch + batch, logs):
            stopped.append(first_batch + batch)
            return True
        return False
    return hook, stopped
