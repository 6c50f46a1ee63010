"""ONNX export of a fastmlp model from its core layer specs and weights.

The graph is built with the `onnx` package's helpers (optional extra:
``pip install fastmlp[onnx]``). Inference semantics are exported: Dropout disappears,
BatchNormalization uses its moving statistics and is folded into the preceding linear Dense
layer when nothing sits between them (otherwise it becomes one Mul and one Add), Rescaling
becomes Mul/Add, Flatten becomes an ONNX Flatten; the layers of `_onnx_layers` (ReLU, ELU,
PReLU, Softmax, LayerNormalization, Normalization) their own nodes, the noise layers nothing.
The batch dimension is dynamic (``"batch"``).

Folding arithmetic is done in float64 and rounded once to float32, so the exported graph agrees
with a float64 forward pass of the unfolded model to float32 rounding.
"""

from __future__ import annotations

import math
import os
import typing as _typing

import numpy as np

from fastmlp.export import _onnx_int8, _onnx_layers

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["GELU_OPSET", "MIN_OPSET", "SUPPORTED_ACTIVATIONS", "export_onnx"]

# Softmax with axis=-1 semantics (no coercion to 2-D) needs opset 13.
MIN_OPSET = 13
# The native Gelu operator (with approximate="tanh") exists from opset 20.
GELU_OPSET = 20

SUPPORTED_ACTIVATIONS = (
    "linear", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "sigmoid", "hard_sigmoid",
    "tanh", "softplus", "silu", "swish", "softmax",
)

_SKIPPED_TYPES = ("dropout", "input", "input_layer", *_onnx_layers.NOISE_TYPES)

# As in the core's parse_activation: a parameter of 0 selects the Keras default.
_DEFAULT_PARAM = {"leaky_relu": 0.2, "elu": 1.0}


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "ONNX export needs the `onnx` package: pip install fastmlp[onnx]") from exc
    return onnx, helper, numpy_helper


class _GraphBuilder:
    """Accumulates nodes and initializers; every name is made unique with a running counter."""

    def __init__(self, helper, numpy_helper, opset: int):
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.opset = opset
        self.float32 = helper.TensorProto.FLOAT  # Cast targets
        self.bfloat16 = helper.TensorProto.BFLOAT16
        self.nodes: List[Any] = []
        self.initializers: List[Any] = []
        self._count = 0

    def _name(self, base: str) -> str:
        self._count += 1
        return f"{base}_{self._count}"

    def const(self, base: str, value) -> str:
        name = self._name(base)
        arr = np.asarray(value, dtype=np.float32)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        return name

    def const_int64(self, base: str, value) -> str:
        name = self._name(base)
        arr = np.asarray(value, dtype=np.int64)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        return name

    def node(self, op: str, inputs: Sequence[str], base: str, **attrs) -> str:
        out = self._name(base)
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], name=out + "_" + op,
                                                **attrs))
        return out


def _activation(g: _GraphBuilder, x: str, name: str, param: float, base: str) -> str:
    """Appends the nodes of one activation to `x`; returns the output tensor name."""
    if name == "linear":
        return x
    param = float(param) or _DEFAULT_PARAM.get(name, 0.0)
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
              "selu": "Selu"}
    if name in simple:
        return g.node(simple[name], [x], base)
    if name == "leaky_relu":
        return g.node("LeakyRelu", [x], base, alpha=float(param))
    if name == "elu":
        return g.node("Elu", [x], base, alpha=float(param))
    if name == "hard_sigmoid":
        # Keras 3: relu6(x + 3) / 6 == clip(x / 6 + 1/2, 0, 1).
        return g.node("HardSigmoid", [x], base, alpha=1.0 / 6.0, beta=0.5)
    if name in ("silu", "swish"):
        return g.node("Mul", [x, g.node("Sigmoid", [x], base + "_sig")], base)
    if name == "softmax":
        return g.node("Softmax", [x], base, axis=-1)
    if name in ("gelu", "gelu_tanh"):
        return _gelu(g, x, approximate=name == "gelu_tanh", base=base)
    raise ValueError(
        f"Cannot export activation {name!r}: supported are {', '.join(SUPPORTED_ACTIVATIONS)}")


