"""Activation functions (Keras names), usable on arrays and as layer arguments.

Each function takes an array and returns a new float32 NumPy array, computed by the C++ core (the
same code the layers run). In layers, pass the name (``activation="relu"``) or the function
(``activation=fastmlp.activations.relu``).

Example:
    >>> fastmlp.activations.relu(np.array([-1.0, 2.0]))
    array([0., 2.], dtype=float32)
"""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _core

if _typing.TYPE_CHECKING:
    from typing import Callable, Optional, Tuple, Union

__all__ = [
    "elu", "gelu", "get", "hard_sigmoid", "leaky_relu", "linear", "relu", "selu", "serialize",
    "deserialize", "sigmoid", "silu", "softmax", "softplus", "swish", "tanh",
]

# Keras defaults of the one parameter some activations take.
_DEFAULT_PARAM = {"leaky_relu": 0.2, "elu": 1.0}
_ALIASES = {"swish": "silu", None: "linear", "none": "linear"}


def _apply(name: str, x, param: float = 0.0) -> np.ndarray:
    # The core copies x to float32 and applies the activation along the last axis.
    return _core.activation_forward(name, x, float(param))


def linear(x) -> np.ndarray:
    """Identity: returns ``x`` as float32."""
    from fastmlp._checks import real_array
    return np.array(real_array(x, "x"), dtype=np.float32)


def relu(x) -> np.ndarray:
    """Rectified linear unit, ``max(x, 0)``."""
    return _apply("relu", x)


def leaky_relu(x, negative_slope: float = 0.2) -> np.ndarray:
    """Leaky ReLU: ``x`` if ``x > 0`` else ``negative_slope * x``. Defaults to a slope of 0.2."""
    return _apply("leaky_relu", x, negative_slope)


def elu(x, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return _apply("elu", x, alpha)


def selu(x) -> np.ndarray:
    """Scaled exponential linear unit (Klambauer et al., 2017)."""
    return _apply("selu", x)


def gelu(x, approximate: bool = False) -> np.ndarray:
    """Gaussian error linear unit; exact (erf) unless ``approximate`` (tanh form), as Keras."""
    return _apply("gelu_tanh" if approximate else "gelu", x)


def sigmoid(x) -> np.ndarray:
    """Logistic sigmoid, ``1 / (1 + exp(-x))``."""
    return _apply("sigmoid", x)


def hard_sigmoid(x) -> np.ndarray:
    """Piecewise-linear sigmoid, ``relu6(x + 3) / 6`` (Keras 3 definition)."""
    return _apply("hard_sigmoid", x)


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent."""
    return _apply("tanh", x)


def softplus(x) -> np.ndarray:
    """``log(1 + exp(x))``, computed stably."""
    return _apply("softplus", x)


def silu(x) -> np.ndarray:
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``."""
    return _apply("silu", x)


swish = silu


def softmax(x, axis: int = -1) -> np.ndarray:
    """Softmax along the last axis (the only axis the core supports)."""
    if axis not in (-1, np.ndim(x) - 1):
        raise ValueError(f"softmax supports only the last axis. Received: axis={axis}")
    return _apply("softmax", x)


_FUNCTIONS = {f.__name__: f for f in (linear, relu, leaky_relu, elu, selu, gelu, sigmoid,
                                      hard_sigmoid, tanh, softplus, silu, softmax)}
_FUNCTIONS["swish"] = silu


def _resolve(identifier: Union[str, Callable, None]) -> Tuple[str, float]:
    """The core's (name, parameter) for a Keras activation identifier; ValueError if unknown.

    ``gelu`` by name is the exact form, as in Keras; "gelu_tanh" names the approximation.
    """
    if callable(identifier):
        fn_name = getattr(identifier, "__name__", None)
        if _FUNCTIONS.get(fn_name) is not identifier:
            raise ValueError(
                "Custom activation functions are not supported (the core runs activations in "
                f"C++). Use one of {sorted(_FUNCTIONS)}. Received: activation={identifier!r}")
        identifier = fn_name
    if identifier is not None and not isinstance(identifier, str):
        raise ValueError(f"Could not interpret activation identifier: expected a name such as "
                         f"'relu', a fastmlp.activations function or None. Received: "
                         f"activation={identifier!r}")
    key = identifier.lower() if isinstance(identifier, str) else identifier
    key = _ALIASES.get(key, key)
    if key not in _FUNCTIONS and key != "gelu_tanh":
        raise ValueError(
            f"Unknown activation. Expected one of {sorted(_FUNCTIONS) + ['gelu_tanh']} or None. "
            f"Received: activation={identifier!r}")
    return key, _DEFAULT_PARAM.get(key, 0.0)


def get(identifier: Union[str, Callable, None]) -> Callable:
    """The activation function for a name or function (None gives ``linear``)."""
    name, _ = _resolve(identifier)
    if name == "gelu_tanh":
        return lambda x: gelu(x, approximate=True)
    return _FUNCTIONS[name]


def serialize(activation: Union[str, Callable, None]) -> str:
    """The name stored in configs for an activation."""
    return _resolve(activation)[0]


def deserialize(name: Optional[str]) -> Callable:
    """The function for a serialized activation name."""
    return get(name)
