"""Layers of a dense `Sequential` model, with Keras names, arguments and validation.

A layer here is a description: its arguments, validated in the constructor, and the spec dict the
C++ core builds it from (see docs/core_api.md). The weights live in the core model that owns the
layer once the model is built; ``layer.get_weights()`` and ``layer.weights`` read them from there.

Example:
    >>> model = fastmlp.Sequential([
    ...     layers.Input(shape=(28, 28)), layers.Rescaling(1 / 255), layers.Flatten(),
    ...     layers.Dense(128, activation="relu"), layers.Dropout(0.2), layers.Dense(10)])
"""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _naming, _random, activations, initializers, regularizers
from fastmlp import _serialization
from fastmlp._variable import Variable

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

    Shape = Tuple[Optional[int], ...]

__all__ = [
    "Activation", "BatchNormalization", "Dense", "Dropout", "Flatten", "Input", "InputLayer",
    "KerasTensor", "Layer", "Rescaling", "Variable", "deserialize", "serialize",
]

# Refused rather than ignored: silently training a layer the user froze would be a wrong answer.
_FREEZE_MESSAGE = ("Freezing layers (trainable=False) is not supported by fastmlp: every layer "
                   "with weights is trained.")


_invalid = _checks.invalid
_check_shape = _checks.sample_shape  # used by Sequential.build


def _positive_int(name: str, value: Any) -> int:
    return _checks.integer(name, value, 1)


def _finite_float(name: str, value: Any) -> float:
    return _checks.number(name, value)


class Layer:
    """Base of all layers: name, trainable flag, and the link to the model that holds weights."""

    def __init__(self, name: Optional[str] = None, dtype: Any = None, trainable: bool = True,
                 input_shape: Any = None, input_dim: Optional[int] = None,
                 batch_input_shape: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments: "
                            f"{sorted(kwargs)}")
        if not _checks.float32_dtype(dtype):
            raise ValueError(f"fastmlp computes in float32 only (dtype None or 'float32'). "
                             f"Received: dtype={dtype!r}")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise _invalid("name", "a non-empty string without '/'", name)
        self.name = name or _naming.unique_name(_naming.to_snake_case(type(self).__name__))
        if not _checks.flag("trainable", trainable):
            raise ValueError(_FREEZE_MESSAGE)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_dim is not None:
            input_shape = (_positive_int("input_dim", input_dim),)
        self._input_shape = None if input_shape is None else _checks.sample_shape("input_shape",
                                                                          input_shape)
        self._owner = None   # the Sequential model once it is built
        self._weight_offset = 0
        self._spec: Optional[Dict[str, Any]] = None  # resolved (seeded) core spec, set at build

    @property
    def trainable(self) -> bool:
        """Always True: freezing layers is not supported (setting False raises)."""
        return True

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not _checks.flag("trainable", value):
            raise ValueError(_FREEZE_MESSAGE)

    # ---- what the model needs from a layer ----------------------------------------------------
    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def weight_names(self) -> List[Tuple[str, bool]]:
        """Names of this layer's tensors in the core's order, with their trainable flag."""
        return []

    def to_spec(self) -> Optional[Dict[str, Any]]:
        """The core spec with seeds resolved (None for Python-only layers like Flatten)."""
        return None

    def _build_spec(self) -> Optional[Dict[str, Any]]:
        if self._spec is None:
            self._spec = self.to_spec()
        return self._spec

    @property
    def built(self) -> bool:
        return self._owner is not None and self._owner.built

    # ---- Keras surface ------------------------------------------------------------------------
    def get_weights(self) -> List[np.ndarray]:
        """Copies of this layer's weights (Keras order); [] before the model is built."""
        if not self.built:
            return []
        core = self._owner._core
        return [core.get_tensor(self._weight_offset + i) for i in range(len(self.weight_names()))]

    def _weight_shape(self, index: int) -> Tuple[int, ...]:
        """The shape of this layer's tensor ``index`` (no copy of any value)."""
        return self._owner._core.tensor_shape(self._weight_offset + index)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets this layer's weights from arrays of the shapes ``get_weights()`` returns."""
        names = self.weight_names()
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet: build the model (give it an "
                             "input shape or call it on data) before setting weights.")
        if isinstance(weights, (str, bytes, dict)) or not hasattr(weights, "__iter__"):
            raise TypeError(f"`set_weights` of layer {self.name!r} expects a list of NumPy arrays "
                            f"(as `get_weights()` returns). Received: {type(weights).__name__}")
        weights = list(weights)
        if len(weights) != len(names):
            raise ValueError(f"Layer {self.name!r} expects {len(names)} weight arrays, received "
                             f"{len(weights)}.")
        current = self._owner._core.get_weights()
        for i, w in enumerate(weights):
            current[self._weight_offset + i] = w
        self._owner._set_all_weights(current)

    @property
    def weights(self) -> List[Variable]:
        return [Variable(self, i, n, t) for i, (n, t) in enumerate(self.weight_names())
                if self.built]

    @property
    def trainable_weights(self) -> List[Variable]:
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> List[Variable]:
        return [v for v in self.weights if not v.trainable]

    def count_params(self) -> int:
        if not self.built:
            return 0
        return int(sum(int(np.prod(self._weight_shape(i), dtype=np.int64))
                       for i in range(len(self.weight_names()))))

    def get_config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": "float32"}
        if self._input_shape is not None:
            config["input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Layer":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    """The model's input: the shape of one sample (without the batch axis).

    Args:
        shape: tuple of positive integers, e.g. ``(784,)`` or ``(28, 28)``.
        batch_size: accepted for Keras compatibility; the batch size is free.
        name: optional name.
    """

    def __init__(self, shape: Any = None, batch_size: Optional[int] = None, dtype: Any = None,
                 sparse: Optional[bool] = None, batch_shape: Any = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time. "
                             f"Received: shape={shape!r}, batch_shape={batch_shape!r}")
        if batch_shape is not None:
            if not isinstance(batch_shape, (tuple, list)) or len(batch_shape) < 2:
                raise _invalid("batch_shape", "a tuple (batch size or None, *sample shape)",
                               batch_shape)
            batch_size, shape = batch_shape[0], tuple(batch_shape)[1:]
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if shape is None:
            raise ValueError("InputLayer needs `shape` (the shape of one sample). Received: "
                             "shape=None")
        if sparse:
            raise ValueError("Sparse inputs are not supported. Received: sparse=True")
        super().__init__(name=name if name is not None else _naming.unique_name("input_layer"),
                         dtype=dtype, **kwargs)
        self.shape = _checks.sample_shape("shape", shape)
        self.batch_size = None if batch_size is None else _positive_int("batch_size", batch_size)

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "batch_shape": [self.batch_size, *self.shape],
                "dtype": "float32"}


