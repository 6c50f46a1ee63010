"""Layers of a dense `Sequential` model, with Keras names, arguments and validation.

Grouped as Keras groups them: `base` (the `Layer` base), `core` (`Input`, `InputLayer`, `Dense`,
`Activation`, `Identity`), `activations` (`ReLU`, `LeakyReLU`, `PReLU`, `ELU`, `Softmax`),
`regularization` (`Dropout`, `GaussianNoise`, `GaussianDropout`, `AlphaDropout`),
`normalization` (`BatchNormalization`, `LayerNormalization`), `preprocessing` (`Rescaling`,
`Normalization`) and `reshaping` (`Flatten`, `Reshape`); all of them are importable from here.

Example:
    >>> model = fastmlp.Sequential([
    ...     layers.Input(shape=(28, 28)), layers.Rescaling(1 / 255), layers.Flatten(),
    ...     layers.Dense(128, activation="relu"), layers.Dropout(0.2), layers.Dense(10)])
"""

from __future__ import annotations

import typing as _typing

from fastmlp import _serialization, initializers, regularizers
from fastmlp.layers.activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from fastmlp.layers.base import Layer, Variable
from fastmlp.layers.core import Activation, Dense, Identity, Input, InputLayer, KerasTensor
from fastmlp.layers.normalization import BatchNormalization, LayerNormalization
from fastmlp.layers.preprocessing import Normalization, Rescaling
from fastmlp.layers.regularization import AlphaDropout, Dropout, GaussianDropout, GaussianNoise
from fastmlp.layers.reshaping import Flatten, Reshape

if _typing.TYPE_CHECKING:
    from typing import Any, Dict

__all__ = [
    "ELU", "Activation", "AlphaDropout", "BatchNormalization", "Dense", "Dropout", "Flatten",
    "GaussianDropout", "GaussianNoise", "Identity", "Input", "InputLayer", "KerasTensor", "Layer",
    "LayerNormalization", "LeakyReLU", "Normalization", "PReLU", "ReLU", "Rescaling", "Reshape",
    "Softmax", "Variable", "deserialize", "serialize",
]

# The classes a config may name (the saved format stores these class names).
_CLASSES = {c.__name__: c for c in (
    InputLayer, Dense, Activation, Dropout, BatchNormalization, Rescaling, Flatten, Identity,
    ReLU, LeakyReLU, PReLU, ELU, Softmax, LayerNormalization, Normalization, GaussianNoise,
    GaussianDropout, AlphaDropout, Reshape)}


def serialize(layer: Layer) -> Dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a layer."""
    return _serialization.serialize_object(layer)


def deserialize(config: Dict[str, Any]) -> Layer:
    """The layer for a serialized config (only fastmlp's own layer classes; never code)."""
    cls = _serialization.lookup_class(config, _CLASSES, "layer")
    cfg = _serialization.object_config(config, "layer")
    for key in ("kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer",
                "moving_mean_initializer", "moving_variance_initializer", "alpha_initializer"):
        if isinstance(cfg.get(key), dict):
            cfg[key] = initializers.deserialize(cfg[key])
    for key in ("kernel_regularizer", "bias_regularizer"):
        if isinstance(cfg.get(key), dict):
            cfg[key] = regularizers.deserialize(cfg[key])
    return cls.from_config(cfg)
