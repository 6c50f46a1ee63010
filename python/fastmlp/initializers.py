"""Weight initializers with Keras names, arguments and defaults.

Initializers are descriptions: the C++ core draws the values (a counter-based generator, so the
result does not depend on the thread count). A layer resolves an initializer without a ``seed`` to
a seed from the global stream when the model is built, so ``fastmlp.utils.set_random_seed`` makes
weights reproducible.

Example:
    >>> layers.Dense(8, kernel_initializer=initializers.HeNormal(seed=1))
    >>> layers.Dense(8, kernel_initializer="he_normal")
"""

from __future__ import annotations

import typing as _typing

from fastmlp import _checks, _naming, _random, _serialization

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional, Union

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Initializer",
    "LecunNormal", "LecunUniform", "Ones", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "Zeros", "constant", "deserialize", "get", "glorot_normal", "glorot_uniform", "he_normal",
    "he_uniform", "lecun_normal", "lecun_uniform", "ones", "random_normal", "random_uniform",
    "serialize", "truncated_normal", "zeros",
]


class Initializer:
    """Base class: a named initializer with its arguments (``get_config``) and an optional seed."""

    _core_name = ""

    def __init__(self, seed: Optional[int] = None) -> None:
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise ValueError(f"Received an invalid value for `seed`, expected a non-negative "
                             f"integer or None. Received: seed={seed!r}")
        self.seed = seed

    def get_config(self) -> Dict[str, Any]:
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Initializer":
        return cls(**config)

    def to_spec(self, seed: Optional[int] = None) -> Dict[str, Any]:
        """The core's InitializerSpec dict; ``seed`` fills in when the initializer has none."""
        spec = {k: v for k, v in self.get_config().items() if k != "seed"}
        spec["name"] = self._core_name
        chosen = self.seed if self.seed is not None else seed
        spec["seed"] = int(chosen if chosen is not None else _random.next_seed())
        return spec

    def __call__(self, shape, dtype=None):
        """Draws a float32 array of ``shape`` (fans computed as Keras does)."""
        from fastmlp import _core
        return _core.initialize(self.to_spec(), [int(s) for s in shape])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _Seedless(Initializer):
    def __init__(self) -> None:
        super().__init__(None)

    def get_config(self) -> Dict[str, Any]:
        return {}


class Zeros(_Seedless):
    """All zeros."""
    _core_name = "zeros"


class Ones(_Seedless):
    """All ones."""
    _core_name = "ones"


class Constant(_Seedless):
    """Every value equal to ``value``: a number, or an array holding one (Keras broadcasts
    ``value``; code such as ``Constant(np.log([pos / neg]))`` passes a 1-element array).
    Defaults to 0.0."""
    _core_name = "constant"

    def __init__(self, value: Any = 0.0) -> None:
        super().__init__()
        array = _checks.real_array(value, "value", "a number")
        if array.size != 1:
            raise ValueError(f"Constant: `value` must be a number or an array of one number "
                             f"(fastmlp fills a tensor with one value). Received: an array of "
                             f"shape {array.shape}")
        self.value = float(array.reshape(()))

    def get_config(self) -> Dict[str, Any]:
        return {"value": self.value}


class RandomUniform(Initializer):
    """Uniform in ``[minval, maxval)``. Defaults to ``[-0.05, 0.05)``."""
    _core_name = "random_uniform"

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: Optional[int] = None) -> None:
        super().__init__(seed)
        if not minval < maxval:
            raise ValueError(f"`minval` must be less than `maxval`. Received: minval={minval}, "
                             f"maxval={maxval}")
        self.minval, self.maxval = float(minval), float(maxval)

    def get_config(self) -> Dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev``. Defaults to 0.0 and 0.05."""
    _core_name = "random_normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05,
                 seed: Optional[int] = None) -> None:
        super().__init__(seed)
        if not stddev >= 0:
            raise ValueError(f"Received an invalid value for `stddev`, expected a non-negative "
                             f"number. Received: stddev={stddev}")
        self.mean, self.stddev = float(mean), float(stddev)

    def get_config(self) -> Dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal with values beyond two standard deviations redrawn."""
    _core_name = "truncated_normal"


def _fan_init(core_name: str, doc: str):
    cls = type(_naming_class(core_name), (Initializer,), {"_core_name": core_name, "__doc__": doc})
    return cls


def _naming_class(core_name: str) -> str:
    return "".join(part.capitalize() for part in core_name.split("_"))


GlorotUniform = _fan_init("glorot_uniform", "Uniform in +-sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _fan_init("glorot_normal",
                         "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).")
HeUniform = _fan_init("he_uniform", "Uniform in +-sqrt(6 / fan_in).")
HeNormal = _fan_init("he_normal", "Truncated normal with stddev sqrt(2 / fan_in).")
LecunUniform = _fan_init("lecun_uniform", "Uniform in +-sqrt(3 / fan_in).")
LecunNormal = _fan_init("lecun_normal", "Truncated normal with stddev sqrt(1 / fan_in).")
for _cls in (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal):
    _cls.__module__ = __name__

# Keras's lowercase aliases: initializers.he_normal(seed=1).
zeros, ones, constant = Zeros, Ones, Constant
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal
glorot_uniform, glorot_normal, he_uniform, he_normal = (GlorotUniform, GlorotNormal, HeUniform,
                                                        HeNormal)
lecun_uniform, lecun_normal = LecunUniform, LecunNormal

_CLASSES = {c.__name__: c for c in (Zeros, Ones, Constant, RandomUniform, RandomNormal,
                                     TruncatedNormal, GlorotUniform, GlorotNormal, HeUniform,
                                     HeNormal, LecunUniform, LecunNormal)}
_BY_NAME = {c._core_name: c for c in _CLASSES.values()}
_BY_NAME.update({"zero": Zeros, "one": Ones, "uniform": RandomUniform, "normal": RandomNormal})


def get(identifier: Union[str, Initializer, Dict[str, Any]]) -> Initializer:
    """An initializer from a Keras name ("glorot_uniform", "he_normal", ...), object or config."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        key = identifier if identifier in _CLASSES else _naming.to_snake_case(identifier)
        cls = _CLASSES.get(identifier) or _BY_NAME.get(key)
        if cls is not None:
            return cls()
    raise ValueError(f"Could not interpret initializer identifier. Expected one of "
                     f"{sorted(_BY_NAME)}. Received: {identifier!r}")


def serialize(initializer: Initializer) -> Dict[str, Any]:
    return _serialization.serialize_object(initializer)


def deserialize(config: Dict[str, Any]) -> Initializer:
    return _serialization.deserialize_object(config, _CLASSES, "initializer")
