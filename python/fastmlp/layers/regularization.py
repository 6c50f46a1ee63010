"""Regularization layers: `Dropout`."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _random
from fastmlp.layers import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["Dropout"]


class Dropout(base.Layer):
    """Sets a fraction ``rate`` of inputs to 0 in training (scaling the rest by 1/(1-rate)).

    Args:
        rate: float in [0, 1), the fraction to drop.
        noise_shape: not supported (must be None).
        seed: optional integer seed; drawn from the global stream when None.
    """

    def __init__(self, rate: float, noise_shape: Any = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not _checks.is_real(rate) or not 0 <= rate < 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate!r}")
        if noise_shape is not None:
            raise ValueError(f"Dropout: `noise_shape` is not supported. "
                             f"Received: noise_shape={noise_shape!r}")
        if seed is not None and (isinstance(seed, (bool, np.bool_))
                                 or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise _checks.invalid("seed", "a non-negative integer or None", seed)
        self.rate, self.seed, self.noise_shape = float(rate), seed, None

    def to_spec(self) -> Dict[str, Any]:
        # Drawn once: rebuilding the model (add/pop) or saving and loading it keeps the masks.
        if self.seed is None:
            self.seed = _random.next_seed()
        return {"type": "dropout", "rate": self.rate, "seed": int(self.seed)}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None}
