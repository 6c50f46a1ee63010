"""Optimizers with Keras 3 names, arguments and defaults; the updates run in the C++ core.

An optimizer object describes the algorithm. Once a model is compiled with it, ``learning_rate``
and ``iterations`` read and write the live values in the core (so callbacks such as
`ReduceLROnPlateau` change the rate of the running loop).

Example:
    >>> model.compile(optimizer=optimizers.Adam(learning_rate=1e-3), loss="mse")
    >>> model.optimizer.learning_rate = 1e-4
"""

from __future__ import annotations

import math
import typing as _typing

from fastmlp import _checks, _serialization
from fastmlp.optimizers import schedules

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional, Union

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "Optimizer", "RMSprop",
           "deserialize", "get", "schedules", "serialize"]


class _LearningRate(float):
    """A float that also offers Keras's ``assign`` / ``numpy`` for code that calls them."""

    def __new__(cls, value: float, optimizer: "Optimizer"):
        obj = super().__new__(cls, value)
        obj._optimizer = optimizer
        return obj

    def assign(self, value: float) -> None:
        self._optimizer.learning_rate = value

    def numpy(self) -> float:
        return float(self)


def _check(name: str, value: Any, low: float = 0.0, high: float = math.inf,
           closed: bool = True) -> float:
    """A finite real number (NumPy scalars too) in [low, high], or (low, high] if not closed."""
    return _checks.number(name, value, low, None if high == math.inf else high,
                          low_open=not closed)


# How each algorithm argument is checked: a flag, or a number in [low, high].
_FLAGS = ("nesterov", "amsgrad", "centered")
_RANGES = {"momentum": (0.0, 1.0), "beta_1": (0.0, 1.0), "beta_2": (0.0, 1.0), "rho": (0.0, 1.0),
           "epsilon": (0.0, math.inf), "initial_accumulator_value": (0.0, math.inf)}


