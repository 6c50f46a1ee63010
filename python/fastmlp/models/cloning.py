"""`clone_model`: a new model of the same architecture with fresh weights (Keras's
``keras.models.clone_model`` for Sequential models)."""

from __future__ import annotations

import typing as _typing

from fastmlp import layers as layers_module

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Optional

__all__ = ["clone_model"]


def _clone_layer(layer: Any) -> Any:
    return layer.__class__.from_config(layer.get_config())


def clone_model(model: Any, input_tensors: Any = None,
                clone_function: Optional[Callable[[Any], Any]] = None,
                call_function: Any = None, recursive: bool = False, **kwargs: Any) -> Any:
    """A new `Sequential` with the layers of ``model`` re-created from their configs: the
    weights are freshly initialized (not copied), and the clone is compiled as ``model`` is,
    with a new optimizer, as in Keras 3.

    Args:
        model: a `fastmlp.Sequential`.
        input_tensors: optional ``fastmlp.Input(...)`` (or a list of one) to build the clone
            on, in place of an input like the original's.
        clone_function: ``fn(layer) -> layer`` making each layer of the clone. Defaults to
            ``layer.__class__.from_config(layer.get_config())``.
        call_function: for functional models in Keras; not supported by Sequential (an error,
            as in Keras).
        recursive: accepted for Keras compatibility (a Sequential holds no nested models).

    Example:
        >>> fresh = fastmlp.models.clone_model(model)
        >>> fresh.set_weights(model.get_weights())   # to copy the weights as well
    """
    from fastmlp.models.sequential import Sequential
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs)}")
    if not isinstance(model, Sequential):
        raise ValueError(f"Expected `model` argument to be a `Sequential` model instance. "
                         f"Received: model={model!r}")
    if call_function is not None:
        raise ValueError("`call_function` argument is not supported with Sequential models. "
                         "In a Sequential model, layers aren't called at model-construction "
                         f"time (they're merely listed). Received: call_function="
                         f"{call_function!r}")
    clone_function = _clone_layer if clone_function is None else clone_function
    if not callable(clone_function):
        raise ValueError(f"Expected `clone_function` argument to be a callable. Received: "
                         f"clone_function={clone_function!r}")
    originals = model.layers
    new_layers = [clone_function(layer) for layer in originals]
    for old, new in zip(originals, new_layers):
        if any(new is layer for layer in originals):
            raise ValueError(f"clone_function returned layer {new.name!r} of the original "
                             "model; fastmlp layers cannot be shared between models (return a "
                             "new layer, e.g. layer.__class__.from_config(layer.get_config())).")
    first = _input_for(model, input_tensors)
    clone = Sequential(([first] if first is not None else []) + new_layers, name=model.name)
    if model.compiled:
        clone.compile_from_config(model.get_compile_config())
    return clone


def _input_for(model: Any, input_tensors: Any) -> Any:
    """The clone's InputLayer: from ``input_tensors``, else like the original's (None when the
    original has no input shape yet)."""
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("Argument `input_tensors` must contain a single tensor.")
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, layers_module.KerasTensor):
            raise ValueError(f"Argument `input_tensors` must be a KerasTensor (what "
                             f"fastmlp.Input(...) returns). Received invalid value: "
                             f"input_tensors={input_tensors!r}")
        return input_tensors
    original = model._input_layer
    if original is None and model._declared_sample_shape() is not None:
        return None  # the first layer's input_shape builds the clone
    shape = original.shape if original is not None else model._sample_shape
    if shape is None:
        return None  # not built yet: the clone is built on its first data too
    name = original.name if original is not None else None
    return layers_module.Input(shape=shape, name=name)