class KerasTensor:
    """What ``Input(shape)`` returns: a symbolic batch ``(None, *shape)`` for `Sequential`."""

    def __init__(self, layer: InputLayer) -> None:
        self._input_layer = layer
        self.shape: Shape = (layer.batch_size, *layer.shape)
        self.dtype = "float32"
        self.name = layer.name

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype=float32, name={self.name}>"


def Input(shape: Any = None, batch_size: Optional[int] = None, dtype: Any = None,
          sparse: Optional[bool] = None, batch_shape: Any = None, name: Optional[str] = None,
          tensor: Any = None) -> KerasTensor:
    """The input of a model: ``Sequential([Input(shape=(784,)), Dense(10)])``.

    Args:
        shape: the shape of one sample, without the batch axis.
        batch_size: optional, for Keras compatibility.
        name: optional name of the input layer.
    """
    if tensor is not None:
        raise ValueError("`tensor` is not supported by fastmlp.Input.")
    return KerasTensor(InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                                  batch_shape=batch_shape, name=name))


class Dense(Layer):
    """Fully connected layer: ``activation(inputs @ kernel + bias)``.

    Args:
        units: positive integer, the output width.
        activation: name or function from `fastmlp.activations`; None is linear. Defaults to None.
        use_bias: whether to add a bias vector. Defaults to True.
        kernel_initializer: initializer name or object. Defaults to "glorot_uniform".
        bias_initializer: initializer name or object. Defaults to "zeros".
        kernel_regularizer: optional `fastmlp.regularizers` object or name.
        bias_regularizer: optional regularizer for the bias.

    Example:
        >>> layers.Dense(64, activation="relu", kernel_regularizer=regularizers.L2(1e-4))
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = _positive_int("units", units)
        self._activation_name, self._activation_param = activations._resolve(activation)
        self.activation = activations.get(activation)
        self.use_bias = _checks.flag("use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        for arg, value in (("activity_regularizer", activity_regularizer),
                           ("kernel_constraint", kernel_constraint),
                           ("bias_constraint", bias_constraint), ("lora_rank", lora_rank)):
            if value is not None:
                raise ValueError(f"Dense: `{arg}` is not supported by fastmlp. "
                                 f"Received: {arg}={value!r}")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(f"Dense layer {self.name!r} expects flat inputs of shape (batch, "
                             f"features); add layers.Flatten() before it. Received input shape "
                             f"{tuple(input_shape)}")
        return (input_shape[0], self.units)

    def weight_names(self) -> List[Tuple[str, bool]]:
        return [("kernel", True)] + ([("bias", True)] if self.use_bias else [])

    def to_spec(self) -> Dict[str, Any]:
        none = {"l1": 0.0, "l2": 0.0}
        return {"type": "dense", "units": self.units, "activation": self._activation_name,
                "activation_param": self._activation_param, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer.to_spec(),
                "bias_initializer": self.bias_initializer.to_spec(),
                "kernel_regularizer": self.kernel_regularizer.to_spec()
                if self.kernel_regularizer else none,
                "bias_regularizer": self.bias_regularizer.to_spec()
                if self.bias_regularizer else none}

    @property
    def kernel(self) -> Variable:
        return self.weights[0]

    @property
    def bias(self) -> Optional[Variable]:
        return self.weights[1] if self.use_bias else None

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": self._activation_name, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


class Activation(Layer):
    """Applies an activation function: ``layers.Activation("softmax")``.

    Args:
        activation: name or function from `fastmlp.activations`.
    """

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._activation_name, self._activation_param = activations._resolve(activation)
        self.activation = activations.get(activation)

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "activation", "activation": self._activation_name,
                "activation_param": self._activation_param}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "activation": self._activation_name}


class Dropout(Layer):
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
            raise _invalid("seed", "a non-negative integer or None", seed)
        self.rate, self.seed, self.noise_shape = float(rate), seed, None

    def to_spec(self) -> Dict[str, Any]:
        # Drawn once: rebuilding the model (add/pop) or saving and loading it keeps the masks.
        if self.seed is None:
            self.seed = _random.next_seed()
        return {"type": "dropout", "rate": self.rate, "seed": int(self.seed)}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None}


class BatchNormalization(Layer):
    """Normalizes features with batch statistics in training and moving averages in inference.

    Args:
        axis: must be -1 (the feature axis of a flat input). Defaults to -1.
        momentum: moving-average momentum. Defaults to 0.99.
        epsilon: added to the variance. Defaults to 1e-3.
        center: learn an offset ``beta``. Defaults to True.
        scale: learn a factor ``gamma``. Defaults to True.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: initializers (Keras defaults zeros/ones/zeros/ones).
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) \
                or axis not in (-1, 1):
            raise _invalid("axis", "-1 (the feature axis)", axis)
        self.axis = -1
        self.momentum = _finite_float("momentum", momentum)
        if not 0 <= self.momentum <= 1:
            raise _invalid("momentum", "a number in [0, 1]", momentum)
        self.epsilon = _finite_float("epsilon", epsilon)
        if self.epsilon <= 0:
            raise _invalid("epsilon", "a positive number", epsilon)
        self.center = _checks.flag("center", center)
        self.scale = _checks.flag("scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        for arg, value in (("beta_regularizer", beta_regularizer),
                           ("gamma_regularizer", gamma_regularizer),
                           ("beta_constraint", beta_constraint),
                           ("gamma_constraint", gamma_constraint)):
            if value is not None:
                raise ValueError(f"BatchNormalization: `{arg}` is not supported. "
                                 f"Received: {arg}={value!r}")
        if synchronized:
            raise ValueError("BatchNormalization: `synchronized=True` is not supported.")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(f"BatchNormalization layer {self.name!r} expects flat inputs; add "
                             f"layers.Flatten() before it. Received input shape "
                             f"{tuple(input_shape)}")
        return tuple(input_shape)

    def weight_names(self) -> List[Tuple[str, bool]]:
        names = ([("gamma", True)] if self.scale else []) + \
                ([("beta", True)] if self.center else [])
        return names + [("moving_mean", False), ("moving_variance", False)]

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "batch_normalization", "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "gamma_initializer": self.gamma_initializer.to_spec(),
                "beta_initializer": self.beta_initializer.to_spec(),
                "moving_mean_initializer": self.moving_mean_initializer.to_spec(),
                "moving_variance_initializer": self.moving_variance_initializer.to_spec()}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": -1, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer":
                    initializers.serialize(self.moving_variance_initializer)}


