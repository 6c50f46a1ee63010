"""What `fit` and `train_on_batch` do differently under a `DataParallel` distribution.

Every exchange between ranks begins with the core's status exchange (GradientReducer), so a rank
that failed anywhere meets the others at their next exchange, wherever that is (the epoch loop
in C++ or a `phase` here), and every rank raises the same error. The Python-side collectives
(mpi4py's bcast/allgather) only run right after such an exchange, on every rank alike.
"""

from __future__ import annotations

import zlib
from typing import Any, Dict, List, NoReturn, Optional, Tuple

import numpy as np

from fastmlp._checks import is_sparse

_KINDS = ((FloatingPointError, 3), (ValueError, 1), (TypeError, 2), (KeyboardInterrupt, 4))


def fail(dist: Any, error: BaseException) -> NoReturn:
    """This rank failed with `error`: every rank raises the agreed error (here chained to it)."""
    kind = next((k for t, k in _KINDS if isinstance(error, t)), 0)
    # Raised as RuntimeError on the other ranks: the message keeps any other type's name.
    message = str(error) if kind or type(error) is RuntimeError else \
        f"{type(error).__name__}: {error}"
    message = message or type(error).__name__  # KeyboardInterrupt() says nothing
    try:
        dist._reducer.fail(kind, message)
    except BaseException as agreed:
        raise agreed from error
    raise AssertionError("the failure exchange did not raise")  # pragma: no cover


def reworded(error: BaseException, message: str) -> BaseException:
    """``error``'s type with a new message, still marked as agreed if it was."""
    new = type(error)(message)
    for key in ("_fastmlp_agreed", "failed_rank"):
        if hasattr(error, key):
            setattr(new, key, getattr(error, key))
    return new


class phase:
    """A stretch of fit that every rank finishes, or fails, together; with ``model``, any rank's
    ``model.stop_training`` becomes every rank's. A no-op without a distribution."""

    def __init__(self, dist: Any, model: Any = None) -> None:
        self.dist, self.model = dist, model

    def __enter__(self) -> "phase":
        return self

    def __exit__(self, kind: Any, error: Optional[BaseException], tb: Any) -> bool:
        if self.dist is None:
            return False
        if error is not None:
            if getattr(error, "_fastmlp_agreed", False):
                return False  # every rank is raising it already
            fail(self.dist, error)
        stop = bool(self.model is not None and self.model.stop_training)
        _, stop = self.dist._reducer.agree([], stop)
        if self.model is not None:
            self.model.stop_training = stop
        return False