def _gelu(g: _GraphBuilder, x: str, approximate: bool, base: str) -> str:
    if g.opset >= GELU_OPSET:
        return g.node("Gelu", [x], base, approximate="tanh" if approximate else "none")
    if approximate:
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = g.node("Mul", [g.node("Mul", [x, x], base + "_x2"), x], base + "_x3")
        inner = g.node("Add", [x, g.node("Mul", [x3, g.const("c", 0.044715)], base + "_cx3")],
                       base + "_in")
        t = g.node("Tanh", [g.node("Mul", [inner, g.const("k", math.sqrt(2.0 / math.pi))],
                                   base + "_kin")], base + "_tanh")
    else:
        # 0.5 x (1 + erf(x / sqrt(2)))
        t = g.node("Erf", [g.node("Mul", [x, g.const("rs2", 1.0 / math.sqrt(2.0))], base + "_xs")],
                   base + "_erf")
    one_plus = g.node("Add", [t, g.const("one", 1.0)], base + "_1p")
    half_x = g.node("Mul", [x, g.const("half", 0.5)], base + "_hx")
    return g.node("Mul", [half_x, one_plus], base)


def _take(weights: List[np.ndarray], pos: int, shape: Tuple[int, ...], what: str,
          layer: int) -> np.ndarray:
    if pos >= len(weights):
        raise ValueError(f"weights: too few arrays; layer {layer} needs {what} at index {pos} "
                         f"but only {len(weights)} were given")
    w = np.asarray(weights[pos], dtype=np.float64)
    if w.shape != tuple(shape):
        raise ValueError(f"weights[{pos}] ({what} of layer {layer}) has shape {w.shape}, "
                         f"expected {tuple(shape)}")
    return w


def _bn_affine(spec: Dict[str, Any], weights, pos: int, units: int,
               layer: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """Inference-mode BatchNormalization as y = x * s + t, in float64; returns (s, t, new pos)."""
    gamma = np.ones(units)
    beta = np.zeros(units)
    if spec.get("scale", True):
        gamma = _take(weights, pos, (units,), "gamma", layer)
        pos += 1
    if spec.get("center", True):
        beta = _take(weights, pos, (units,), "beta", layer)
        pos += 1
    mean = _take(weights, pos, (units,), "moving_mean", layer)
    var = _take(weights, pos + 1, (units,), "moving_variance", layer)
    s = gamma / np.sqrt(var + float(spec.get("epsilon", 1e-3)))
    return s, beta - mean * s, pos + 2


class _PendingDense:
    """A Dense layer whose MatMul/Add is not emitted yet, so a following BatchNormalization can
    fold into its kernel and bias."""

    def __init__(self, kernel: np.ndarray, bias: Optional[np.ndarray], spec: Dict[str, Any]):
        self.kernel, self.bias, self.spec = kernel, bias, spec

    def fold(self, s: np.ndarray, t: np.ndarray) -> None:
        self.kernel = self.kernel * s[None, :]
        self.bias = t if self.bias is None else self.bias * s + t

    @property
    def bf16(self) -> bool:
        return self.spec.get("compute_dtype", "float32") == "bfloat16"

    def emit(self, g: _GraphBuilder, x: str, base: str) -> str:
        kernel = self.kernel
        if self.bf16:
            # mixed_bfloat16: the product of bf16-rounded operands summed in float32, as the core
            # computes it: the input through a Cast pair, the kernel stored already rounded.
            to_bf16 = g.node("Cast", [x], base + "_to_bf16", to=g.bfloat16)
            x = g.node("Cast", [to_bf16], base + "_from_bf16", to=g.float32)
            kernel = _round_to_bfloat16(kernel)
        y = g.node("MatMul", [x, g.const(base + "_kernel", kernel)], base + "_matmul")
        if self.bias is not None:
            y = g.node("Add", [y, g.const(base + "_bias", self.bias)], base + "_bias_add")
        return _activation(g, y, self.spec.get("activation", "linear"),
                           self.spec.get("activation_param", 0.0), base + "_act")


def _round_to_bfloat16(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32: the rounding
    of the core's bf16 packers (NaN stays NaN, values beyond bf16's range become Inf, subnormals
    become zero)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32)
    out = rounded.view(np.float32).copy()
    out[np.isnan(a)] = np.nan
    out[np.abs(a) < np.finfo(np.float32).tiny] = 0.0
    return np.copysign(out, a)


