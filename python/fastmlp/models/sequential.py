"""`Sequential`: a stack of layers, built into one C++ core model.

Example:
    >>> model = fastmlp.Sequential([layers.Input(shape=(784,)),
    ...                             layers.Dense(128, activation="relu"), layers.Dense(10)])
    >>> model.compile(optimizer="adam",
    ...               loss=losses.SparseCategoricalCrossentropy(from_logits=True),
    ...               metrics=["accuracy"])
    >>> history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)
    >>> model.evaluate(x_test, y_test)      # [loss, accuracy]
    >>> model.save("mnist.fastmlp")
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from fastmlp import _core, _naming, _random
from fastmlp import layers as layers_module
from fastmlp.layers import InputLayer, KerasTensor, Layer, Variable
from fastmlp.models._summary import summary_lines
from fastmlp.models._training import TrainingMixin


# Widths the core indexes with 32-bit GEMM block arithmetic stay below this.
_MAX_WIDTH = 2**31 - 1


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return 2**62


def _check_sizes(sample_shape: Tuple[int, ...], layers: List[Layer],
                 shapes: List[Tuple[Optional[int], ...]]) -> None:
    """Refuses, before anything is allocated, widths and weight sizes no machine can hold (so a
    typo such as ``Dense(2**40)`` is a ValueError naming the layer, not a failed allocation)."""
    width = int(np.prod(sample_shape, dtype=object))
    if width > _MAX_WIDTH:
        raise ValueError(f"The input shape {sample_shape} has {width} features per sample, more "
                         f"than the supported maximum of {_MAX_WIDTH}.")
    total, memory = 0, _physical_memory()
    for layer, shape in zip(layers, shapes):
        out = int(np.prod([d for d in shape[1:]], dtype=object))
        if out > _MAX_WIDTH:
            raise ValueError(f"Layer {layer.name!r} outputs {out} features per sample, more than "
                             f"the supported maximum of {_MAX_WIDTH}.")
        if isinstance(layer, layers_module.Dense):
            total += (width + 1) * out * 4
            if total > memory:
                raise ValueError(f"Layer {layer.name!r} ({width} -> {out} units) brings the "
                                 f"weights to {total} bytes, more than this machine's memory "
                                 f"({memory} bytes).")
        width = out


class Sequential(TrainingMixin):
    """A linear stack of layers (Keras's ``Sequential``).

    Args:
        layers: optional list of layers; the first may be ``Input(shape=...)`` or an
            `InputLayer`, or the first layer may carry ``input_shape=...``. Without an input
            shape the model is built on the first data it sees.
        trainable: must be True (freezing is not supported).
        name: optional name. Defaults to "sequential", "sequential_1", ...
    """

    def __init__(self, layers: Optional[Sequence[Any]] = None, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        if not trainable:
            raise ValueError("Freezing a model (trainable=False) is not supported.")
        self.name = name or _naming.unique_name("sequential")
        self._layers: List[Layer] = []
        self._input_layer: Optional[InputLayer] = None
        self._core: Any = None
        self._sample_shape: Optional[Tuple[int, ...]] = None
        self._shuffle_seed = 0
        self._epochs_seen = 0
        TrainingMixin.__init__(self)
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    # ---- structure ----------------------------------------------------------------------------
    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Appends a layer (or sets the input with ``Input(...)`` / `InputLayer` first)."""
        if isinstance(layer, KerasTensor):
            layer = layer._input_layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An Input / InputLayer can only be the first layer of a "
                                 f"Sequential model. Received it after {len(self._layers)} "
                                 "layers.")
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise ValueError(f"Only instances of `fastmlp.layers.Layer` can be added to a "
                             f"Sequential model. Received: {layer!r} (of type {type(layer)})")
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"Layer {layer.name!r} is already in the model.")
        if layer.name in {existing.name for existing in self._layers}:
            raise ValueError(f"All layers added to a Sequential model should have unique names. "
                             f"Name {layer.name!r} is already the name of a layer in this "
                             f"model. Update the `name` argument to pass a unique name.")
        self._layers.append(layer)
        if rebuild:
            self._rebuild_keeping_weights()

    def pop(self, rebuild: bool = True) -> Layer:
        """Removes and returns the last layer; the other layers keep their weights."""
        if not self._layers:
            raise IndexError("There are no layers in the model.")
        layer = self._layers.pop()
        layer._owner = None
        if rebuild:
            self._rebuild_keeping_weights()
        return layer

    @property
    def layers(self) -> List[Layer]:
        """The layers (without the input layer), as in Keras."""
        return list(self._layers)

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self._layers]}.")

    @property
    def built(self) -> bool:
        return self._core is not None

    @property
    def input_shape(self) -> Tuple[Optional[int], ...]:
        if self._sample_shape is None:
            raise AttributeError("The model has no input shape yet (it is not built).")
        return (None, *self._sample_shape)

    @property
    def output_shape(self) -> Tuple[Optional[int], ...]:
        return self._output_shapes()[-1]

    def _declared_sample_shape(self) -> Optional[Tuple[int, ...]]:
        if self._input_layer is not None:
            return self._input_layer.shape
        if self._layers and self._layers[0]._input_shape is not None:
            return self._layers[0]._input_shape
        return None

    def _output_shapes(self) -> List[Tuple[Optional[int], ...]]:
        shape: Tuple[Optional[int], ...] = self.input_shape
        shapes = []
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
            shapes.append(shape)
        return shapes or [shape]

    def build(self, input_shape: Optional[Sequence[Optional[int]]] = None) -> None:
        """Builds the core model for inputs of ``input_shape`` (with the batch axis first)."""
        if input_shape is None:
            sample = self._declared_sample_shape()
            if sample is None:
                raise ValueError("You must provide an `input_shape` argument to build().")
        else:
            sample = layers_module._check_shape("input_shape", tuple(input_shape)[1:])
        self._build(sample)

    def _maybe_build(self) -> None:
        sample = self._declared_sample_shape()
        if sample is not None and self._layers:
            self._build(sample)

    def _build(self, sample_shape: Tuple[int, ...]) -> None:
        if not self._layers:
            raise ValueError("The Sequential model has no layers. Add layers before building.")
        self._sample_shape = tuple(sample_shape)
        _check_sizes(sample_shape, self._layers, self._output_shapes())  # also checks shapes
        specs = [spec for spec in (layer._build_spec() for layer in self._layers) if spec]
        if not specs:
            raise ValueError("The model needs at least one layer that computes something "
                             "(Dense, Activation, ...), not only Flatten.")
        if not self._shuffle_seed:
            self._shuffle_seed = _random.next_seed()
        self._core = _core.Model(int(np.prod(sample_shape)), specs)
        self._input_dim = int(np.prod(sample_shape))
        offset = 0
        for layer in self._layers:
            layer._owner, layer._weight_offset = self, offset
            offset += len(layer.weight_names())
        self._on_built()

    def _rebuild_keeping_weights(self) -> None:
        if not self.built:
            self._maybe_build()
            return
        kept = {id(layer): layer.get_weights() for layer in self._layers if layer.built}
        self._core = None
        self._build(self._sample_shape)
        for layer in self._layers:
            if kept.get(id(layer)):
                layer.set_weights(kept[id(layer)])

    def _ensure_built(self, x: Any) -> None:
        if self._core is None:
            from fastmlp.models._data import infer_sample_shape
            self._build(self._declared_sample_shape() or infer_sample_shape(x))

    # ---- weights ------------------------------------------------------------------------------
    def _require_built(self, what: str) -> None:
        if self._core is None:
            raise ValueError(f"You tried to call `{what}` on model {self.name!r}, but it isn't "
                             f"built. Give it an input shape (layers.Input(shape=...)), call "
                             f"`build(input_shape)`, or call it on data first.")

    def get_weights(self) -> List[np.ndarray]:
        """Copies of all weights in Keras order (per layer: kernel, bias, gamma, beta, ...)."""
        return self._core.get_weights() if self._core is not None else []

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets all weights from arrays shaped like ``get_weights()``'s."""
        self._require_built("set_weights")
        self._set_all_weights(weights)

    def _set_all_weights(self, weights: List[Any]) -> None:
        from fastmlp.models._data import prepare_weights
        arrays = prepare_weights(weights, self._core.get_weights(), self.name)
        self._core.set_weights(arrays)

    @property
    def weights(self) -> List[Variable]:
        return [v for layer in self._layers for v in layer.weights]

    @property
    def trainable_weights(self) -> List[Variable]:
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> List[Variable]:
        return [v for v in self.weights if not v.trainable]

    @property
    def trainable(self) -> bool:
        return True

    def count_params(self) -> int:
        """Number of weights (trainable and not) of the built model."""
        self._require_built("count_params")
        return int(sum(w.size for w in self._core.get_weights()))

    # ---- inference entry points shared with Keras --------------------------------------------
    def __call__(self, x: Any, training: bool = False) -> np.ndarray:
        """Runs the model on ``x``: inference by default, ``training=True`` uses dropout/batch
        statistics (without updating weights or moving averages' gradients)."""
        if not training:
            core = self._core
            out = core._predict_small(x) if core is not None else None
            return out if out is not None else self.predict(x, verbose=0)
        self._ensure_built(x)
        from fastmlp.models._data import prepare_x
        arr = prepare_x(x, self._sample_shape)
        return self._core.forward(arr, True)

    def export(self, filepath: str, format: str = "onnx", **kwargs: Any) -> Any:
        """Writes the model for inference elsewhere (Keras 3's name); see
        `fastmlp.export.export_model`. ``format="onnx"`` needs the extra ``fastmlp[onnx]``."""
        from fastmlp.export import export_model
        return export_model(self, filepath, format=format, **kwargs)

    # ---- config -------------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """The architecture as JSON-compatible data (``from_config`` rebuilds it)."""
        layer_configs = [layers_module.serialize(layer) for layer in self._layers]
        sample = self._sample_shape or self._declared_sample_shape()
        if sample is not None:
            input_layer = self._input_layer or InputLayer(shape=sample, name="input_layer")
            layer_configs.insert(0, layers_module.serialize(input_layer))
        return {"name": self.name, "trainable": True, "dtype": "float32",
                "layers": layer_configs,
                "build_input_shape": None if sample is None else [None, *sample]}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Sequential":
        """A new, freshly initialized model from ``get_config()``'s output."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"Invalid Sequential config: {config!r:.200}")
        built = [layers_module.deserialize(c) for c in config["layers"]]
        model = cls(name=config.get("name"))
        for layer in built:
            model.add(layer, rebuild=False)
        shape = config.get("build_input_shape")
        if shape is not None and model._declared_sample_shape() is None:
            model._build(layers_module._check_shape("build_input_shape", tuple(shape)[1:]))
        else:
            model._maybe_build()
        return model

    # ---- display ------------------------------------------------------------------------------
    def summary(self, line_length: Optional[int] = None, positions: Any = None,
                print_fn: Optional[Callable[[str], Any]] = None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range: Any = None) -> None:
        """Prints a Keras-style table: layer (type), output shape, parameter count, totals."""
        self._require_built("summary")
        stream = sys.stdout
        lines = summary_lines(self, getattr(stream, "encoding", None) if print_fn is None
                              else "utf-8")
        for line in lines:
            if print_fn is not None:
                print_fn(line)
            else:
                stream.write(line + "\n")

    def __repr__(self) -> str:
        return f"<Sequential name={self.name}, built={self.built}>"
