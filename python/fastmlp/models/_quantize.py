"""`Sequential.quantize("int8")`: Keras 3's int8 quantization of Dense layers.

As Keras (`keras/src/layers/core/dense.py` `quantize`, `_int8_call`; `keras/src/quantizers`):
the kernel of each float32 Dense layer becomes int8 with one float32 scale per output channel,
``scale = 127 / (max |kernel[:, j]| + 1e-7)``, ``q = clip(round(kernel * scale), -127, 127)``
(the same NumPy float32 arithmetic, so the same bytes); at run time the inputs of the layer are
quantized the same way per row (Keras's ``AbsMaxQuantizer(axis=-1)``), the products summed in
int32 and the sums dequantized by ``1 / (input scale * kernel scale)`` before the bias and the
activation (fused into the GEMM's write-back, fastmlp/gemm_int8.h). The layer's policy becomes
"int8_from_float32" and its variables Keras's ``kernel`` (int8), ``bias``, ``kernel_scale``.

A quantized model predicts, evaluates, saves and loads; it cannot be trained (Keras 3 fine-tunes
the bias of a quantized Dense; fastmlp refuses `fit` and `train_on_batch` with a clear error).
"""

from __future__ import annotations

import json
import re
import typing as _typing

import numpy as np

from fastmlp import dtype_policies

if _typing.TYPE_CHECKING:
    from typing import Any, List, Tuple

__all__ = ["abs_max_quantize", "quantize_model"]

_MODES = ("int8", "float8", "int4", "gptq", "awq")
# What Keras writes as a quantized Dense's `quantization_config` (its defaults for int8).
_KERAS_DEFAULT_INT8 = {
    "module": "keras.quantizers", "class_name": "Int8QuantizationConfig",
    "config": {"weight_quantizer": None, "activation_quantizer": {
        "module": "keras.quantizers", "class_name": "AbsMaxQuantizer",
        "config": {"value_range": [-127, 127], "epsilon": 1e-07, "output_dtype": "int8"},
        "registered_name": None}},
    "registered_name": None}


