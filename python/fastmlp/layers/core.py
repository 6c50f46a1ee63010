"""The core layers: the model's input (`Input`, `InputLayer`), `Dense`, `Activation` and
`Identity`."""

from __future__ import annotations

import typing as _typing

from fastmlp import _checks, _naming, activations, initializers, regularizers
from fastmlp.layers import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from fastmlp.layers.base import Shape, Variable

__all__ = ["Activation", "Dense", "Identity", "Input", "InputLayer", "KerasTensor"]


class InputLayer(base.Layer):
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
                raise _checks.invalid("batch_shape",
                                      "a tuple (batch size or None, *sample shape)", batch_shape)
            batch_size, shape = batch_shape[0], tuple(batch_shape)[1:]
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if shape is None:
            raise ValueError("InputLayer needs `shape` (the shape of one sample). Received: "
                             "shape=None")
        if sparse:
            raise ValueError("Sparse inputs are not supported. Received: sparse=True")
        if not _checks.float32_dtype(dtype):  # the data's dtype, not a policy
            raise ValueError(f"Inputs are float32 (dtype None or 'float32'). Received: "
                             f"dtype={dtype!r}")
        super().__init__(name=name if name is not None else _naming.unique_name("input_layer"),
                         dtype="float32", **kwargs)
        self.shape = _checks.sample_shape("shape", shape)
        self.batch_size = None if batch_size is None else \
            _checks.integer("batch_size", batch_size, 1)

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


class Dense(base.Layer):
    """Fully connected layer: ``activation(inputs @ kernel + bias)``.

    Args:
        units: positive integer, the output width.
        activation: name or function from `fastmlp.activations`; None is linear. Defaults to None.
        use_bias: whether to add a bias vector. Defaults to True.
        kernel_initializer: initializer name or object. Defaults to "glorot_uniform".
        bias_initializer: initializer name or object. Defaults to "zeros".
        kernel_regularizer: optional `fastmlp.regularizers` object or name.
        bias_regularizer: optional regularizer for the bias.
        quantization_config: None, or Keras's default int8 configuration as a Keras file holds
            it (the layer of a quantized model: dtype "int8_from_float32").

    Example:
        >>> layers.Dense(64, activation="relu", kernel_regularizer=regularizers.L2(1e-4))
    """

    _quantizable = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: Optional[int] = None,
                 quantization_config: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from fastmlp.models._quantize import check_quantization_config
        check_quantization_config(quantization_config, self._dtype_policy)
        self.units = _checks.integer("units", units, 1)
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

    @property
    def quantization_mode(self) -> Optional[str]:
        return self._dtype_policy.quantization_mode

    def weight_names(self) -> List[Tuple[str, bool]]:
        if self.quantization_mode:  # Keras's order of a quantized Dense's variables in files
            return [("kernel", False)] + ([("bias", True)] if self.use_bias else []) + \
                [("kernel_scale", False)]
        return [("kernel", True)] + ([("bias", True)] if self.use_bias else [])

    def _weight_dtype(self, index: int) -> str:
        return "int8" if self.quantization_mode and index == 0 else "float32"

    def quantize(self, mode: Optional[str] = None, type_check: bool = True,
                 config: Any = None) -> None:
        """Quantizes this layer of a built model as ``model.quantize(mode)`` does."""
        if not self.built:
            raise ValueError("Cannot quantize a layer that isn't yet built. Layer "
                             f"'{self.name}' (of type 'Dense') is not built yet.")
        self._owner.quantize(mode, config=config, filters=lambda layer: layer is self)

    def to_spec(self) -> Dict[str, Any]:
        none = {"l1": 0.0, "l2": 0.0}
        return {"type": "dense", "units": self.units, "activation": self._activation_name,
                "activation_param": self._activation_param, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer.to_spec(),
                "bias_initializer": self.bias_initializer.to_spec(),
                "kernel_regularizer": self.kernel_regularizer.to_spec()
                if self.kernel_regularizer else none,
                "bias_regularizer": self.bias_regularizer.to_spec()
                if self.bias_regularizer else none,
                "compute_dtype": self.compute_dtype,
                **({"quantization_mode": "int8"} if self.quantization_mode else {})}

    @property
    def kernel(self) -> Variable:
        return self.weights[0]

    @property
    def bias(self) -> Optional[Variable]:
        return self.weights[1] if self.use_bias else None

    @property
    def kernel_scale(self) -> Variable:
        if not self.quantization_mode:
            raise AttributeError(f"Dense layer {self.name!r} is not quantized: it has no "
                                 "kernel_scale.")
        return self.weights[-1]

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": self._activation_name, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                **({"quantization_config": None} if self.quantization_mode else {})}


class Activation(base.Layer):
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


class Identity(base.Layer):
    """Returns its input unchanged (a placeholder; the core skips it)."""
