"""Data-parallel training across processes (and machines) on MPI, with Keras 3's names.

Launch one process per rank with ``mpirun -n 4 python train.py`` (or ``mpirun -n 4 fastmlp
train``); in the script::

    from fastmlp import distribution
    distribution.set_distribution(distribution.DataParallel())
    model.fit(x, y, batch_size=256, epochs=10)   # every rank calls it

Every rank holds the whole model; `fit` starts from rank 0's weights, optimizer and shuffle
state. ``batch_size`` is the global batch: each rank computes the gradients of its part of each
batch, the core sums them (weighted by rows) with MPI_Allreduce between the backward pass and
the optimizer step, inside the C++ loop, and every rank applies the same step, so the weights stay
bitwise identical. With ``auto_shard_dataset=True`` (default) every rank passes the same full
arrays and trains on its disjoint part of each batch of one shared, per-epoch reshuffled order
(as ``DistributedSampler.set_epoch``); with ``False`` each rank passes its own shard (shards
may differ in size: each rank takes its proportional part of every step, so all finish
together). Sample and class weights weight the global batch as in one process.

What differs from one process:

- Logs and callbacks see the global epoch values (the loss and every metric's state summed over
  every rank's rows; metrics of the user's own, computed in Python, see every rank's outputs);
  within an epoch, per-batch logs are this rank's running values. EarlyStopping,
  ReduceLROnPlateau and ``stop_training`` decide the same on every rank (any rank's stop stops
  all). Only rank 0 prints and writes files (``save``, ``save_weights``, ModelCheckpoint,
  CSVLogger); the other ranks skip the write.
- Validation data is split between the ranks like the training data; the loss and the metric
  states are summed, so every metric (AUC and the others included) is that of all the rows.
- BatchNormalization normalizes with each rank's local batch statistics; its moving statistics
  become the rows-weighted mean over the ranks at the end of every epoch.
- Dropout draws independent masks on each rank (one random stream per step and rank).
- A rank that fails (a bad argument, NaN in its rows, a callback that raises, Ctrl-C) makes every
  rank raise the same error (its type, its message, the failing rank) instead of leaving the
  others blocked; a killed rank ends the job (MPI's default).
- `fit` and `train_on_batch` are collective: every rank must call them. `evaluate`, `predict`
  and `test_on_batch` stay local, so ``if distribution.rank() == 0: model.evaluate(...)`` works.
- ``steps_per_epoch`` needs ``auto_shard_dataset=True``. One fit at a time per distribution
  (its collectives run on one communicator).
"""

from __future__ import annotations

import os
import typing as _typing

from fastmlp import _checks, _core, _progbar
from fastmlp.distribution import _mpi

if _typing.TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["DataParallel", "distribution", "rank", "set_distribution", "size"]

_current: Optional["DataParallel"] = None


class DataParallel:
    """Data parallelism over the processes of an MPI communicator (one model replica each).

    Args:
        device_mesh, devices: Keras's ways of naming devices; fastmlp runs one process per rank
            (launched by mpirun) on the CPU, so both must be None.
        auto_shard_dataset: True (default): every rank passes the same full arrays and trains
            on its part of each batch. False: each rank passes its own shard of the data.
        comm: an mpi4py intracommunicator. Defaults to ``MPI.COMM_WORLD``. fastmlp works on a
            duplicate of it, so its messages never mix with the program's own.

    Example:
        >>> distribution.set_distribution(distribution.DataParallel())
    """

    def __init__(self, device_mesh: Any = None, devices: Any = None,
                 auto_shard_dataset: bool = True, comm: Any = None) -> None:
        for name, value in (("device_mesh", device_mesh), ("devices", devices)):
            if value is not None:
                raise _checks.invalid(name, "None (fastmlp trains one process per rank on the "
                                      "CPU; launch the ranks with mpirun)", value)
        replicated = _checks.flag("auto_shard_dataset", auto_shard_dataset)
        MPI = _mpi.import_mpi()
        base = MPI.COMM_WORLD if comm is None else comm
        if not isinstance(base, MPI.Intracomm):
            raise _checks.invalid("comm", "an mpi4py intracommunicator (e.g. MPI.COMM_WORLD)",
                                  comm)
        dup = base.Dup()
        self._setup(dup, _mpi.reducer(MPI, dup, replicated), replicated)

    @classmethod
    def _single(cls, auto_shard_dataset: bool = True) -> "DataParallel":
        """A group of this one process, without MPI (tests: the distributed code path alone)."""
        self = cls.__new__(cls)
        self._setup(_mpi.LocalComm(), _core.GradientReducer.single(auto_shard_dataset),
                    auto_shard_dataset)
        return self

    def _setup(self, comm: Any, reducer: Any, replicated: bool) -> None:
        self.comm, self._reducer, self.auto_shard_dataset = comm, reducer, replicated
        self._rank, self._size = int(comm.Get_rank()), int(comm.Get_size())

    @property
    def rank(self) -> int:
        """This process's rank in the communicator."""
        return self._rank

    @property
    def size(self) -> int:
        """The number of ranks."""
        return self._size

    num_processes = size  # Keras's names
    data_shard_id = rank

    def __repr__(self) -> str:
        return (f"DataParallel(rank={self.rank}, size={self.size}, "
                f"auto_shard_dataset={self.auto_shard_dataset})")


def set_distribution(value: Optional[DataParallel]) -> None:
    """Sets the distribution `fit` uses (None: train in this process alone)."""
    global _current
    if value is not None and not isinstance(value, DataParallel):
        raise _checks.invalid("value", "a fastmlp.distribution.DataParallel or None", value)
    _current = value
    _progbar.muted = value is not None and value.rank != 0


def distribution() -> Optional[DataParallel]:
    """The distribution set by `set_distribution`, or None."""
    return _current


_LAUNCHER = {"rank": ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"),
             "size": ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")}


def _from_launcher(what: str, default: int) -> int:
    for name in _LAUNCHER[what]:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return default


def rank() -> int:
    """This process's rank: the distribution's, else the one mpirun gave it, else 0."""
    return _current.rank if _current is not None else _from_launcher("rank", 0)


def size() -> int:
    """The number of ranks: the distribution's, else mpirun's, else 1."""
    return _current.size if _current is not None else _from_launcher("size", 1)


def _launched() -> Optional[DataParallel]:
    """A DataParallel when mpirun started this process as one of several ranks, else None."""
    return DataParallel() if _from_launcher("size", 1) > 1 else None


def _active() -> Optional[DataParallel]:
    return _current


def _writes_here() -> bool:
    """Whether this process writes files and prints (only rank 0 does under a distribution)."""
    return _current is None or _current.rank == 0