def _shape_tuple(input_dim: Union[int, Sequence[int]]) -> Tuple[int, ...]:
    shape = (input_dim,) if isinstance(input_dim, (int, np.integer)) else tuple(input_dim)
    if not shape or any(not isinstance(d, (int, np.integer)) or d <= 0 for d in shape):
        raise ValueError(f"input_dim must be a positive int or a tuple of positive ints "
                         f"(per-sample shape). Received: input_dim={input_dim!r}")
    return tuple(int(d) for d in shape)


def _rescale(g: _GraphBuilder, x: str, spec: Dict[str, Any], base: str) -> str:
    scale = np.asarray(spec.get("scale", 1.0), dtype=np.float64)
    offset = np.asarray(spec.get("offset", 0.0), dtype=np.float64)
    if not np.all(scale == 1.0):
        x = g.node("Mul", [x, g.const(base + "_scale", scale)], base + "_mul")
    if not np.all(offset == 0.0):
        x = g.node("Add", [x, g.const(base + "_offset", offset)], base + "_add")
    return x


def _build_graph(g: _GraphBuilder, x: str, shape: Tuple[int, ...], layer_specs, weights,
                 fold_batchnorm: bool) -> Tuple[str, Tuple[int, ...]]:
    """Emits every layer; returns the output tensor name and the per-sample output shape."""
    pos = 0
    pending: Optional[_PendingDense] = None
    pending_base = ""
    for i, spec in enumerate(layer_specs):
        kind = spec.get("type") if isinstance(spec, dict) else None
        base = f"l{i}_{kind}"
        if kind in _SKIPPED_TYPES:
            continue
        if kind == "batch_normalization" and len(shape) != 1:
            raise ValueError(f"layer {i}: batch_normalization export supports 2-D inputs "
                             f"(batch, features); got per-sample shape {shape}")
        if kind == "batch_normalization" and pending is not None and fold_batchnorm and \
                pending.spec.get("activation", "linear") == "linear" and not pending.bf16:
            s, t, pos = _bn_affine(spec, weights, pos, shape[0], i)
            pending.fold(s, t)
            continue
        if pending is not None:
            x, pending = pending.emit(g, x, pending_base), None
        if kind == "dense":
            if len(shape) != 1:
                raise ValueError(f"layer {i}: dense needs a flat input; got per-sample shape "
                                 f"{shape} (add a Flatten layer)")
            units = int(spec["units"])
            kernel = _take(weights, pos, (shape[0], units), "kernel", i)
            pos += 1
            bias = None
            if spec.get("use_bias", True):
                bias = _take(weights, pos, (units,), "bias", i)
                pos += 1
            if spec.get("quantization_mode") == "int8":  # scales after the bias (Keras's order)
                scale = _take(weights, pos, (units,), "kernel_scale", i)
                pos += 1
                x, shape = _onnx_int8.emit_int8_dense(g, x, kernel, bias, scale, lambda y: (
                    _activation(g, y, spec.get("activation", "linear"),
                                spec.get("activation_param", 0.0), base + "_act")), base), (units,)
                continue
            pending, pending_base, shape = _PendingDense(kernel, bias, spec), base, (units,)
        elif kind == "batch_normalization":
            s, t, pos = _bn_affine(spec, weights, pos, shape[0], i)
            x = g.node("Add", [g.node("Mul", [x, g.const(base + "_s", s)], base + "_mul"),
                               g.const(base + "_t", t)], base)
        elif kind == "activation":
            x = _activation(g, x, spec.get("activation", "linear"),
                            spec.get("activation_param", 0.0), base)
        elif kind == "rescaling":
            x = _rescale(g, x, spec, base)
        elif kind in _onnx_layers.EMITTERS:
            if len(shape) > 1:  # they work on the flat sample, as the core does
                x, shape = g.node("Flatten", [x], base + "_in", axis=1), (int(np.prod(shape)),)
            x, pos = _onnx_layers.EMITTERS[kind](g, x, shape[0], spec, weights, pos, i, base)
        elif kind == "flatten":
            if len(shape) > 1:
                x, shape = g.node("Flatten", [x], base, axis=1), (int(np.prod(shape)),)
        else:
            raise ValueError(f"layer {i}: cannot export layer type {kind!r}")
    if pending is not None:
        x = pending.emit(g, x, pending_base)
    if pos != len(weights):
        raise ValueError(f"weights: {len(weights)} arrays given but the layers use {pos}")
    return x, shape


