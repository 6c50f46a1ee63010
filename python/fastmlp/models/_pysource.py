"""Batches from Python (a generator, a `PyDataset`) for fit / evaluate / predict.

Keras 3's semantics (keras/src/trainers/epoch_iterator.py and the generator / PyDataset
adapters): a generator yields ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` tuples and is
read on across epochs (without ``steps_per_epoch`` an epoch ends when it is exhausted); a
PyDataset gives its ``len()`` batches each epoch, in a shuffled order with ``shuffle=True``, and
with ``steps_per_epoch`` goes on where the last epoch stopped. Where Keras replays the batches it
peeked at once a generator is exhausted, fastmlp warns (Keras's words) and stops training.

Each batch is checked (its arrays as fit checks arrays, and against the first batch: the same
sample shapes and dtypes) with errors naming the batch, then trained or evaluated in one call to
the core (GIL released); the loss mean and the metrics accumulate over the epoch's calls.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import types
import warnings
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from fastmlp import _core
from fastmlp._pydataset import PyDataset

RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset or "
           "generator can generate at least `steps_per_epoch * epochs` batches.")
_TUPLE = ("When passing a Python generator to a fastmlp model, the generator must return a "
          "tuple, either (input,) or (inputs, targets) or (inputs, targets, sample_weights). "
          "Received: {}")


def is_source(x: Any) -> bool:
    return isinstance(x, (types.GeneratorType, PyDataset))


def _kind(x: Any) -> str:
    return "generator" if isinstance(x, types.GeneratorType) else "PyDataset"


def make(x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
         shuffle: bool = False) -> "Source":
    """The source of ``x`` (after Keras's checks of the arguments that cannot go with it)."""
    kind = _kind(x)
    for name, value, what in (("y", y, "the targets"),
                              ("sample_weight", sample_weight, "the sample weights")):
        if value is not None:
            raise ValueError(f"When providing `x` as a {kind}, `{name}` should not be passed. "
                             f"Instead, {what} should be included as part of the {kind}.")
    if kind == "generator":
        if class_weight is not None:
            raise ValueError("Argument `class_weight` is not supported for Python generator "
                             f"inputs. Received: class_weight={class_weight}")
        if shuffle:
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` "
                          "was provided as a generator. The generator is expected to yield "
                          "already-shuffled data.", UserWarning, stacklevel=4)
        return GeneratorSource(x)
    return DatasetSource(x, class_weight, shuffle)


class Source:
    """Batches of one generator or PyDataset, checked against the first one."""

    kind = ""
    num_batches: Optional[int] = None
    class_weight: Any = None

    def __init__(self) -> None:
        self._first: Optional[Tuple[Any, ...]] = None  # (x, y, sw) shapes[1:] and dtypes
        self.ran_out = False
        self.count = 0  # batches the last epoch gave

    def has_data(self) -> bool:
        return True

    def epoch(self, steps: Optional[int], seed: int = 0) -> Iterator[Tuple[int, str, Any]]:
        """(position in the epoch, how to name it, raw batch) for each batch of one epoch."""
        raise NotImplementedError

    def _standardize(self, batch: Any, where: str) -> Tuple[Any, Any, Any]:
        if not isinstance(batch, tuple) or not 1 <= len(batch) <= 3:
            raise ValueError(f"{where}: " + _TUPLE.format(f"{str(batch)[:100]} of type "
                                                          f"{type(batch).__name__}"))
        x, y, sw = (tuple(batch) + (None, None))[:3]
        shape = tuple(None if a is None else _signature(a) for a in (x, y, sw))
        if self._first is None:
            self._first = shape
        elif shape != self._first:
            raise ValueError(f"{where} does not match the first batch: "
                             f"{_describe(shape)} where the first had {_describe(self._first)} "
                             "(every batch must have the same sample shapes and dtypes)")
        return x, y, sw


def _signature(a: Any) -> Tuple[Tuple[int, ...], Any]:
    """(sample shape, dtype) of an array-like (a scipy.sparse matrix has both too)."""
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        a = np.asarray(a)
    return tuple(a.shape[1:]), a.dtype


def _describe(shape: Tuple[Any, ...]) -> str:
    parts = []
    for name, entry in zip(("x", "y", "sample_weight"), shape):
        parts.append(f"{name} absent" if entry is None else
                     f"{name} of sample shape {entry[0]} and dtype {entry[1]}")
    return ", ".join(parts)


class GeneratorSource(Source):
    kind = "generator"

    def __init__(self, generator: Any) -> None:
        super().__init__()
        self._generator, self._peeked = generator, None
        self._count = 0  # batches drawn so far

    def has_data(self) -> bool:
        if self._peeked is None:
            self._peeked = next(self._generator, None)
        return self._peeked is not None

    def epoch(self, steps: Optional[int], seed: int = 0) -> Iterator[Tuple[int, str, Any]]:
        b = self.count = 0
        while steps is None or b < steps:
            if not self.has_data():
                if steps is not None:
                    self.ran_out = True
                return
            batch, self._peeked = self._peeked, None
            where = f"Batch {self._count} from the generator"
            self._count += 1
            b = self.count = b + 1
            yield b - 1, where, self._standardize(batch, where)


class DatasetSource(Source):
    kind = "PyDataset"

    def __init__(self, dataset: PyDataset, class_weight: Any, shuffle: bool) -> None:
        super().__init__()
        self.dataset, self.class_weight, self.shuffle = dataset, class_weight, shuffle
        self.num_batches = dataset.num_batches
        if self.num_batches is not None and self.num_batches < 1:
            raise ValueError(f"The PyDataset has length {self.num_batches}: it must hold at least"
                             " one batch.")
        if self.num_batches is None and shuffle:
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` "
                          "was provided as an infinite PyDataset. The PyDataset is expected to "
                          "already be shuffled.", UserWarning, stacklevel=4)
        self._workers, self._queue = dataset.workers, dataset.max_queue_size
        self._position, self._order = 0, None  # where the next epoch starts, this pass's order

    def _indices(self, steps: Optional[int], seed: int) -> List[int]:
        n = self.num_batches
        if n is None:
            first = self._position
            self._position += steps
            return list(range(first, first + steps))
        if self._position == 0:  # a new pass over the batches
            self._order = _core._shuffled_order(n, seed) if self.shuffle else np.arange(n)
        first = self._position if steps is not None else 0
        count = n - first if steps is None else min(steps, n - first)
        self.ran_out = steps is not None and count < steps
        self._position = 0 if first + count >= n else first + count
        return [int(i) for i in self._order[first:first + count]]

    def epoch(self, steps: Optional[int], seed: int = 0) -> Iterator[Tuple[int, str, Any]]:
        indices = self._indices(steps, seed)
        self.count = len(indices)
        self.dataset.on_epoch_begin()
        fetched = _fetch(self.dataset, indices, self._workers, self._queue)
        try:
            for b, (index, batch) in enumerate(fetched):
                if isinstance(batch, np.ndarray):
                    batch = (batch,)
                elif isinstance(batch, list):
                    batch = tuple(batch)
                where = f"Batch {index} of the PyDataset (__getitem__({index}))"
                x, y, sw = self._standardize(batch, where)
                if self.class_weight is not None and sw is not None:
                    raise ValueError(f"{where}: you cannot specify `class_weight` and "
                                     "`sample_weight` at the same time.")
                yield b, where, (x, y, sw)
        except GeneratorExit:  # the loop stopped inside the epoch (stop_training)
            fetched.close()
            self.dataset.on_epoch_end()
            raise
        finally:
            fetched.close()
        self.dataset.on_epoch_end()