class Rescaling(Layer):
    """``inputs * scale + offset``; as the first layer, fused into the input conversion.

    Args:
        scale: the factor, e.g. ``1 / 255``.
        offset: added after scaling. Defaults to 0.0.
    """

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = _finite_float("scale", scale)
        self.offset = _finite_float("offset", offset)

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "rescaling", "scale": self.scale, "offset": self.offset}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Flatten(Layer):
    """Flattens each sample to one axis: ``(batch, 28, 28) -> (batch, 784)`` (a free reshape)."""

    def __init__(self, data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format is not None and (not isinstance(data_format, str) or data_format not in
                                        ("channels_last", "channels_first")):
            raise _invalid("data_format", '"channels_last" or "channels_first"', data_format)
        if data_format == "channels_first":
            raise ValueError("Flatten: data_format='channels_first' is not supported.")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        dims = input_shape[1:]
        return (input_shape[0], int(np.prod(dims)) if dims else 1)


_CLASSES = {c.__name__: c for c in (InputLayer, Dense, Activation, Dropout, BatchNormalization,
                                     Rescaling, Flatten)}


def serialize(layer: Layer) -> Dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a layer."""
    return _serialization.serialize_object(layer)


def deserialize(config: Dict[str, Any]) -> Layer:
    """The layer for a serialized config (only fastmlp's own layer classes; never code)."""
    cls = _serialization.lookup_class(config, _CLASSES, "layer")
    cfg = _serialization.object_config(config, "layer")
    for key in ("kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer",
                "moving_mean_initializer", "moving_variance_initializer"):
        if isinstance(cfg.get(key), dict):
            cfg[key] = initializers.deserialize(cfg[key])
    for key in ("kernel_regularizer", "bias_regularizer"):
        if isinstance(cfg.get(key), dict):
            cfg[key] = regularizers.deserialize(cfg[key])
    return cls.from_config(cfg)