def export_onnx(path: Optional[Union[str, os.PathLike]], input_dim: Union[int, Sequence[int]],
                layer_specs: Sequence[Dict[str, Any]], weights: Sequence[np.ndarray],
                opset: int = 17, input_name: str = "input", output_name: str = "output",
                fold_batchnorm: bool = True, model_name: str = "fastmlp"):
    """Writes an inference-mode ONNX graph of a fastmlp model.

    Args:
        path: file to write, or None to only return the model.
        input_dim: per-sample input shape: an int, or a tuple such as ``(28, 28)`` when the
            model starts with a ``{"type": "flatten"}`` layer.
        layer_specs: the core layer spec dicts (docs/core_api.md); ``flatten`` and ``input``
            entries are accepted too.
        weights: arrays in ``get_weights()`` order.
        opset: ONNX opset of the default domain, >= 13. Defaults to 17; from 20 on, GELU uses
            the native ``Gelu`` operator, below it is composed from Erf/Tanh.
        input_name, output_name: graph input and output names.
        fold_batchnorm: fold a BatchNormalization into the directly preceding linear Dense.
        model_name: the graph name.

    Returns:
        The checked ``onnx.ModelProto``.

    Example:
        >>> export_onnx("m.onnx", 4, [{"type": "dense", "units": 2, "activation": "relu"}],
        ...             [np.ones((4, 2), np.float32), np.zeros(2, np.float32)])  # doctest: +SKIP
    """
    onnx, helper, numpy_helper = _import_onnx()
    max_opset = onnx.defs.onnx_opset_version()
    if not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= max_opset:
        raise ValueError(f"opset must be an int in [{MIN_OPSET}, {max_opset}]. "
                         f"Received: opset={opset!r}")
    shape = _shape_tuple(input_dim)
    g = _GraphBuilder(helper, numpy_helper, int(opset))
    y, out_shape = _build_graph(g, input_name, shape, list(layer_specs), list(weights),
                                fold_batchnorm)
    if not g.nodes or g.nodes[-1].output[0] != y:  # e.g. an empty model: outputs need a node
        y = g.node("Identity", [y], "identity")
    g.nodes[-1].output[0] = output_name
    g.nodes[-1].name = output_name + "_" + g.nodes[-1].op_type
    float_t = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes, model_name,
        [helper.make_tensor_value_info(input_name, float_t, ["batch", *shape])],
        [helper.make_tensor_value_info(output_name, float_t, ["batch", *out_shape])],
        initializer=g.initializers)
    opsets = [helper.make_opsetid("", int(opset))]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="fastmlp",
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model
