"""Layers of a dense `Sequential` model, with Keras names, arguments and validation.

Grouped as Keras groups them: `base` (the `Layer` base), `core` (`Input`, `InputLayer`, `Dense`,
`Activation`), `regularization` (`Dropout`), `normalization` (`BatchNormalization`),
`preprocessing` (`Rescaling`) and `reshaping` (`Flatten`); all of them are importable from here.

Example:
    >>> model = fastmlp.Sequential([
    ...     layers.Input(shape=(28, 28)), layers.Rescaling(1 / 255), layers.Flatten(),
    ...     layers.Dense(128, activation="relu"), layers.Dropout(0.2), layers.Dense(10)])
"""

from __future__ import annotations

import typing as _typing

from fastmlp import _serialization, initializers, regularizers
from fastmlp.layers.base import Layer, Variable
from fastmlp.layers.core import Activation, Dense, Input, InputLayer, KerasTensor
from fastmlp.layers.normalization import BatchNormalization
from fastmlp.layers.preprocessing import Rescaling
from fastmlp.layers.regularization import Dropout
from fastmlp.layers.reshaping import Flatten

if _typing.TYPE_CHECKING:
    from typing import Any, Dict

__all__ = [
    "Activation", "BatchNormalization", "Dense", "Dropout", "Flatten", "Input", "InputLayer",
    "KerasTensor", "Layer", "Rescaling", "Variable", "deserialize", "serialize",
]

# The classes a config may name (the saved format stores these class names).
_CLASSES = {c.__name__: c for c in (InputLayer, Dense, Activation, Dropout, BatchNormalization,
                                     Rescaling, Flatten)}


def serialize(layer: Layer) -> Dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a layer."""
    return _serialization.serialize_object(layer)


def deserialize(config: Dict[str, Any]) -> Layer:
    """The layer for a serialized config (only fastmlp's own layer classes; never code)."""
    cls = _serialization.lookup_class(config, _CLASSES, "layer")
    cfg = _serialization.object_config(config, "layer")
    for key in ("kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer",
                "moving_mean_initializer", "moving_variance_initializer"):
        if isinstance(cfg.get(key), dict):
            cfg[key] = initializers.deserialize(cfg[key])
    for key in ("kernel_regularizer", "bias_regularizer"):
        if isinstance(cfg.get(key), dict):
            cfg[key] = regularizers.deserialize(cfg[key])
    return cls.from_config(cfg)