def share(n: int, dist: Any) -> slice:
    """This rank's contiguous part of n replicated rows."""
    return slice(n * dist.rank // dist.size, n * (dist.rank + 1) // dist.size)


def _checksum(*arrays: Any) -> int:
    """A CRC of ~64 rows spread over each of the arrays fit was given (NumPy or scipy.sparse;
    others are left out): tells the ranks' data apart cheaply."""
    crc = 0
    for a in arrays:
        if (isinstance(a, np.ndarray) and a.ndim >= 1 or is_sparse(a)) and a.shape[0] > 0:
            n = a.shape[0]
            rows = np.unique(np.linspace(0, n - 1, num=min(64, n)).astype(np.int64))
            part = a[rows].toarray() if is_sparse(a) else a[rows]
            crc = zlib.crc32(np.ascontiguousarray(part).tobytes(), crc)
    return crc


def _describe(model: Any, data: Any, val: Any, a: Any, stop_on_nonfinite: bool,
              replicated: bool, raw: Tuple[Any, Any, Any]) -> Dict[str, Any]:
    """What must agree between the ranks for their steps to match."""
    info = {"model": [tuple(s) for s in model._core.tensor_shapes()],
            "loss": model._loss_obj.to_spec(), "optimizer": repr(model.optimizer.to_spec()),
            "metrics": list(model.metrics_names), "batch_size": a.batch_size,
            "epochs": (a.initial_epoch, a.epochs), "shuffle": a.shuffle,
            "steps_per_epoch": a.steps_per_epoch, "validation": val is not None,
            "validation_freq": a.validation_freq, "TerminateOnNaN": not stop_on_nonfinite,
            "sample_weight": raw[2] is not None, "x": data.cols}
    if replicated:
        info["rows"] = len(data)
        info["data"] = _checksum(*raw)
    return info


def start_fit(dist: Any, model: Any, data: Any, val: Any, a: Any, stop_on_nonfinite: bool,
              raw: Tuple[Any, Any, Any]) -> int:
    """Checks that every rank called fit alike, then gives every rank rank 0's weights,
    optimizer state and shuffle state; returns the rows of the whole data set. The errors are
    the same on every rank."""
    infos = dist.comm.allgather(_describe(model, data, val, a, stop_on_nonfinite,
                                          dist.auto_shard_dataset, raw))
    for r, info in enumerate(infos):
        differs = [k for k in info if info[k] != infos[0][k]]
        if differs:
            shown = "; ".join(f"{k}: {info[k]!r} against {infos[0][k]!r}" for k in differs
                              if k != "data")
            if "data" in differs:
                shown += ("; " if shown else "") + "the values of x, y or sample_weight"
            hint = (" With DataParallel(auto_shard_dataset=True) every rank passes the same "
                    "arrays; to pass a shard per rank use auto_shard_dataset=False."
                    if "data" in differs or "rows" in differs else "")
            raise ValueError(f"fit: rank {r} differs from rank 0 in {shown}. Every rank must "
                             f"build the same model and call fit with the same arguments."
                             f"{hint}")
    if a.steps_per_epoch is not None and not dist.auto_shard_dataset:
        raise ValueError("fit: steps_per_epoch needs DataParallel(auto_shard_dataset=True) "
                         "(the same arrays on every rank).")
    sync(dist, model)
    return len(data) if dist.auto_shard_dataset else sum(dist.comm.allgather(len(data)))


def sync(dist: Any, model: Any) -> None:
    """Rank 0's weights, optimizer slots and training state (shuffle seed, epochs, steps).
    A rank whose model cannot take them (another architecture) fails every rank."""
    with phase(dist):
        state = dist.comm.bcast((model.get_weights(), model.get_training_state())
                                if dist.rank == 0 else None, root=0)
        if dist.rank != 0:
            model.set_weights(state[0])
            model.set_training_state(state[1])
    model._synced_with = dist


def shuffle_seed(dist: Any, seed: int) -> int:
    """The epoch's shuffle seed: shared by the ranks when they share the rows, else per rank
    (rank 0 keeping the seed of one process)."""
    if dist.auto_shard_dataset or dist.rank == 0:
        return seed
    from fastmlp import _random
    return _random.epoch_seed(seed, dist.rank)


def pred_buffer(model: Any, rows: int) -> Optional[np.ndarray]:
    """The output buffer for the metrics computed in Python, NaN where this rank trains no row."""
    y_pred = model._pred_buffer(rows)
    if y_pred is not None:
        y_pred.fill(np.nan)
    return y_pred


def logs(dist: Any, model: Any, core_logs: Dict[str, float], y: np.ndarray,
         y_pred: Optional[np.ndarray], batch_size: int) -> Dict[str, float]:
    """The logs: the core's are global already; the metrics computed in Python (the user's
    own) see the rows every rank computed, rank by rank."""
    if y_pred is not None:
        done = np.isfinite(y_pred).all(axis=1)
        parts = dist.comm.allgather((y[done], y_pred[done]))
        y, y_pred = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return model._compiled_metrics.logs(dict(core_logs), y, y_pred, batch_size)


def evaluate(dist: Any, model: Any, data: Any, batch_size: int) -> Dict[str, float]:
    """fit's validation: each rank evaluates its part (or its shard); the loss and the metric
    states are summed over the ranks."""
    part = share(len(data), dist) if dist.auto_shard_dataset else slice(0, len(data))
    rows = part.stop - part.start
    y_pred = pred_buffer(model, rows)
    with phase(dist):  # a rank whose evaluation failed fails every rank
        if rows:
            model._core.evaluate(data if rows == len(data) else data.slice(part.start, part.stop),
                                 batch_size=batch_size, y_pred_out=y_pred)
    core_logs = model._core.sum_logs(dist._reducer, reset=rows == 0)
    return logs(dist, model, core_logs, data.y[part], y_pred, batch_size)


def train_batch(dist: Any, model: Any, data: Any) -> Dict[str, float]:
    """train_on_batch: one step over every rank's batch (replicated: its part of the same one)."""
    if getattr(model, "_synced_with", None) is not dist:
        sync(dist, model)
    y_pred = pred_buffer(model, len(data))
    # The global batch is all rows: the same number on every rank either way.
    batch = len(data) if dist.auto_shard_dataset else 1 << 62
    core_logs = model._core.train_epoch(data, batch_size=batch, shuffle=False, seed=0,
                                        y_pred_out=y_pred, reducer=dist._reducer)
    return logs(dist, model, dict(core_logs), data.y, y_pred, len(data))


def local_callbacks(dist: Any, callbacks: List[Any]) -> List[Any]:
    """Only rank 0 shows progress."""
    if dist is None or dist.rank == 0:
        return callbacks
    from fastmlp.callbacks import ProgbarLogger
    return [cb for cb in callbacks if not isinstance(cb, ProgbarLogger)]