def _fetch(dataset: Any, indices: List[int], workers: int, queue: int
           ) -> Iterator[Tuple[int, Any]]:
    """``(i, dataset[i])`` in order; with 2+ workers, threads make up to ``queue`` batches
    ahead (they run while the core trains: the step releases the GIL)."""
    if workers <= 1:
        for i in indices:
            yield i, dataset[i]
        return
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                 thread_name_prefix="fastmlp-PyDataset")
    pending: collections.deque = collections.deque()
    todo = iter(indices)
    try:
        for i in todo:
            pending.append((i, pool.submit(dataset.__getitem__, i)))
            if len(pending) >= queue:
                break
        while pending:
            i, future = pending.popleft()
            batch = future.result()
            for j in todo:
                pending.append((j, pool.submit(dataset.__getitem__, j)))
                break
            yield i, batch
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True)


# ---- the model's side ---------------------------------------------------------------------------
def _batch_data(model: Any, where: str, batch: Tuple[Any, Any, Any], class_weight: Any) -> Any:
    x, y, sw = batch
    try:
        data, dtype = model._dataset(x, y, sw, class_weight)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{where}: {e}") from None
    return data, dtype


class _PythonMetrics:
    """Metrics of the user's own, updated batch by batch over the epoch (Keras's order)."""

    def __init__(self, model: Any) -> None:
        self.compiled = model._compiled_metrics
        self.compiled.reset_python()

    def buffer(self, model: Any, rows: int) -> Optional[np.ndarray]:
        return model._pred_buffer(rows) if self.compiled.python else None

    def update(self, data: Any, y_pred: Optional[np.ndarray]) -> None:
        if self.compiled.python:
            self.compiled.update_python(data.y, y_pred, data.sample_weight)

    def logs(self, model: Any, core_logs: Dict[str, Any]) -> Dict[str, Any]:
        return self.compiled.current_logs(core_logs)


