"""ONNX nodes of a Dense layer quantized to int8 (Keras's "int8_from_float32"), computed as the
core computes it (fastmlp/gemm_int8.h): the input quantized per row (abs-max, symmetric:
``scale = 127 / (max |x| + 1e-7)``, ``q = clip(round(x * scale), -127, 127)`` as int8; Round is
half to even, as the core's), ``MatMulInteger`` of q and the int8 kernel (exact int32 sums), then
``float(sums) * ((1 / scale) * (1 / kernel_scale)) + bias`` and the activation."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def emit_int8_dense(g: Any, x: str, kernel: np.ndarray, bias: Any, kernel_scale: np.ndarray,
                    activation: Callable[[str], str], base: str) -> str:
    """Appends the layer to `x` (float32 rows); `activation` appends the activation."""
    h, numpy_helper = g.helper, g.numpy_helper
    absx = g.node("Abs", [x], base + "_abs")
    if g.opset >= 18:  # ReduceMax took its axes as an attribute before opset 18
        amax = g.node("ReduceMax", [absx, g.const_int64(base + "_axis", [-1])], base + "_max",
                      keepdims=1)
    else:
        amax = g.node("ReduceMax", [absx], base + "_max", axes=[-1], keepdims=1)
    scale = g.node("Div", [g.const(base + "_127", 127.0),
                           g.node("Add", [amax, g.const(base + "_eps", 1e-7)], base + "_den")],
                   base + "_scale")
    rounded = g.node("Round", [g.node("Mul", [x, scale], base + "_scaled")], base + "_round")
    clipped = g.node("Clip", [rounded, g.const(base + "_lo", -127.0),
                              g.const(base + "_hi", 127.0)], base + "_clip")
    q = g.node("Cast", [clipped], base + "_q", to=h.TensorProto.INT8)
    name = g._name(base + "_kernel_int8")
    g.initializers.append(numpy_helper.from_array(np.asarray(kernel, dtype=np.int8), name))
    sums = g.node("Cast", [g.node("MatMulInteger", [q, name], base + "_matmul")],
                  base + "_sums", to=g.float32)
    row = g.node("Div", [g.const(base + "_one", 1.0), scale], base + "_row_deq")
    col = np.float32(1.0) / np.asarray(kernel_scale, dtype=np.float32)
    factor = g.node("Mul", [row, g.const(base + "_col_deq", col)], base + "_deq")
    y = g.node("Mul", [sums, factor], base + "_dequant")
    if bias is not None:
        y = g.node("Add", [y, g.const(base + "_bias", bias)], base + "_bias_add")
    return activation(y)
