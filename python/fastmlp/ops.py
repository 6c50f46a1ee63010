"""Low-level operations on NumPy arrays, backed by the C++ core."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _core

if _typing.TYPE_CHECKING:
    from typing import Optional

__all__ = ["matmul"]


_F32 = np.dtype(np.float32)
_ITEM = _F32.itemsize


def _usable_in_place(arr: np.ndarray) -> bool:
    """True if the core can read this 2-D float32 array without a copy: a unit stride along one
    axis and a non-negative leading dimension covering the other (row- or column-major views)."""
    (r, c), (s0, s1) = arr.shape, arr.strides
    if (s1 == _ITEM or c <= 1) and (r <= 1 or (s0 % _ITEM == 0 and s0 >= _ITEM * c)):
        return True
    return (s0 == _ITEM or r <= 1) and (c <= 1 or (s1 % _ITEM == 0 and s1 >= _ITEM * r))


def _as_float32_matrix(x, name: str) -> np.ndarray:
    # Fast path first: these checks run on every call, including tiny products. `x.dtype == _F32`
    # is False for byte-swapped float32 ('>f4'); `aligned` is False for views at odd offsets.
    if type(x) is np.ndarray and x.dtype == _F32 and x.ndim == 2 and x.flags.aligned and \
            _usable_in_place(x):
        return x
    if not isinstance(x, np.ndarray):
        from fastmlp._checks import refuse_sparse
        refuse_sparse(x, name)
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"matmul: `{name}` must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"matmul: `{name}` must be 2-D, got shape {arr.shape}")
    # Other dtypes, byte orders and layouts (misaligned data, negative or non-unit strides in both
    # axes) are converted once to an aligned C-contiguous float32 copy.
    if arr.dtype == _F32 and arr.flags.aligned and (arr.size == 0 or _usable_in_place(arr)):
        return arr
    return np.require(arr, dtype=_F32, requirements=("C", "A"))


def _writable_in_place(out: np.ndarray) -> bool:
    """True if the core can write this float32 array directly: native byte order, aligned, a unit
    stride along the last axis and rows that do not overlap."""
    if out.dtype != _F32 or not out.flags.aligned:
        return False
    (m, n), (s0, s1) = out.shape, out.strides
    return out.size == 0 or ((s1 == _ITEM or n <= 1) and (m <= 1 or s0 >= _ITEM * n))


def _check_out(out, a32, b32, m: int, n: int) -> None:
    if type(out) is not np.ndarray or out.dtype.kind != "f" or out.dtype.itemsize != _ITEM:
        raise ValueError(f"matmul: `out` must be a float32 NumPy array, got {type(out).__name__}"
                         f" of dtype {getattr(out, 'dtype', None)}")
    if out.shape != (m, n):
        raise ValueError(
            f"matmul: `out` has shape {out.shape} but a {a32.shape} and b {b32.shape} give "
            f"({m}, {n})"
        )
    if not out.flags.writeable:
        raise ValueError("matmul: `out` is read-only")
    # Arrays that own their buffers (base is None) cannot overlap unless they are the same object;
    # only views pay for the bounds test, and only overlapping bounds for the exact one.
    for x in (a32, b32):
        if out is x or ((out.base is not None or x.base is not None)
                        and np.may_share_memory(out, x) and np.shares_memory(out, x)):
            raise ValueError("matmul: `out` must not overlap `a` or `b`")


def matmul(
    a,
    b,
    *,
    transpose_a: bool = False,
    transpose_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Compute ``alpha * op(a) @ op(b) + beta * out`` in float32.

    Args:
        a: 2-D array; ``op(a)`` is ``a.T`` if ``transpose_a`` else ``a``.
        b: 2-D array; ``op(b)`` is ``b.T`` if ``transpose_b`` else ``b``.
        transpose_a: use the transpose of ``a``. Defaults to False.
        transpose_b: use the transpose of ``b``. Defaults to False.
        alpha: scale of the product. Defaults to 1.0.
        beta: scale of ``out``'s previous contents (only meaningful with ``out``). Defaults to 0.0.
        out: optional float32 array of the result's shape (any byte order, strides or
            alignment), written in place and returned.

    Aligned native-order float32 inputs with a unit stride along one axis are used without a
    copy; other dtypes, byte orders and layouts are converted once to C-contiguous float32. An
    ``out`` the core cannot write directly (byte-swapped, misaligned, strided) gets the result
    through an aligned temporary.

    Returns:
        The ``(m, n)`` float32 result (``out`` if given).

    Example:
        >>> c = fastmlp.ops.matmul(np.ones((2, 3)), np.ones((3, 4)))
    """
    if type(transpose_a) is not bool or type(transpose_b) is not bool:
        from fastmlp._checks import flag
        transpose_a = flag("transpose_a", transpose_a)
        transpose_b = flag("transpose_b", transpose_b)
    fast = _core._matmul_fast(a, b, transpose_a, transpose_b, alpha, beta, out)
    if fast is not None:  # the plain case, checked in C++ (~0.5 us instead of ~3 us)
        return fast
    for name, value in (("alpha", alpha), ("beta", beta)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"matmul: `{name}` must be a real number, got {value!r}")
    a32 = _as_float32_matrix(a, "a")
    b32 = _as_float32_matrix(b, "b")
    m = a32.shape[1] if transpose_a else a32.shape[0]
    ka = a32.shape[0] if transpose_a else a32.shape[1]
    kb = b32.shape[1] if transpose_b else b32.shape[0]
    n = b32.shape[0] if transpose_b else b32.shape[1]
    if ka != kb:
        raise ValueError(
            f"matmul: inner dimensions differ: a has shape {a32.shape}"
            f"{' (transposed)' if transpose_a else ''} and b has shape {b32.shape}"
            f"{' (transposed)' if transpose_b else ''}"
        )
    if out is None:
        if beta != 0.0:
            raise ValueError("matmul: beta != 0 needs `out` (the matrix it scales)")
        out = np.empty((m, n), dtype=np.float32)
    else:
        _check_out(out, a32, b32, m, n)
        if not _writable_in_place(out):
            tmp = np.array(out, dtype=_F32, order="C") if beta != 0.0 else \
                np.empty((m, n), dtype=_F32)
            _core.matmul_into(a32, b32, tmp, bool(transpose_a), bool(transpose_b),
                              float(alpha), float(beta))
            out[...] = tmp
            return out
    _core.matmul_into(a32, b32, out, bool(transpose_a), bool(transpose_b), float(alpha),
                      float(beta))
    return out