class Optimizer:
    """Base of the optimizers: learning rate (float or schedule), clipping and weight decay."""

    _core_name = ""
    _fields: Dict[str, Any] = {}

    def __init__(self, learning_rate: Union[float, schedules.LearningRateSchedule] = 0.001,
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None,
                 use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Optional[int] = None,
                 loss_scale_factor: Optional[float] = None,
                 gradient_accumulation_steps: Optional[int] = None, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized arguments {sorted(kwargs)}")
        if use_ema or loss_scale_factor is not None or gradient_accumulation_steps is not None:
            raise ValueError("use_ema, loss_scale_factor and gradient_accumulation_steps are not "
                             "supported by fastmlp optimizers.")
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            self._lr: Union[float, schedules.LearningRateSchedule] = learning_rate
        else:
            self._lr = _checks.number("learning_rate", learning_rate, 0.0,
                                      expected="a number >= 0 or a LearningRateSchedule")
        self.weight_decay = None if weight_decay is None else _check("weight_decay", weight_decay)
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError("Only one of `clipnorm` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, global_clipnorm={global_clipnorm}")
        self.clipnorm = None if clipnorm is None else _check("clipnorm", clipnorm, closed=False)
        self.clipvalue = None if clipvalue is None else _check("clipvalue", clipvalue,
                                                               closed=False)
        self.global_clipnorm = None if global_clipnorm is None else \
            _check("global_clipnorm", global_clipnorm, closed=False)
        self.name = _checks.text("name", name, optional=True) or type(self).__name__.lower()
        self._core = None  # the compiled core model whose optimizer this is
        # Across compile() calls with this instance (models/_freezing.py): the slots of weights
        # frozen since, and how many slots a weight has.
        self._parked_slots: Dict[int, Any] = {}
        self._slots_per_tensor = 0

    # ---- live values ---------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The current rate (the schedule's value at the current step once compiled)."""
        if self._core is not None:
            return _LearningRate(self._core.learning_rate, self)
        if isinstance(self._lr, schedules.LearningRateSchedule):
            return _LearningRate(self._lr(0), self)
        return _LearningRate(self._lr, self)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        value = _check("learning_rate", value)
        if self._core is not None:
            self._core.learning_rate = value
        self._lr = value

    lr = learning_rate

    @property
    def iterations(self) -> int:
        """Optimizer steps taken so far."""
        return int(self._core.iterations) if self._core is not None else 0

    def _bind(self, core: Any) -> None:
        self._core = core

    # ---- configuration -------------------------------------------------------------------------
    def _set_fields(self, **values: Any) -> None:
        """Checks and sets the algorithm's arguments (the keys of `_fields`), in order."""
        for name, value in values.items():
            setattr(self, name, _checks.flag(name, value) if name in _FLAGS
                    else _check(name, value, *_RANGES[name]))

    def _algorithm_config(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in self._fields}

    def to_spec(self) -> Dict[str, Any]:
        scheduled = isinstance(self._lr, schedules.LearningRateSchedule)
        lr = self._lr.to_spec() if scheduled else self._lr
        spec = {"name": self._core_name, "learning_rate": lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}
        spec.update(self._algorithm_config())
        return spec

    def get_config(self) -> Dict[str, Any]:
        lr = schedules.serialize(self._lr) if isinstance(self._lr, schedules.LearningRateSchedule) \
            else float(self.learning_rate)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm, **self._algorithm_config()}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Optimizer":
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} learning_rate={float(self.learning_rate):g}>"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Args:
        learning_rate: float or schedule. Defaults to 0.01.
        momentum: float >= 0. Defaults to 0.0.
        nesterov: use Nesterov momentum. Defaults to False.
    """

    _core_name = "sgd"
    _fields = {"momentum": 0.0, "nesterov": False}

    def __init__(self, learning_rate: Union[float, schedules.LearningRateSchedule] = 0.01,
                 momentum: float = 0.0, nesterov: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._set_fields(momentum=momentum, nesterov=nesterov)


class Adam(Optimizer):
    """Adam. Args: learning_rate (0.001), beta_1 (0.9), beta_2 (0.999), epsilon (1e-7),
    amsgrad (False)."""

    _core_name = "adam"
    _fields = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

    def __init__(self, learning_rate: Union[float, schedules.LearningRateSchedule] = 0.001,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._set_fields(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad)


class AdamW(Adam):
    """Adam with decoupled weight decay (``weight_decay`` defaults to 0.004, as Keras 3)."""

    _core_name = "adamw"

    def __init__(self, learning_rate: Union[float, schedules.LearningRateSchedule] = 0.001,
                 weight_decay: float = 0.004, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop. Args: learning_rate (0.001), rho (0.9), momentum (0.0), epsilon (1e-7),
    centered (False)."""

    _core_name = "rmsprop"
    _fields = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}

    def __init__(self, learning_rate: Union[float, schedules.LearningRateSchedule] = 0.001,
                 rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                 centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._set_fields(rho=rho, momentum=momentum, epsilon=epsilon, centered=centered)


class Adagrad(Optimizer):
    """Adagrad. Args: learning_rate (0.001), initial_accumulator_value (0.1), epsilon (1e-7)."""

    _core_name = "adagrad"
    _fields = {"initial_accumulator_value": 0.1, "epsilon": 1e-7}

    def __init__(self, learning_rate: Union[float, schedules.LearningRateSchedule] = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._set_fields(initial_accumulator_value=initial_accumulator_value, epsilon=epsilon)


class Adamax(Optimizer):
    """Adamax. Args: learning_rate (0.001), beta_1 (0.9), beta_2 (0.999), epsilon (1e-7)."""

    _core_name = "adamax"
    _fields = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(self, learning_rate: Union[float, schedules.LearningRateSchedule] = 0.001,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._set_fields(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)


class Nadam(Adamax):
    """Nadam (Adam with Nesterov momentum). Args as `Adam` without amsgrad."""

    _core_name = "nadam"


_CLASSES = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam)}
_NAMES = {c._core_name: c for c in _CLASSES.values()}


def get(identifier: Union[str, Optimizer, Dict[str, Any]]) -> Optimizer:
    """An optimizer from a name ("adam", "sgd", ...), an object or a config."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is not None:
            return cls()
    raise ValueError(f"Could not interpret optimizer identifier. Expected one of "
                     f"{sorted(_NAMES)} or a fastmlp.optimizers object. Received: {identifier!r}")


def serialize(optimizer: Optimizer) -> Dict[str, Any]:
    return _serialization.serialize_object(optimizer)


def deserialize(config: Dict[str, Any]) -> Optimizer:
    return _serialization.deserialize_object(config, _CLASSES, "optimizer")
