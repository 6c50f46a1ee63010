"""`Variable`: Keras's view of one weight tensor of a built model."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np


class Variable:
    """A view of one weight tensor of a built model (Keras's ``Variable`` surface).

    ``numpy()`` returns a copy; ``assign(value)`` writes into the model.
    """

    def __init__(self, layer: Any, index: int, name: str, trainable: bool) -> None:
        self._layer, self._index = layer, index
        self.name, self.trainable = name, trainable

    @property
    def path(self) -> str:
        return f"{self._layer.name}/{self.name}"

    def numpy(self) -> np.ndarray:
        return self._layer.get_weights()[self._index]

    @property
    def shape(self) -> Tuple[int, ...]:
        if not self._layer.built:  # detached (its layer was popped): fails as numpy() does
            return self.numpy().shape
        return self._layer._weight_shape(self._index)

    @property
    def dtype(self) -> str:
        return self._layer._weight_dtype(self._index)

    def assign(self, value) -> None:
        values = self._layer.get_weights()
        values[self._index] = value  # checked (real numbers, shape) with the others
        self._layer.set_weights(values)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"
