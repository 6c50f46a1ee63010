"""Sizes a Sequential model may have: checked per layer, before anything is allocated."""

from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np

from fastmlp import layers as layers_module
from fastmlp.layers import Layer

# Widths the core indexes with 32-bit GEMM block arithmetic stay below this.
_MAX_WIDTH = 2**31 - 1


def physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return 2**62


def check_input_width(sample_shape: Tuple[int, ...]) -> None:
    width = int(np.prod(sample_shape, dtype=object))
    if width > _MAX_WIDTH:
        raise ValueError(f"The input shape {sample_shape} has {width} features per sample, more "
                         f"than the supported maximum of {_MAX_WIDTH}.")


def size_step(layer: Layer, shape: Tuple[Optional[int], ...], total: int,
              memory: int) -> Tuple[Tuple[Optional[int], ...], int]:
    """``layer``'s output shape for inputs of ``shape`` and the weight bytes so far (``total``
    before it). Refuses, before anything is allocated, widths and weight sizes no machine can
    hold (so a typo such as ``Dense(2**40)`` is a ValueError naming the layer, not a failed
    allocation); also checks that the layer accepts ``shape``."""
    width = int(np.prod([d for d in shape[1:]], dtype=object))
    out_shape = layer.compute_output_shape(shape)
    out = int(np.prod([d for d in out_shape[1:]], dtype=object))
    if out > _MAX_WIDTH:
        raise ValueError(f"Layer {layer.name!r} outputs {out} features per sample, more than "
                         f"the supported maximum of {_MAX_WIDTH}.")
    if isinstance(layer, layers_module.Dense):
        total += (width + 1) * out * 4
        if total > memory:
            raise ValueError(f"Layer {layer.name!r} ({width} -> {out} units) brings the "
                             f"weights to {total} bytes, more than this machine's memory "
                             f"({memory} bytes).")
    return out_shape, total
