"""Dtype policies, as in `keras.dtype_policies`: what a layer computes in and what its variables
are stored in.

Two policies exist here: "float32" (the default) and "mixed_bfloat16" (Keras 3's mixed precision:
variables, optimizer state and the loss in float32; a Dense layer's matrix products take their
operands rounded to bfloat16, round to nearest even, and accumulate in float32: the AMX or
AVX512-BF16 kernels where the CPU has them, a portable kernel with the same numerics elsewhere).
Activations between layers stay float32 (Keras casts them to bfloat16; keeping them wider only
removes rounding). "float16", "bfloat16" (bfloat16 variables) and "mixed_float16" are refused with
a clear error rather than run in float32.

A Dense layer quantized by ``model.quantize("int8")`` has Keras's `QuantizedDTypePolicy`
"int8_from_float32": an int8 kernel with per-output-channel float32 scales, inputs quantized per
row at run time, int32 sums (fastmlp/gemm_int8.h). The other quantized modes of Keras ("int4",
"float8", "gptq", "awq") and sources other than float32 are refused.
"""

from __future__ import annotations

import typing as _typing

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["DTypePolicy", "QuantizedDTypePolicy", "deserialize", "get", "serialize"]

_COMPUTE = {"float32": "float32", "mixed_bfloat16": "bfloat16"}
_KERAS_ONLY = ("float16", "bfloat16", "float64", "mixed_float16", "int8", "float8", "int4", "gptq")


class DTypePolicy:
    """A dtype policy: `name`, `compute_dtype`, `variable_dtype` (Keras 3's `DTypePolicy`).

    Args:
        name: "float32" or "mixed_bfloat16" (None: the global policy's name, as in Keras).
    """

    def __init__(self, name: Optional[str] = None) -> None:
        if name is None:
            from fastmlp import config
            name = config.dtype_policy().name
        if not isinstance(name, str):
            raise TypeError("Received an invalid value for `name` of DTypePolicy: expected a "
                            f"string such as 'mixed_bfloat16'. Received: name={name!r}")
        if name not in _COMPUTE:
            if name.startswith(_KERAS_ONLY):
                raise ValueError(f"The dtype policy {name!r} is not supported by fastmlp: it "
                                 "computes in float32 ('float32') or mixes bfloat16 products with "
                                 "float32 variables ('mixed_bfloat16').")
            raise ValueError(f"Cannot convert {name!r} to a mixed precision DTypePolicy. Valid "
                             "policies here: 'float32' and 'mixed_bfloat16'.")
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype of a Dense layer's matrix-product operands."""
        return _COMPUTE[self._name]

    @property
    def variable_dtype(self) -> str:
        """The dtype of the weights and the optimizer state: always "float32"."""
        return "float32"

    @property
    def quantization_mode(self) -> None:
        return None

    def get_config(self) -> Dict[str, Any]:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "DTypePolicy":
        if not isinstance(config, dict) or set(config) != {"name"}:
            raise ValueError("A DTypePolicy config is {'name': <policy name>}. Received: "
                             f"{config!r}")
        return cls(config["name"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self._name

    def __hash__(self) -> int:
        return hash(("DTypePolicy", self._name))

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


class QuantizedDTypePolicy(DTypePolicy):
    """Keras 3's policy of a quantized layer: ``QuantizedDTypePolicy("int8", "float32")`` is
    "int8_from_float32" (what ``model.quantize("int8")`` gives a float32 Dense layer).

    Args:
        mode: the quantization mode; "int8".
        source_name: the policy the layer had before; "float32" (None: the global policy).
    """

    def __init__(self, mode: str, source_name: Optional[str] = None) -> None:
        if source_name is None:
            from fastmlp import config
            source_name = config.dtype_policy().name
        if mode not in _QUANTIZATION_MODES:
            raise ValueError(f"Invalid quantization mode. Expected one of {_QUANTIZATION_MODES}. "
                             f"Received: mode={mode!r}")
        if mode != "int8" or source_name != "float32":
            raise ValueError(f"The dtype policy '{mode}_from_{source_name}' is not supported by "
                             "fastmlp: quantized layers are 'int8_from_float32'.")
        self._mode, self._source_name = mode, source_name
        self._name = f"{mode}_from_{source_name}"

    @property
    def compute_dtype(self) -> str:
        return "float32"

    @property
    def quantization_mode(self) -> str:  # type: ignore[override]
        return self._mode

    def get_config(self) -> Dict[str, Any]:
        return {"mode": self._mode, "source_name": self._source_name}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "QuantizedDTypePolicy":
        if not isinstance(config, dict) or set(config) != {"mode", "source_name"}:
            raise ValueError("A QuantizedDTypePolicy config is {'mode': ..., 'source_name': ...}. "
                             f"Received: {config!r}")
        return cls(config["mode"], config["source_name"])

    def __repr__(self) -> str:
        return f'<QuantizedDTypePolicy "{self._name}">'


_QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")


def serialize(policy: DTypePolicy) -> Dict[str, Any]:
    """Keras 3's serialized form (what a layer config's "dtype" holds)."""
    if isinstance(policy, QuantizedDTypePolicy):
        return {"module": "keras.dtype_policies", "class_name": "QuantizedDTypePolicy",
                "config": policy.get_config(), "registered_name": None}
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(),
            "registered_name": None}


def deserialize(config: Dict[str, Any]) -> DTypePolicy:
    if isinstance(config, dict) and config.get("class_name") == "QuantizedDTypePolicy":
        return QuantizedDTypePolicy.from_config(config.get("config"))
    if not isinstance(config, dict) or config.get("class_name") not in ("DTypePolicy", "Policy"):
        raise ValueError("Expected a serialized DTypePolicy ({'class_name': 'DTypePolicy', "
                         f"'config': {{'name': ...}}}}). Received: {config!r}")
    return DTypePolicy.from_config(config.get("config"))


def _from_name(name: str) -> DTypePolicy:
    """A policy from its name: "float32", "mixed_bfloat16" or "<mode>_from_<source>"."""
    mode, sep, source = name.partition("_from_")
    if sep and mode in _QUANTIZATION_MODES:
        return QuantizedDTypePolicy(mode, source)
    return DTypePolicy(name)


def get(identifier: Any, argument: str = "dtype") -> DTypePolicy:
    """A policy from None (the global one), a name, a NumPy/float32 type, a policy or its
    serialized form; `argument` names the argument in the error."""
    import numpy as np
    if identifier is None:
        from fastmlp import config
        return config.dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        try:
            return _from_name(identifier)
        except ValueError as e:
            raise ValueError(f"Received an invalid value for `{argument}`: {e} Received: "
                             f"{argument}={identifier!r}") from None
    try:
        if np.dtype(identifier) == np.float32:
            return DTypePolicy("float32")
    except (TypeError, ValueError):
        pass
    raise ValueError(f"Invalid `{argument}` argument. Expected the string name of a policy (such "
                     "as 'mixed_bfloat16'), 'float32' or a `DTypePolicy` instance. Received: "
                     f"{argument}={identifier!r} (of type {type(identifier)})")
