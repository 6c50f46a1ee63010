"""scipy.sparse inputs for fit / evaluate / predict, as Keras accepts them.

A sparse ``x`` is never densified whole (a 200,000 x 5,000 matrix would take 4 GB): the core
reads a CSR matrix itself, in a `_core.Dataset` (fit, evaluate) or in ``predict``, and densifies
the rows of one batch or row block at a time into its workspace, so the batches, and the results,
are those of the dense array. `prepare` gives the matrix the form the core reads.

scipy stays optional: it is never imported here (see `fastmlp._checks.is_sparse`).
"""

from __future__ import annotations

from typing import Any

from fastmlp._checks import is_sparse  # noqa: F401  (re-exported for the training code)


def prepare(x: Any, dim: int, name: str) -> Any:
    """The scipy.sparse ``x`` of shape ``(n, dim)`` as CSR with sorted column indices and no
    duplicate entries (summed, in a copy, as ``toarray`` sums them); the core checks its values."""
    shape = tuple(x.shape)
    if len(shape) != 2 or shape[1] != dim:
        raise ValueError(f"Argument `{name}` must have shape (None, {dim}) to match the model's "
                         f"input; received a scipy.sparse matrix of shape {shape}.")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{name}` must hold real numbers; received a scipy.sparse "
                        f"matrix of dtype {x.dtype}.")
    return canonical(x.tocsr())


def canonical(csr: Any) -> Any:
    """``csr`` itself when its indices are sorted and unique, else a copy made so."""
    if csr.has_canonical_format:
        return csr
    csr = csr.copy()
    csr.sum_duplicates()  # also sorts the indices
    return csr