def abs_max_quantize(x: Any, axis: int, value_range: Tuple[int, int] = (-127, 127),
                     epsilon: float = 1e-7) -> Tuple[np.ndarray, np.ndarray]:
    """Keras's ``abs_max_quantize(..., to_numpy=True)``: (int8 values, float32 scale with the
    reduced axis kept)."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.divide(value_range[1], np.add(np.max(np.abs(x), axis=axis, keepdims=True),
                                             epsilon))
    out = np.clip(np.round(np.multiply(x, scale)), value_range[0], value_range[1])
    return out.astype(np.int8), scale.astype(np.float32)


def check_quantization_config(config: Any, policy: Any) -> None:
    """Dense's ``quantization_config``: None, or Keras's default int8 one on an int8 layer."""
    if config is None:
        return
    try:
        same = json.loads(json.dumps(config)) == _KERAS_DEFAULT_INT8
    except (TypeError, ValueError):
        same = False
    if not (same and policy.quantization_mode == "int8"):
        raise ValueError("Dense: `quantization_config` is supported only as Keras's default int8 "
                         "configuration (an AbsMaxQuantizer of the inputs, value range "
                         f"(-127, 127)) on an 'int8_from_float32' layer. Received: "
                         f"quantization_config={config!r:.300}")


def _selected(layer: Any, filters: Any) -> bool:
    """Keras's `should_quantize_layer`: a regex (searched in the name), a list of them, or a
    callable taking the layer."""
    if filters is None:
        return True
    if isinstance(filters, str):
        return re.search(filters, layer.name) is not None
    if isinstance(filters, (list, tuple)):
        return any(re.search(f, layer.name) is not None for f in filters)
    return bool(filters(layer))


def _check_arguments(mode: Any, config: Any, filters: Any, kwargs: Any) -> None:
    kwargs = dict(kwargs)
    kwargs.pop("type_check", None)
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments passed to Sequential: {kwargs}")
    if config is not None:
        raise ValueError("`config` (a keras.quantizers.QuantizationConfig) is not supported by "
                         "fastmlp: quantize(mode='int8') uses Keras's default int8 quantizers. "
                         f"Received: config={config!r}")
    if mode not in _MODES:
        raise ValueError(f"Invalid quantization mode. Expected one of {_MODES}. Received: "
                         f"mode={mode!r}")
    if mode != "int8":
        raise ValueError(f"Quantization mode {mode!r} is not supported by fastmlp; it quantizes "
                         "Dense layers to 'int8'.")
    if filters is not None and not isinstance(filters, (str, list, tuple)) and \
            not callable(filters):
        raise ValueError("The `filters` argument must be a regex string, a list of regex "
                         f"strings, or a callable. Received: {type(filters)}")


def quantize_model(model: Any, mode: Any, config: Any = None, filters: Any = None,
                   **kwargs: Any) -> None:
    """Quantizes every selected float32 Dense layer of the built `model` to int8 (in place)."""
    from fastmlp.layers import Dense
    _check_arguments(mode, config, filters, kwargs)
    if not model.built:
        first = model.layers[0] if model.layers else None
        raise ValueError("Cannot quantize a layer that isn't yet built. Layer "
                         f"'{getattr(first, 'name', model.name)}' (of type "
                         f"'{type(first).__name__}') is not built yet.")
    chosen = [layer for layer in model.layers
              if type(layer) is Dense and _selected(layer, filters)]
    for layer in chosen:
        if layer.quantization_mode:
            raise ValueError(f"Layer '{layer.name}' is already quantized with "
                             f"dtype_policy='{layer.dtype_policy.name}'. Received: mode={mode}")
        if layer.dtype_policy.name != "float32":
            raise ValueError(f"Layer '{layer.name}' has the dtype policy "
                             f"{layer.dtype_policy.name!r}: fastmlp quantizes float32 Dense "
                             "layers to 'int8_from_float32' only.")
    if not chosen:
        return
    old = {id(layer): layer.get_weights() for layer in model.layers}
    policy = dtype_policies.QuantizedDTypePolicy("int8", "float32")
    for layer in chosen:
        layer._dtype_policy, layer._spec = policy, None
    try:
        model._rebuild_with(lambda layer: _new_weights(layer, old[id(layer)], chosen))
    except BaseException:
        for layer in chosen:
            layer._dtype_policy = dtype_policies.DTypePolicy("float32")
            layer._spec = None
        raise


def _new_weights(layer: Any, weights: List[np.ndarray], chosen: List[Any]) -> List[np.ndarray]:
    if not any(layer is c for c in chosen):
        return weights
    q, scale = abs_max_quantize(weights[0], axis=0)
    return [q, *weights[1:], np.squeeze(scale, axis=0)]


def check_quantized_weights(model: Any, arrays: List[np.ndarray]) -> None:
    """The int8 kernels given to `set_weights` are integers in [-128, 127] and the scales
    positive and finite (ValueError naming the layer)."""
    for layer in model.layers:
        if not getattr(layer, "quantization_mode", None):
            continue
        kernel, scale = arrays[layer._weight_offset], arrays[layer._weight_offset +
                                                             len(layer.weight_names()) - 1]
        if not (np.all(kernel == np.round(kernel)) and np.all(kernel >= -128) and
                np.all(kernel <= 127)):
            raise ValueError(f"Received an invalid value for the `kernel` of layer "
                             f"{layer.name!r}: expected int8 values (integers in [-128, 127]) "
                             "of a quantized Dense layer.")
        if not np.all((scale > 0) & np.isfinite(scale)):
            raise ValueError(f"Received an invalid value for the `kernel_scale` of layer "
                             f"{layer.name!r}: expected positive finite floats.")


def refuse_training(model: Any, what: str) -> None:
    names = [layer.name for layer in model.layers if getattr(layer, "quantization_mode", None)]
    if names:
        raise ValueError(f"`{what}` cannot train a quantized model: layers {names} are "
                         "quantized to int8 (inference only in fastmlp). Train the float32 "
                         "model, then call `model.quantize('int8')`.")


def to_keras_dtypes(model: Any, weights: List[np.ndarray]) -> List[np.ndarray]:
    """The core's float32 arrays with each quantized kernel as int8 (Keras's dtype)."""
    for layer in model.layers:
        if getattr(layer, "quantization_mode", None):
            i = layer._weight_offset
            weights[i] = weights[i].astype(np.int8)
    return weights
