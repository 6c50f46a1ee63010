"""Learning-rate schedules (Keras names and arguments), evaluated per step by the C++ core.

Example:
    >>> lr = optimizers.schedules.ExponentialDecay(1e-2, decay_steps=1000, decay_rate=0.9)
    >>> optimizer = optimizers.SGD(learning_rate=lr)
"""

from __future__ import annotations

import math
import typing as _typing

from fastmlp import _checks, _serialization

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Sequence

__all__ = ["CosineDecay", "ExponentialDecay", "InverseTimeDecay", "LearningRateSchedule",
           "PiecewiseConstantDecay", "deserialize", "serialize"]


def _positive(name: str, value: Any) -> float:
    return _checks.number(name, value, 0.0, low_open=True, expected="a positive number")


def _numbers(name: str, values: Any, low: Any = None) -> list:
    """A list of finite numbers (>= low when given) from a list or tuple."""
    expected = "a list of finite numbers" + ("" if low is None else f" >= {low:g}")
    if getattr(values, "ndim", None) == 1 and hasattr(values, "tolist"):  # a 1-D NumPy array
        values = values.tolist()
    if not isinstance(values, (list, tuple)) or \
            not all(_checks.is_real(v) and math.isfinite(v) and (low is None or v >= low)
                    for v in values):
        raise _checks.invalid(name, expected, values)
    return [float(v) for v in values]


class LearningRateSchedule:
    """Base: ``schedule(step)`` gives the rate of a step; ``to_spec()`` the core's dict."""

    _kind = ""

    def get_config(self) -> Dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "LearningRateSchedule":
        return cls(**config)

    def to_spec(self) -> Dict[str, Any]:
        config = {k: v for k, v in self.get_config().items() if k != "name"}
        return {"name": self._kind, **config}

    def __call__(self, step: int) -> float:
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if staircase)."""

    _kind = "exponential_decay"

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        self.initial_learning_rate = _positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = _positive("decay_rate", decay_rate)
        self.staircase = _checks.flag("staircase", staircase)
        self.name = _checks.text("name", name)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase
                                                                 else p)

    def get_config(self) -> Dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(ExponentialDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored if staircase)."""

    _kind = "inverse_time_decay"

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate / (1 + self.decay_rate *
                                             (math.floor(p) if self.staircase else p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` for steps in ``(boundaries[i-1], boundaries[i]]``."""

    _kind = "piecewise_constant"

    def __init__(self, boundaries: Sequence[float], values: Sequence[float],
                 name: str = "PiecewiseConstant") -> None:
        boundaries = _numbers("boundaries", boundaries)
        values = _numbers("values", values, 0.0)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"The length of `values` ({len(values)}) must be one more than the "
                             f"length of `boundaries` ({len(boundaries)}).")
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"`boundaries` must be increasing. Received: {list(boundaries)}")
        self.boundaries, self.values = boundaries, values
        self.name = _checks.text("name", name)

    def __call__(self, step: int) -> float:
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self) -> Dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the initial rate to ``alpha * initial`` over ``decay_steps``, with an
    optional linear warm-up to ``warmup_target`` over ``warmup_steps`` first (Keras 3)."""

    _kind = "cosine_decay"

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float = None,
                 warmup_steps: float = 0) -> None:
        self.initial_learning_rate = _checks.number("initial_learning_rate",
                                                    initial_learning_rate, 0.0)
        self.decay_steps = _positive("decay_steps", decay_steps)
        # alpha outside [0, 1] would end the decay above the start or below zero.
        self.alpha = _checks.number("alpha", alpha, 0.0, 1.0)
        self.name = _checks.text("name", name)
        self.warmup_target = _checks.number("warmup_target", warmup_target, 0.0, optional=True)
        self.warmup_steps = _checks.number("warmup_steps", warmup_steps, 0.0)

    def __call__(self, step: int) -> float:
        if self.warmup_target is not None and step < self.warmup_steps:
            frac = step / self.warmup_steps
            return self.initial_learning_rate + frac * (self.warmup_target -
                                                        self.initial_learning_rate)
        start = self.initial_learning_rate if self.warmup_target is None else self.warmup_target
        t = min(max(step - self.warmup_steps, 0), self.decay_steps) / self.decay_steps
        cos = 0.5 * (1 + math.cos(math.pi * t))
        return start * ((1 - self.alpha) * cos + self.alpha)

    def get_config(self) -> Dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                     CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> Dict[str, Any]:
    return _serialization.serialize_object(schedule)


def deserialize(config: Dict[str, Any]) -> LearningRateSchedule:
    return _serialization.deserialize_object(config, _CLASSES, "learning-rate schedule")
