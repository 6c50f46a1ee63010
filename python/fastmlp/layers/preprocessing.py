"""Preprocessing layers: `Rescaling` (fused into the input conversion when first)."""

from __future__ import annotations

import typing as _typing

from fastmlp import _checks
from fastmlp.layers import base

if _typing.TYPE_CHECKING:
    from typing import Any, Dict

__all__ = ["Rescaling"]


class Rescaling(base.Layer):
    """``inputs * scale + offset``; as the first layer, fused into the input conversion.

    Args:
        scale: the factor, e.g. ``1 / 255``.
        offset: added after scaling. Defaults to 0.0.
    """

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = _checks.number("scale", scale)
        self.offset = _checks.number("offset", offset)

    def to_spec(self) -> Dict[str, Any]:
        return {"type": "rescaling", "scale": self.scale, "offset": self.offset}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
