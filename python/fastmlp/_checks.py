"""Argument checks shared by the public API, all with Keras's message shape:

    Received an invalid value for `validation_split`, expected a float in [0, 1).
    Received: validation_split='0.2'

Each check refuses the wrong type as well as the wrong value, so that no NumPy or Python
internals ("'<=' not supported between instances of 'float' and 'str'") reach the user, and
bools are never taken for numbers (``True`` is an int to Python, rarely what a caller meant).
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np

_BOOLS = (bool, np.bool_)


def invalid(name: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"Received an invalid value for `{name}`, expected {expected}. "
                      f"Received: {name}={_show(value)}")


def not_built(what: str, model_name: str) -> ValueError:
    """The error for a call that needs a built model (weights, a summary, a file)."""
    return ValueError(f"You tried to call `{what}` on model {model_name!r}, but it isn't built. "
                      f"Give it an input shape (layers.Input(shape=...)), call "
                      f"`build(input_shape)`, or call it on data first.")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def is_real(value: Any) -> bool:
    """A real scalar (int, float or a NumPy number), not a bool, str or complex."""
    return isinstance(value, numbers.Real) and not isinstance(value, _BOOLS)


def _range_text(kind: str, low: Optional[float], high: Optional[float], low_open: bool,
                high_open: bool) -> str:
    if low is None and high is None:
        return f"a finite {kind}"
    if high is None:
        return f"a {kind} {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"a {kind} {'<' if high_open else '<='} {high:g}"
    return (f"a {kind} in {'(' if low_open else '['}{low:g}, {high:g}"
            f"{')' if high_open else ']'}")


def number(name: str, value: Any, low: Optional[float] = None, high: Optional[float] = None,
           *, low_open: bool = False, high_open: bool = False, optional: bool = False,
           expected: Optional[str] = None) -> Optional[float]:
    """A finite real number within the bounds (open or closed), as a float."""
    if value is None and optional:
        return None
    ok = is_real(value) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (low is None or (v > low if low_open else v >= low)) and \
             (high is None or (v < high if high_open else v <= high))
    if not ok:
        wanted = expected or _range_text("number", low, high, low_open, high_open)
        raise invalid(name, wanted + (" or None" if optional else ""), value)
    return float(value)


def integer(name: str, value: Any, minimum: Optional[int] = None, *, optional: bool = False,
            expected: Optional[str] = None) -> Optional[int]:
    """An integer (Python or NumPy, not bool) >= minimum, as an int."""
    if value is None and optional:
        return None
    ok = isinstance(value, numbers.Integral) and not isinstance(value, _BOOLS) and \
        (minimum is None or value >= minimum)
    if not ok:
        if expected is None:
            expected = {None: "an integer", 0: "a non-negative integer",
                        1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise invalid(name, expected + (" or None" if optional else ""), value)
    return int(value)


def flag(name: str, value: Any) -> bool:
    """True/False (also NumPy bools and the integers 0 and 1)."""
    if isinstance(value, _BOOLS) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise invalid(name, "True or False", value)


def text(name: str, value: Any, choices: Optional[Sequence[str]] = None, *,
         optional: bool = False) -> Optional[str]:
    """A string (one of ``choices`` when given)."""
    if value is None and optional:
        return None
    if isinstance(value, str) and (choices is None or value in choices):
        return value
    expected = "a string" if choices is None else "one of " + ", ".join(map(repr, choices))
    raise invalid(name, expected + (" or None" if optional else ""), value)


def function(name: str, value: Any, *, optional: bool = False) -> Optional[Callable]:
    if value is None and optional:
        return None
    if callable(value):
        return value
    raise invalid(name, "a function" + (" or None" if optional else ""), value)


def path(name: str, value: Any) -> str:
    """A file path (str or os.PathLike), as a str."""
    if isinstance(value, (str, os.PathLike)):
        result = os.fspath(value)
        if isinstance(result, str) and result:
            return result
    raise invalid(name, "a file path (a non-empty str or os.PathLike)", value)


def verbosity(name: str, value: Any) -> int:
    """A callback's ``verbose``: a non-negative integer (True/False as 1/0, as Keras allows)."""
    if isinstance(value, _BOOLS):
        return int(value)
    return integer(name, value, 0)


def sample_shape(name: str, shape: Any) -> Tuple[int, ...]:
    """The shape of one sample (without the batch axis): positive integers; an int is (int,)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, _BOOLS):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise invalid(name, "a tuple of positive integers", shape) from None
    if not dims or any(isinstance(d, _BOOLS) or not isinstance(d, numbers.Integral) or d <= 0
                       for d in dims):
        raise invalid(name, "a non-empty tuple of positive integers (the shape of one sample, "
                      "without the batch axis)", shape)
    return tuple(int(d) for d in dims)


def float32_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` (None, a name, a NumPy type) means float32; False for nonsense."""
    if dtype is None or dtype is np.float32 or (isinstance(dtype, str) and dtype == "float32"):
        return True
    try:
        return np.dtype(dtype) == np.float32
    except (TypeError, ValueError):
        return False


def is_sparse(x: Any) -> bool:
    """A scipy.sparse matrix or array. One can only exist once scipy.sparse is imported, so scipy
    (optional) is looked up, never imported."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(x)


def refuse_sparse(value: Any, name: str) -> None:
    if is_sparse(value):
        raise TypeError(f"Argument `{name}` is a scipy.sparse matrix; it must be a dense array "
                        f"here (call `{name}.toarray()`). Sparse inputs `x` are accepted by "
                        f"fit, evaluate and predict.")


def real_array(value: Any, name: str, what: str = "real numbers") -> np.ndarray:
    """``np.asarray(value)``, refusing anything that is not bool, integer or float data.

    Complex values in particular are refused rather than cast (a cast drops the imaginary part
    without a word outside a warnings filter).
    """
    if not isinstance(value, np.ndarray):
        refuse_sparse(value, name)
    try:
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(f"Argument `{name}` must be a NumPy array or convertible to one. "
                        f"Received: {type(value).__name__} ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{name}` must hold {what}; received dtype {arr.dtype}.")
    return arr
