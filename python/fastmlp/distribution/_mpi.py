"""mpi4py, imported only when a `DataParallel` is made: the communicator's handles for the core.

The core calls MPI_Allreduce / MPI_Bcast from the library mpi4py loaded (found with dlsym at run
time, never linked), on mpi4py's communicator, datatype and operation handles.
"""

from __future__ import annotations

from typing import Any, List

from fastmlp import _core

MISSING = ("fastmlp.distribution needs mpi4py and an MPI library (e.g. Open MPI: apt-get install "
           "openmpi-bin libopenmpi-dev): pip install fastmlp[mpi]")


def import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"{MISSING} ({e})") from e
    return MPI


def _loaded_mpi_libraries() -> List[str]:
    """MPI libraries mapped into this process (for mpi4py builds that load theirs at run time)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = [line.split()[-1] for line in maps if "libmpi" in line]
    except OSError:
        return []
    return list(dict.fromkeys(p for p in paths if p.startswith("/")))


def _handle_bytes(MPI: Any) -> int:
    """sizeof(MPI_Comm): a pointer in Open MPI (and its derivatives), an int in MPICH's family."""
    sizeof = getattr(MPI, "_sizeof", None)
    if sizeof is not None:
        return int(sizeof(MPI.Comm))
    vendor = MPI.get_vendor()[0]
    return 8 if vendor == "Open MPI" else 4


def reducer(MPI: Any, comm: Any, replicated: bool) -> Any:
    mask = (1 << 64) - 1
    handles = {
        "libraries": [MPI.__file__] + _loaded_mpi_libraries() + [""],
        "comm": comm.handle & mask, "float": MPI.FLOAT.handle & mask,
        "double": MPI.DOUBLE.handle & mask, "byte": MPI.BYTE.handle & mask,
        "sum": MPI.SUM.handle & mask, "min": MPI.MIN.handle & mask,
        "in_place": int(MPI.IN_PLACE) & mask, "handle_bytes": _handle_bytes(MPI),
        "rank": comm.Get_rank(), "size": comm.Get_size()}
    return _core.GradientReducer.from_mpi(handles, replicated)


class LocalComm:
    """mpi4py's lowercase collectives for a group of one process (tests without MPI)."""

    def Get_rank(self) -> int:
        return 0

    def Get_size(self) -> int:
        return 1

    def bcast(self, obj: Any, root: int = 0) -> Any:
        return obj

    def allgather(self, obj: Any) -> List[Any]:
        return [obj]
