"""Regularization layers: `Dropout` and the noise layers `GaussianNoise`, `GaussianDropout`,
`AlphaDropout` (all active in training only; seeded once, like Dropout)."""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _random
from fastmlp.layers import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["AlphaDropout", "Dropout", "GaussianDropout", "GaussianNoise"]


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


def _seed(seed: Any) -> Optional[int]:
    if seed is not None and (isinstance(seed, (bool, np.bool_))
                             or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise _checks.invalid("seed", "a non-negative integer or None", seed)
    return None if seed is None else int(seed)


def _unit_interval(name: str, value: Any) -> float:
    """Keras's check of a rate or stddev in [0, 1]; 1 itself is refused where it divides by 0."""
    if not _checks.is_real(value) or not 0 <= value <= 1:
        raise ValueError(f"Invalid value received for argument `{name}`. Expected a float value "
                         f"between 0 and 1. Received: {name}={value!r}")
    return float(value)


class _Noise(base.Layer):
    """A layer that draws noise in training only, from its own seed (drawn once when None)."""

    _type = ""

    def _noise_spec(self, **fields: Any) -> Dict[str, Any]:
        # Drawn once: rebuilding the model or saving and loading it keeps the noise stream.
        if self.seed is None:
            self.seed = _random.next_seed()
        return {"type": self._type, **fields, "seed": int(self.seed)}


class GaussianNoise(_Noise):
    """Adds zero-centered Gaussian noise of standard deviation ``stddev`` in training.

    Args:
        stddev: float in [0, 1].
        seed: optional integer seed; drawn from the global stream when None.
    """

    _type = "gaussian_noise"

    def __init__(self, stddev: float, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stddev = _unit_interval("stddev", stddev)
        self.seed = _seed(seed)

    def to_spec(self) -> Dict[str, Any]:
        return self._noise_spec(stddev=self.stddev)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noise):
    """Multiplies by 1-centered Gaussian noise of standard deviation ``sqrt(rate / (1 - rate))``
    in training.

    Args:
        rate: float in [0, 1), the drop probability it mimics.
        seed: optional integer seed; drawn from the global stream when None.
    """

    _type = "gaussian_dropout"

    def __init__(self, rate: float, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = _unit_interval("rate", rate)
        if self.rate == 1:
            raise ValueError("GaussianDropout: rate=1 gives noise of infinite standard deviation "
                             "(sqrt(rate / (1 - rate))). Received: rate=1")
        self.seed = _seed(seed)

    def to_spec(self) -> Dict[str, Any]:
        return self._noise_spec(rate=self.rate)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_Noise):
    """Dropout for SELU networks: in training, a fraction ``rate`` of the inputs is set to SELU's
    negative saturation value and the result scaled and shifted so that mean and variance stay.

    Args:
        rate: float in [0, 1).
        noise_shape: not supported (must be None).
        seed: optional integer seed; drawn from the global stream when None.
    """

    _type = "alpha_dropout"

    def __init__(self, rate: float, noise_shape: Any = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = _unit_interval("rate", rate)
        if self.rate == 1:
            raise ValueError("AlphaDropout: rate=1 drops everything (its scale "
                             "((1 - rate) (1 + rate alpha'^2))^-1/2 is infinite). Received: rate=1")
        if noise_shape is not None:
            raise ValueError(f"AlphaDropout: `noise_shape` is not supported. "
                             f"Received: noise_shape={noise_shape!r}")
        self.seed, self.noise_shape = _seed(seed), None

    def to_spec(self) -> Dict[str, Any]:
        return self._noise_spec(rate=self.rate)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None}
