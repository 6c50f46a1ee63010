"""Weight regularizers (Keras names): penalties ``l1 * sum(|w|) + l2 * sum(w**2)``.

The penalty is added to the training loss (and so to the reported ``loss``), as in Keras.

Example:
    >>> layers.Dense(64, kernel_regularizer=regularizers.L2(1e-4))
"""

from __future__ import annotations

import math
import typing as _typing

import numpy as np

from fastmlp import _serialization

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional, Union

__all__ = ["L1", "L1L2", "L2", "Regularizer", "deserialize", "get", "l1", "l1_l2", "l2",
           "serialize"]


def _check(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a non-negative finite "
                         f"number. Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base: an L1/L2 penalty with factors ``l1`` and ``l2``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _check("l1", l1)
        self.l2 = _check("l2", l2)

    def __call__(self, x) -> float:
        """The penalty of the weights ``x`` (NumPy)."""
        from fastmlp._checks import real_array
        w = real_array(x, "x").astype(np.float64)
        return float(self.l1 * np.abs(w).sum() + self.l2 * np.square(w).sum())

    def to_spec(self) -> Dict[str, float]:
        return {"l1": self.l1, "l2": self.l2}

    def get_config(self) -> Dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Regularizer":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class L1L2(Regularizer):
    """Both penalties. Defaults to ``l1=0.0, l2=0.0``."""


class L1(Regularizer):
    """L1 penalty ``l1 * sum(|w|)``. Defaults to ``l1=0.01``."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> Dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """L2 penalty ``l2 * sum(w**2)``. Defaults to ``l2=0.01``."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> Dict[str, Any]:
        return {"l2": self.l2}


# Keras's lowercase aliases: regularizers.l2(1e-4).
l1, l2, l1_l2 = L1, L2, L1L2

_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier: Union[None, str, Regularizer, Dict[str, Any]]) -> Optional[Regularizer]:
    """A regularizer from None, a name ("l1", "l2", "l1_l2"), an object or a config."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"Could not interpret regularizer identifier. Expected one of "
                     f"{sorted(_NAMES)}, a Regularizer or None. Received: {identifier!r}")


def serialize(regularizer: Optional[Regularizer]) -> Optional[Dict[str, Any]]:
    return None if regularizer is None else _serialization.serialize_object(regularizer)


def deserialize(config: Optional[Dict[str, Any]]) -> Optional[Regularizer]:
    if config is None:
        return None
    return _serialization.deserialize_object(config, _CLASSES, "regularizer")