def train_epoch(model: Any, source: Source, steps: Optional[int], cbs: Any,
                stop_on_nonfinite: bool, seed: int) -> Dict[str, float]:
    """One epoch over the source's batches, one core call each; the running logs."""
    metrics, logs = _PythonMetrics(model), {}
    with contextlib.closing(source.epoch(steps, seed)) as batches:
        for b, where, batch in batches:
            if _train_batch(model, b, where, batch, source, cbs, metrics, stop_on_nonfinite,
                            logs):
                break
    model._epochs_seen += 1
    if source.ran_out:
        warnings.warn(RAN_OUT, UserWarning, stacklevel=3)
        model.stop_training = source.kind == "generator"  # a PyDataset starts over next epoch
    return logs


def _train_batch(model: Any, b: int, where: str, batch: Tuple[Any, Any, Any], source: Source,
                 cbs: Any, metrics: "_PythonMetrics", stop_on_nonfinite: bool,
                 logs: Dict[str, float]) -> bool:
    """One batch: checked, one core call, callbacks; ``logs`` updated; True to stop."""
    data, dtype = _batch_data(model, where, batch, source.class_weight)
    model._note_training_input(dtype, data)
    cbs.on_train_batch_begin(b)
    y_pred = metrics.buffer(model, len(data))
    try:
        core_logs = model._core.train_epoch(data, batch_size=max(1, len(data)),
                                            shuffle=False, seed=0, y_pred_out=y_pred,
                                            stop_on_nonfinite=stop_on_nonfinite,
                                            reset_metrics=b == 0)
    except FloatingPointError as e:
        raise FloatingPointError(f"{where}: " + str(e).replace("of batch 1 (of 1) ", "", 1)
                                 ) from None
    metrics.update(data, y_pred)
    logs.clear()
    logs.update(metrics.logs(model, dict(core_logs)))
    cbs.on_train_batch_end(b, dict(logs))
    return bool(model.stop_training)


def evaluate(model: Any, source: Source, steps: Optional[int], what: str) -> Dict[str, float]:
    """Loss and metrics over the source's batches (inference mode), one core call each."""
    metrics, logs = _PythonMetrics(model), None
    with contextlib.closing(source.epoch(steps)) as batches:
        for b, where, batch in batches:
            data, _ = _batch_data(model, where, batch, None)
            y_pred = metrics.buffer(model, len(data))
            core_logs = model._core.evaluate(data, batch_size=max(1, len(data)),
                                             y_pred_out=y_pred, reset_metrics=b == 0)
            metrics.update(data, y_pred)
            logs = metrics.logs(model, dict(core_logs))
    if logs is None:
        raise ValueError(f"`{what}` yielded no batch to evaluate on (an exhausted generator?).")
    return logs


def predict(model: Any, source: Source, steps: Optional[int]) -> np.ndarray:
    """The outputs of every batch's x, concatenated."""
    from fastmlp.models._data import prepare_x
    outputs = []
    with contextlib.closing(source.epoch(steps)) as batches:
        for _, where, (x, _, _) in batches:
            try:
                model._ensure_built(x)
                xs = prepare_x(x, model._sample_shape, "x", sparse_ok=True)
            except (ValueError, TypeError) as e:
                raise type(e)(f"{where}: {e}") from None
            outputs.append(model._core.predict(xs))
    if not outputs:
        raise ValueError("`x` yielded no batch to predict on (an exhausted generator?).")
    return np.concatenate(outputs)
