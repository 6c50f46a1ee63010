"""ONNX nodes of the activation, normalization and noise layers of issue 19 (`relu`, `elu`,
`prelu`, `softmax`, `layer_normalization`, `normalization`; the noise layers are the identity
at inference and skipped). Each emitter takes the flat per-sample shape ``(width,)`` and
returns the output name and the position of the next weight array."""

from __future__ import annotations

import typing as _typing

import numpy as np

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, Tuple

    Emitter = Callable[..., Tuple[str, int]]

NOISE_TYPES = ("gaussian_noise", "gaussian_dropout", "alpha_dropout")

# Native LayerNormalization (axis=-1 over the last dims) exists from opset 17; ReduceMean takes
# its axes as an input instead of an attribute from opset 18.
LAYER_NORM_OPSET = 17
REDUCE_AXES_INPUT_OPSET = 18


def _take(weights, pos, shape, what, layer):
    from fastmlp.export.onnx import _take as take
    return take(weights, pos, shape, what, layer)


def _rows(g, x: str, width: int, group: int, base: str) -> str:
    """``x`` (batch, width) as (batch, width / group, group)."""
    return g.node("Reshape", [x, g.const_int64(base + "_rows", [0, width // group, group])],
                  base + "_rows")


def _flat(g, x: str, width: int, base: str) -> str:
    return g.node("Reshape", [x, g.const_int64(base + "_flat", [0, width])], base + "_flat")


def relu(g, x, width, spec, weights, pos, layer, base):
    s = float(spec.get("negative_slope") or 0.0)
    t = float(spec.get("threshold") or 0.0)
    top = spec.get("max_value")
    if t == 0.0 and top is None:
        return (g.node("LeakyRelu", [x], base, alpha=s) if s else g.node("Relu", [x], base)), pos
    if t == 0.0 and s == 0.0:
        return g.node("Clip", [x, g.const(base + "_lo", 0.0), g.const(base + "_hi", top)],
                      base), pos
    # x > t ? min(x, max_value) : s * (x - t)
    above = x if top is None else g.node("Min", [x, g.const(base + "_max", top)], base + "_min")
    below = g.node("Mul", [g.node("Sub", [x, g.const(base + "_t", t)], base + "_sub"),
                           g.const(base + "_s", s)], base + "_neg")
    cond = g.node("Greater", [x, g.const(base + "_thr", t)], base + "_gt")
    return g.node("Where", [cond, above, below], base), pos


def elu(g, x, width, spec, weights, pos, layer, base):
    return g.node("Elu", [x], base, alpha=float(spec.get("alpha", 1.0))), pos


def softmax(g, x, width, spec, weights, pos, layer, base):
    group = int(spec.get("group") or width)
    if group == width:
        return g.node("Softmax", [x], base, axis=-1), pos
    y = g.node("Softmax", [_rows(g, x, width, group, base)], base + "_softmax", axis=-1)
    return _flat(g, y, width, base), pos


def _expanded(spec: Dict[str, Any], values: np.ndarray, width: int) -> np.ndarray:
    """A parameter over ``param_axes`` of the sample shape, broadcast to the flat sample."""
    sample = list(spec.get("sample_shape") or [width])
    axes = spec.get("param_axes", list(range(len(sample))))
    shape = [d if a in axes else 1 for a, d in enumerate(sample)]
    return np.broadcast_to(np.asarray(values).reshape(shape), sample).reshape(width)


def prelu(g, x, width, spec, weights, pos, layer, base):
    shape = tuple(spec["param_shape"])
    alpha = _take(weights, pos, shape, "alpha", layer)
    slope = _expanded(spec, alpha, width)
    return g.node("PRelu", [x, g.const(base + "_alpha", slope)], base), pos + 1


def normalization(g, x, width, spec, weights, pos, layer, base):
    shape = tuple(spec["param_shape"])
    if spec.get("constant"):
        mean, var = (np.asarray(spec[k], np.float32).reshape(shape) for k in ("mean", "variance"))
    else:
        mean = _take(weights, pos, shape, "mean", layer)
        var = _take(weights, pos + 1, shape, "variance", layer)
        _take(weights, pos + 2, (), "count", layer)
        pos += 3
    # As the core: the divisor max(sqrt(variance), 1e-7) in float32.
    m = _expanded(spec, np.asarray(mean, np.float32), width)
    d = np.maximum(np.sqrt(_expanded(spec, np.asarray(var, np.float32), width)),
                   np.float32(1e-7))
    m_name, d_name = g.const(base + "_mean", m), g.const(base + "_div", d)
    if spec.get("invert"):
        return g.node("Add", [m_name, g.node("Mul", [x, d_name], base + "_mul")], base), pos
    return g.node("Div", [g.node("Sub", [x, m_name], base + "_sub"), d_name], base), pos


def _reduce_mean(g, x: str, base: str) -> str:
    if g.opset >= REDUCE_AXES_INPUT_OPSET:
        return g.node("ReduceMean", [x, g.const_int64(base + "_axes", [-1])], base,
                      keepdims=1)
    return g.node("ReduceMean", [x], base, axes=[-1], keepdims=1)


def layer_normalization(g, x, width, spec, weights, pos, layer, base):
    group = int(spec.get("group") or width)
    shape = tuple(spec.get("param_shape") or (group,))
    rms = bool(spec.get("rms_scaling"))
    gamma = beta = None
    if spec.get("scale", True) or rms:
        gamma = _take(weights, pos, shape, "gamma", layer).reshape(group)
        pos += 1
    if spec.get("center", True) and not rms:
        beta = _take(weights, pos, shape, "beta", layer).reshape(group)
        pos += 1
    eps = float(spec.get("epsilon", 1e-3))
    rows = x if group == width else _rows(g, x, width, group, base)
    if g.opset >= LAYER_NORM_OPSET and not rms:
        inputs = [rows, g.const(base + "_gamma", np.ones(group) if gamma is None else gamma)]
        if beta is not None:
            inputs.append(g.const(base + "_beta", beta))
        y = g.node("LayerNormalization", inputs, base + "_ln", axis=-1, epsilon=eps)
    else:
        centered = g.node("Sub", [rows, _reduce_mean(g, rows, base + "_mean")], base + "_dev")
        var = _reduce_mean(g, g.node("Mul", [centered, centered], base + "_sq"), base + "_var")
        std = g.node("Sqrt", [g.node("Add", [var, g.const(base + "_eps", eps)], base + "_ve")],
                     base + "_std")
        y = g.node("Div", [rows if rms else centered, std], base + "_norm")
        if gamma is not None:
            y = g.node("Mul", [y, g.const(base + "_gamma", gamma)], base + "_scale")
        if beta is not None:
            y = g.node("Add", [y, g.const(base + "_beta", beta)], base + "_shift")
    return (y if group == width else _flat(g, y, width, base)), pos


EMITTERS: Dict[str, Emitter] = {
    "relu": relu, "elu": elu, "softmax": softmax, "prelu": prelu,
    "normalization": normalization, "layer_normalization": layer_normalization,
}
