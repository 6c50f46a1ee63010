"""`Layer`: the base of all layers (name, trainable flag, the link to the model holding the
weights, config).

``trainable=False`` freezes a layer as in Keras 3: the optimizer leaves its weights alone and a
frozen BatchNormalization normalizes with its moving statistics (and does not update them). A
change takes effect when the model is next compiled (see `Sequential.compile`).

A layer here is a description: its arguments, validated in the constructor, and the spec dict the
C++ core builds it from (see docs/core_api.md). The weights live in the core model that owns the
layer once the model is built; ``layer.get_weights()`` and ``layer.weights`` read them from there.
"""

from __future__ import annotations

import typing as _typing

import numpy as np

from fastmlp import _checks, _naming, dtype_policies
from fastmlp._variable import Variable

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

    Shape = Tuple[Optional[int], ...]

__all__ = ["Layer", "Variable"]

class _WeightLists:
    """`trainable_weights` / `non_trainable_weights` of anything with a `weights` list (layers and
    models: in Keras a Model is a Layer)."""

    @property
    def trainable_weights(self) -> List[Variable]:
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> List[Variable]:
        return [v for v in self.weights if not v.trainable]


class Layer(_WeightLists):
    """Base of all layers: name, trainable flag, and the link to the model that holds weights."""

    _quantizable = False  # takes an int8 policy (Dense)

    def __init__(self, name: Optional[str] = None, dtype: Any = None, trainable: bool = True,
                 input_shape: Any = None, input_dim: Optional[int] = None,
                 batch_input_shape: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments: "
                            f"{sorted(kwargs)}")
        # None: the global policy at construction time, as in Keras.
        self._dtype_policy = dtype_policies.get(dtype)
        if self._dtype_policy.quantization_mode and not self._quantizable:
            raise ValueError(f"{type(self).__name__}: the dtype policy "
                             f"{self._dtype_policy.name!r} is for quantized Dense layers only. "
                             f"Received: dtype={dtype!r}")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise _checks.invalid("name", "a non-empty string without '/'", name)
        self.name = name or _naming.unique_name(_naming.to_snake_case(type(self).__name__))
        self._trainable = _checks.flag("trainable", trainable)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_dim is not None:
            input_shape = (_checks.integer("input_dim", input_dim, 1),)
        self._input_shape = None if input_shape is None else \
            _checks.sample_shape("input_shape", input_shape)
        self._owner = None   # the Sequential model once it is built
        self._weight_offset = 0
        self._spec: Optional[Dict[str, Any]] = None  # resolved (seeded) core spec, set at build

    @property
    def dtype_policy(self) -> dtype_policies.DTypePolicy:
        return self._dtype_policy

    @property
    def dtype(self) -> str:
        """The variables' dtype (Keras: `layer.dtype` is the policy's variable dtype)."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype_policy.variable_dtype

    @property
    def trainable(self) -> bool:
        """Whether the optimizer updates this layer's weights (settable; as in Keras, the model
        takes a change into account when it is next compiled)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = _checks.flag("trainable", value)

    # ---- what the model needs from a layer ----------------------------------------------------
    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def weight_names(self) -> List[Tuple[str, bool]]:
        """Names of this layer's tensors in the core's order, with their trainable flag."""
        return []

    def weight_shapes(self, input_shape: Shape) -> Optional[List[Tuple[int, ...]]]:
        """The shapes of ``weight_names()``'s tensors for inputs of ``input_shape`` (None when
        the layer does not say)."""
        return None if self.weight_names() else []

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
        return [core.get_tensor(self._weight_offset + i).astype(self._weight_dtype(i), copy=False)
                for i in range(len(self.weight_names()))]

    def _weight_dtype(self, index: int) -> str:
        """The dtype of tensor ``index`` as Keras stores it (the core holds float32)."""
        return "float32"

    def _weight_shape(self, index: int) -> Tuple[int, ...]:
        """The shape of this layer's tensor ``index`` (no copy of any value)."""
        return self._owner._core.tensor_shape(self._weight_offset + index)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets this layer's weights from arrays of the shapes ``get_weights()`` returns."""
        names = self.weight_names()
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet: build the model (give it an "
                             "input shape or call it on data) before setting weights.")
        from fastmlp.models._data import weight_list
        weights = weight_list(weights, f"`set_weights` of layer {self.name!r}")
        if len(weights) != len(names):
            raise ValueError(f"Layer {self.name!r} expects {len(names)} weight arrays, received "
                             f"{len(weights)}.")
        current = self._owner._core.get_weights()
        for i, w in enumerate(weights):
            current[self._weight_offset + i] = w
        self._owner._set_all_weights(current)

    @property
    def weights(self) -> List[Variable]:
        return [Variable(self, i, n, t and self._trainable)
                for i, (n, t) in enumerate(self.weight_names()) if self.built]

    def count_params(self) -> int:
        if not self.built:
            return 0
        return int(sum(int(np.prod(self._weight_shape(i), dtype=np.int64))
                       for i in range(len(self.weight_names()))))

    def get_config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": dtype_policies.serialize(self._dtype_policy)}
        if self._input_shape is not None:
            config["input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Layer":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"
