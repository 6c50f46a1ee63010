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

import copy
import sys
import threading
import typing as _typing

import numpy as np

from fastmlp import _checks, _core, _naming, _random
from fastmlp import layers as layers_module
from fastmlp.layers.base import _WeightLists
from fastmlp.models import _quantize, _sizes, _state, _summary, _training

if _typing.TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

    from fastmlp.layers import InputLayer, Layer, Variable

__all__ = ["Sequential"]


class Sequential(_training.TrainingMixin, _state.StateMixin, _WeightLists):
    """A linear stack of layers (Keras's ``Sequential``).

    Args:
        layers: optional list of layers; the first may be ``Input(shape=...)`` or an
            `InputLayer`, or the first layer may carry ``input_shape=...``. Without an input
            shape the model is built on the first data it sees.
        trainable: False freezes the model (every layer in it; see `trainable`). Defaults to
            True.
        name: optional name. Defaults to "sequential", "sequential_1", ...
    """

    def __init__(self, layers: Optional[Sequence[Any]] = None, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        self._trainable = _checks.flag("trainable", trainable)
        if name is not None and (not isinstance(name, str) or not name):
            raise _checks.invalid("name", "a non-empty string", name)
        self.name = name or _naming.unique_name("sequential")
        self._layers: List[Layer] = []
        # name -> layer, so add() checks uniqueness in O(1): building n layers stays linear
        self._names: Dict[str, Layer] = {}
        self._input_layer: Optional[InputLayer] = None
        self._core_model: Any = None
        # True when layers were added or popped since the core was built: the core is rebuilt
        # on first use (see `_core`), so n calls to add() cost O(n), not n rebuilds.
        self._stale = False
        self._rebuild_lock = threading.RLock()
        self._core_slots: Dict[int, Tuple[int, int]] = {}  # id(layer) -> (weight offset, count)
        # (output shape, weight bytes so far) after each layer, for checking the next add
        self._trail: List[Tuple[Tuple[Optional[int], ...], int]] = []
        self._sample_shape: Optional[Tuple[int, ...]] = None
        self._shuffle_seed = 0
        self._epochs_seen = 0
        # dtype, per-sample shape and value range of the data fit saw (saved with the model)
        self._training_input: Optional[Dict[str, Any]] = None
        _training.TrainingMixin.__init__(self)
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    # ---- structure ----------------------------------------------------------------------------
    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Appends a layer (or sets the input with ``Input(...)`` / `InputLayer` first).

        A layer the model cannot take (wrong input shape, too wide) is refused here and the
        model is left as it was. On a built model the core is rebuilt, keeping the other
        layers' weights, when it is next used.
        """
        if isinstance(layer, layers_module.KerasTensor):
            layer = layer._input_layer
        if isinstance(layer, layers_module.InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An Input / InputLayer can only be the first layer of a "
                                 f"Sequential model. Received it after {len(self._layers)} "
                                 "layers.")
            self._input_layer = layer
            return
        if not isinstance(layer, layers_module.Layer):
            raise ValueError(f"Only instances of `fastmlp.layers.Layer` can be added to a "
                             f"Sequential model. Received: {layer!r} (of type {type(layer)})")
        if self._names.get(layer.name) is layer:
            raise ValueError(f"Layer {layer.name!r} is already in the model.")
        if layer.name in self._names:
            raise ValueError(f"All layers added to a Sequential model should have unique names. "
                             f"Name {layer.name!r} is already the name of a layer in this "
                             f"model. Update the `name` argument to pass a unique name.")
        if self.built:
            shape, total = self._trail[-1] if self._trail else (self.input_shape, 0)
            step = _sizes.size_step(layer, shape, total, _sizes.physical_memory())
            layer._build_spec()  # the spec's own checks, now
            self._trail.append(step)
            layer._owner, self._stale = self, True
        self._layers.append(layer)
        self._names[layer.name] = layer
        if rebuild and not self.built:
            try:
                self._maybe_build()
            except BaseException:  # a layer the model cannot take leaves the model as it was
                self._layers.pop()
                del self._names[layer.name]
                raise

    def pop(self, rebuild: bool = True) -> Layer:
        """Removes and returns the last layer; the other layers keep their weights."""
        if not self._layers:
            raise IndexError("There are no layers in the model.")
        layer = self._layers.pop()
        if self._names.get(layer.name) is layer:
            del self._names[layer.name]
        else:  # renamed since it was added
            self._names = {kept.name: kept for kept in self._layers}
        layer._owner = None
        self._core_slots.pop(id(layer), None)
        if self.built:
            self._trail.pop()
            self._stale = True
            if not self._layers:  # nothing left to build
                self._core_model, self._stale, self._core_compiled = None, False, False
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
        return self._core_model is not None

    @property
    def _core(self) -> Any:
        """The C++ model, rebuilt first if layers were added or popped since it was built."""
        if self._stale:
            with self._rebuild_lock:  # two threads' first predict after an add: one rebuild
                if self._stale:
                    self._rebuild_keeping_weights()
        return self._core_model

    @_core.setter
    def _core(self, core: Any) -> None:
        self._core_model, self._stale = core, False

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
            sample = _checks.sample_shape("input_shape", tuple(input_shape)[1:])
        self._build(sample)

    def _maybe_build(self) -> None:
        sample = self._declared_sample_shape()
        if sample is not None and self._layers:
            self._build(sample)

    def _build(self, sample_shape: Tuple[int, ...]) -> None:
        if not self._layers:
            raise ValueError("The Sequential model has no layers. Add layers before building.")
        _sizes.check_input_width(sample_shape)
        shape: Tuple[Optional[int], ...] = (None, *sample_shape)
        trail, total, memory = [], 0, _sizes.physical_memory()
        for layer in self._layers:  # also checks that each layer accepts its input's shape
            shape, total = _sizes.size_step(layer, shape, total, memory)
            trail.append((shape, total))
        specs = [spec for spec in (layer._build_spec() for layer in self._layers) if spec]
        if not specs:
            raise ValueError("The model needs at least one layer that computes something "
                             "(Dense, Activation, ...), not only Flatten.")
        if not self._shuffle_seed:
            self._shuffle_seed = _random.next_seed()
        self._core = _core.Model(int(np.prod(sample_shape)), specs)
        self._sample_shape, self._trail = tuple(sample_shape), trail
        self._input_dim = int(np.prod(sample_shape))
        offset, self._core_slots = 0, {}
        for layer in self._layers:
            count = len(layer.weight_names())
            layer._owner, layer._weight_offset = self, offset
            self._core_slots[id(layer)] = (offset, count)
            offset += count
        self._on_built()

    def _rebuild_keeping_weights(self) -> None:
        """Rebuilds a stale core; layers that were in the old one keep their weights."""
        old_core, old_slots = self._core_model, self._core_slots
        try:
            self._build(self._sample_shape)
        except BaseException:
            self._core_model, self._core_slots, self._stale = old_core, old_slots, True
            raise
        # One read of the old core and one write to the new: per-layer get/set would each copy
        # every weight, making a rebuild quadratic in the number of layers.
        old_weights, weights = old_core.get_weights(), self._core_model.get_weights()
        for layer in self._layers:
            if id(layer) in old_slots:
                start, count = old_slots[id(layer)]
                kept = old_weights[start:start + count]
                offset = layer._weight_offset
                if all(a.shape == b.shape for a, b in zip(kept, weights[offset:offset + count])):
                    weights[offset:offset + count] = kept
        self._core_model.set_weights(weights)

    def _rebuild_with(self, weights_of: Callable[[Any], List[np.ndarray]]) -> None:
        """Rebuilds the core from the layers' current specs; each layer's weights are
        ``weights_of(layer)`` (the old core stays if the new one cannot be built)."""
        old_core, old_slots = self._core_model, self._core_slots
        try:
            self._build(self._sample_shape)
            self._set_all_weights([w for layer in self._layers for w in weights_of(layer)])
        except BaseException:
            self._core_model, self._core_slots = old_core, old_slots
            raise

    def quantize(self, mode: Optional[str] = None, config: Any = None, filters: Any = None,
                 **kwargs: Any) -> None:
        """Quantizes the weights of the built model (Keras 3's ``Model.quantize``): each float32
        Dense layer (or those ``filters`` selects: a regex of layer names, a list of them or a
        callable) gets an int8 kernel with per-output-channel scales and the policy
        "int8_from_float32"; `predict` then runs on the int8 kernels. See models/_quantize.py.

        Args:
            mode: "int8" (Keras's other modes are refused).
        """
        _quantize.quantize_model(self, mode, config, filters, **kwargs)

    def _ensure_built(self, x: Any) -> None:
        if self._core is None:
            from fastmlp.models._data import infer_sample_shape
            self._build(self._declared_sample_shape() or infer_sample_shape(x))

    # ---- weights ------------------------------------------------------------------------------
    def _require_built(self, what: str) -> None:
        if self._core is None:
            raise _checks.not_built(what, self.name)

    def get_weights(self) -> List[np.ndarray]:
        """Copies of all weights in Keras order (per layer: kernel, bias, gamma, beta, ...)."""
        if self._core is None:
            return []
        return _quantize.to_keras_dtypes(self, self._core.get_weights())

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets all weights from arrays shaped like ``get_weights()``'s."""
        self._require_built("set_weights")
        self._set_all_weights(weights)

    def _set_all_weights(self, weights: List[Any]) -> None:
        from fastmlp.models._data import prepare_weights
        arrays = prepare_weights(weights, self._core.tensor_shapes(), self.name)
        _quantize.check_quantized_weights(self, arrays)
        self._core.set_weights(arrays)

    @property
    def weights(self) -> List[Variable]:
        return [v for layer in self._layers for v in layer.weights]

    @property
    def trainable(self) -> bool:
        """Settable: False freezes the model. As in Keras, setting it sets every layer's flag,
        and a model that is not trainable has no trainable weights whatever its layers say; the
        training loop takes a change into account at the next ``compile``."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = _checks.flag("trainable", value)
        for layer in self._layers:
            layer.trainable = self._trainable

    @property
    def trainable_weights(self) -> List[Variable]:
        return [v for v in self.weights if v.trainable] if self._trainable else []

    @property
    def non_trainable_weights(self) -> List[Variable]:
        weights = self.weights
        return [v for v in weights if not v.trainable] if self._trainable else weights

    def count_params(self) -> int:
        """Number of weights (trainable and not) of the built model."""
        self._require_built("count_params")
        return int(sum(int(np.prod(s, dtype=np.int64)) for s in self._core.tensor_shapes()))

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

    def export(self, filepath: str, format: str = "onnx", **kwargs: Any) -> None:
        """Writes the model for inference elsewhere (Keras 3's name; returns None, as Keras
        does); see `fastmlp.export.export_model`, which returns the ONNX model.
        ``format="onnx"`` needs the extra ``fastmlp[onnx]``."""
        from fastmlp.export import export_model
        export_model(self, filepath, format=format, **kwargs)

    # ---- config -------------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """The architecture as JSON-compatible data (``from_config`` rebuilds it)."""
        layer_configs = [layers_module.serialize(layer) for layer in self._layers]
        sample = self._sample_shape or self._declared_sample_shape()
        if sample is not None:
            input_layer = self._input_layer or layers_module.InputLayer(shape=sample,
                                                                        name="input_layer")
            layer_configs.insert(0, layers_module.serialize(input_layer))
        return {"name": self.name, "trainable": self.trainable, "dtype": "float32",
                "layers": layer_configs,
                "build_input_shape": None if sample is None else [None, *sample]}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Sequential":
        """A new, freshly initialized model from ``get_config()``'s output."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"Invalid Sequential config: {config!r:.200}")
        model = cls._from_layers(config.get("name"),
                                 [layers_module.deserialize(c) for c in config["layers"]],
                                 config.get("build_input_shape"))
        # The model's own flag (the layers carry theirs); Keras's from_config drops it.
        model._trainable = _checks.flag("trainable", config.get("trainable", True))
        return model

    @classmethod
    def _from_layers(cls, name: Optional[str], layers: List[Any],
                     build_input_shape: Optional[Sequence[Any]]) -> "Sequential":
        model = cls(name=name)
        for layer in layers:
            model.add(layer, rebuild=False)
        if build_input_shape is not None and model._declared_sample_shape() is None:
            model._build(_checks.sample_shape("build_input_shape", tuple(build_input_shape)[1:]))
        else:
            model._maybe_build()
        return model

    # ---- pickle and copy: through the .fastmlp format, in memory ------------------------------
    def __reduce__(self) -> Tuple[Any, ...]:
        from fastmlp import saving
        return saving.model_from_bytes, self._to_bytes()

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Sequential":
        from fastmlp import saving
        data, metrics = self._to_bytes()
        return saving.model_from_bytes(data, copy.deepcopy(metrics, memo))

    def _to_bytes(self) -> Tuple[bytes, Optional[Dict[str, List[Any]]]]:
        """The .fastmlp bytes, and the metric lists as given to compile when the file cannot
        hold them all (a user function), so that a copy keeps them."""
        from fastmlp import saving
        data, left_out = saving.model_to_bytes(self)
        if left_out is None:
            return data, None
        return data, {"metrics": list(self._metric_ids),
                      "weighted_metrics": list(self._weighted_metric_ids)}

    def _note_training_input(self, dtype: str, data: Any) -> None:
        """Records the dtype of ``x``, the model's input shape and the value range of ``data``
        (the `_core.Dataset` fit trains on, which found it while checking x), widened over later
        fits with the same dtype. `fastmlp predict` warns when its input is far from that range."""
        lo, hi = float(data.x_min), float(data.x_max)
        old = self._training_input
        if old is not None and old["dtype"] == dtype:
            lo, hi = min(lo, old["min"]), max(hi, old["max"])
        self._training_input = {"dtype": dtype, "shape": list(self._sample_shape),
                                "min": lo, "max": hi}

    # ---- display ------------------------------------------------------------------------------
    def summary(self, line_length: Optional[int] = None, positions: Any = None,
                print_fn: Optional[Callable[[str], Any]] = None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range: Any = None) -> None:
        """Prints a Keras-style table: layer (type), output shape, parameter count (and with
        ``show_trainable=True`` whether each layer is trainable: Y, N, or - without weights),
        totals; an unbuilt model's layers show "?" and "0 (unbuilt)", as in Keras 3."""
        stream = sys.stdout
        lines = _summary.summary_lines(self, getattr(stream, "encoding", None) if print_fn is None
                                       else "utf-8", _checks.flag("show_trainable",
                                                                  show_trainable))
        for line in lines:
            if print_fn is not None:
                print_fn(line)
            else:
                stream.write(line + "\n")

    def __repr__(self) -> str:
        return f"<Sequential name={self.name}, built={self.built}>"
