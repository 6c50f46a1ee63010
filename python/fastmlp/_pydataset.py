"""`PyDataset` (Keras 3's ``keras.utils.PyDataset``, also exported as ``Sequence``): batches made
by Python code, for data that does not fit in memory."""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Iterator, Optional

from fastmlp import _checks

_MULTIPROCESSING = ("`use_multiprocessing=True` is not supported by fastmlp: its workers are "
                    "threads, which make batches while the C++ training step runs (the step "
                    "releases the GIL). Use `workers=N` alone. Received: use_multiprocessing=True")


class PyDataset:
    """Base class of a dataset whose batches Python code makes (read from disk, augmented, ...).

    Implement ``__getitem__(index)`` (the batch at ``index``: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``) and ``__len__()`` (the number of batches), or a
    ``num_batches`` property that returns None for an infinite dataset (``fit`` then needs
    ``steps_per_epoch``). ``on_epoch_begin`` / ``on_epoch_end`` are called around each epoch
    (and each evaluation). ``fit``, ``evaluate`` and ``predict`` take it as ``x``; each batch
    is one call into the C++ core.

    Args:
        workers: with 2 or more, that many threads make the next batches (at most
            ``max_queue_size`` ahead, in order) while the core trains on the current one; 0 or
            1 make them in the calling thread. Defaults to 1.
        use_multiprocessing: must be False (worker processes are not supported; threads
            overlap with the C++ step, which releases the GIL). Defaults to False.
        max_queue_size: batches made ahead with ``workers >= 2``. Defaults to 10.

    Example:
        >>> class Files(fastmlp.utils.PyDataset):
        ...     def __init__(self, paths, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.paths = paths
        ...     def __len__(self):
        ...         return len(self.paths)
        ...     def __getitem__(self, i):
        ...         with np.load(self.paths[i]) as f:
        ...             return f["x"], f["y"]
        >>> model.fit(Files(paths, workers=2), epochs=5)
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = False
        for name, default in (("_workers", 1), ("_use_multiprocessing", False),
                              ("_max_queue_size", 10)):
            if not hasattr(self, name):
                setattr(self, name, default)
                missing = True
        if missing:
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                          "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                          "`max_queue_size`. Do not pass these arguments to `fit()`, as they will "
                          "be ignored.", UserWarning, stacklevel=3)

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = _checks.integer("workers", value, 0)

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        if _checks.flag("use_multiprocessing", value):
            raise ValueError(_MULTIPROCESSING)
        self._use_multiprocessing = False

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = _checks.integer("max_queue_size", value, 1)

    def __getitem__(self, index: int) -> Any:
        """The batch at position ``index``."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        count = self.num_batches
        for index in (itertools.count() if count is None else range(count)):
            yield self[index]

    @property
    def num_batches(self) -> Optional[int]:
        """The number of batches (``len(self)``), or None for an infinite dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError("You need to implement the `num_batches` property:\n\n"
                                  "@property\ndef num_batches(self):\n  return ...")

    def on_epoch_begin(self) -> None:
        """Called at the beginning of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch."""
