"""Checks of a model file's JSON fields against each other and against the arrays it holds, run
before anything is built: a file that declares a model its arrays cannot fill (``Dense(10**8)``
in a 5 KB file) is refused without allocating that model, and a wrong-typed field is a
ValueError naming the file and the field, never an AttributeError or a later failure in fit.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

# A file may declare at most this many layers (the input layer included). Far more than any
# dense network needs; it bounds the time a hostile file can spend in building (~20 us a layer).
MAX_LAYERS = 10_000
_INT64 = 2**63
# The dtypes `fit` reads (see models/_data.py); anything else in a record is not ours.
_INPUT_DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64",
                 "int64", "float16", "float32", "float64")


def fail(path: str, why: str) -> ValueError:
    return ValueError(f"Cannot load {path!r}: {why}")


def _is_int(value: Any, low: int = 0, high: int = _INT64) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < high


def _is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def _shape_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_int(d, 1, 2**40) for d in value)


# ---- model_config -------------------------------------------------------------------------------
def model_layers(config: Any, path: str) -> Tuple[Any, List[Any], Optional[List[Any]]]:
    """(name, layer objects, build_input_shape) of a model_config; layers deserialized (their
    constructors check their arguments) but nothing built."""
    from fastmlp import layers as layers_module
    if not isinstance(config, dict):
        raise fail(path, f"model_config must be a JSON object, not {type(config).__name__}")
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise fail(path, "model_config has no 'layers' list")
    if len(entries) > MAX_LAYERS:
        raise fail(path, f"model_config declares {len(entries)} layers, more than the limit of "
                         f"{MAX_LAYERS}")
    if not isinstance(config.get("trainable", True), bool):
        raise fail(path, f"model_config.trainable must be true or false, not "
                         f"{config['trainable']!r:.60}")
    shape = config.get("build_input_shape")
    if shape is not None and not (isinstance(shape, list) and len(shape) >= 2
                                  and shape[0] is None and _shape_list(shape[1:])):
        raise fail(path, f"model_config has an invalid build_input_shape {shape!r:.100}")
    built = []
    for i, entry in enumerate(entries):
        try:
            built.append(layers_module.deserialize(entry))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise fail(path, f"layer {i} of model_config: {e}") from None
    return config.get("name"), built, shape


def sample_shape(built: Sequence[Any], build_input_shape: Optional[List[Any]]
                 ) -> Optional[Tuple[int, ...]]:
    """The per-sample input shape the model will be built with, or None (not built)."""
    from fastmlp.layers import InputLayer
    if built and isinstance(built[0], InputLayer):
        return built[0].shape
    layers = [layer for layer in built if not isinstance(layer, InputLayer)]
    declared = layers[0].get_config().get("input_shape") if layers else None
    if declared is not None:
        return tuple(declared)
    return None if build_input_shape is None else tuple(build_input_shape[1:])


def weight_shapes(built: Sequence[Any], sample: Tuple[int, ...]
                  ) -> Optional[List[Tuple[str, Tuple[int, ...]]]]:
    """(name, shape) of each weight the model will have, in get_weights() order, computed from
    the layers' arguments alone; None when a layer's weights are not known here."""
    from fastmlp.layers import BatchNormalization, Dense, InputLayer
    shape: Tuple[Any, ...] = (None, *sample)
    out: List[Tuple[str, Tuple[int, ...]]] = []
    for layer in built:
        if isinstance(layer, InputLayer):
            continue
        in_shape, shape = shape, layer.compute_output_shape(shape)  # ValueError if refused
        names = [name for name, _ in layer.weight_names()]
        if isinstance(layer, Dense):
            # kernel, then bias and (int8 layers) kernel_scale, one value per unit
            shapes = [(int(in_shape[1]), layer.units)] + [(layer.units,)] * (len(names) - 1)
        elif isinstance(layer, BatchNormalization):
            shapes = [(int(in_shape[-1]),)] * len(names)
        else:
            shapes = layer.weight_shapes(in_shape)
            if shapes is None:
                return None
        out += [(f"{layer.name}/{name}", s) for name, s in zip(names, shapes)]
    return out


def check_weights_match(built: Sequence[Any], sample: Optional[Tuple[int, ...]],
                        stored: List[np.ndarray], path: str) -> None:
    """Refuses a model_config whose weights differ from the stored arrays (before building)."""
    if sample is None:
        if stored:
            raise fail(path, f"the file holds {len(stored)} weight arrays for a model_config "
                             "without an input shape (an unbuilt model has no weights)")
        return
    try:
        declared = weight_shapes(built, sample)
    except ValueError as e:
        raise fail(path, f"model_config: {e}") from None
    if declared is None:
        return
    if len(declared) != len(stored):
        raise fail(path, f"model_config declares {len(declared)} weight arrays, the file holds "
                         f"{len(stored)}")
    for i, ((name, shape), array) in enumerate(zip(declared, stored)):
        if tuple(shape) != array.shape:
            raise fail(path, f"model_config declares weight {i} ({name}) of shape "
                             f"{tuple(shape)}, the file holds shape {array.shape}")


# ---- training_state, compile_config, training_input --------------------------------------------
def training_state(state: Any, path: str) -> Dict[str, int]:
    """The checked training_state; missing keys (older files) keep the fresh model's values."""
    if state is None:
        return {}
    if not isinstance(state, dict):
        raise fail(path, f"training_state must be a JSON object, not {type(state).__name__}")
    out = {}
    for key in ("shuffle_seed", "epochs_seen", "training_step"):
        if key in state:
            if not _is_int(state[key]):
                raise fail(path, f"training_state.{key} must be an integer in [0, 2**63), not "
                                 f"{state[key]!r:.60}")
            out[key] = state[key]
    return out


def compile_config(config: Any, path: str) -> Optional[Dict[str, Any]]:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise fail(path, f"compile_config must be a JSON object, not {type(config).__name__}")
    if not isinstance(config.get("optimizer"), dict):
        raise fail(path, "compile_config.optimizer must be a JSON object")
    if config.get("loss") is not None and not isinstance(config["loss"], dict):
        raise fail(path, f"compile_config.loss must be a JSON object or null, not "
                         f"{config['loss']!r:.60}")
    for key in ("metrics", "weighted_metrics"):
        metrics = config.get(key)
        if metrics is not None and not (isinstance(metrics, list) and
                                        all(isinstance(m, (str, dict)) for m in metrics)):
            raise fail(path, f"compile_config.{key} must be a list of names and metric objects, "
                             f"not {metrics!r:.60}")
    return config


def optimizer_state(arrays: Dict[str, np.ndarray], slots: List[np.ndarray], path: str
                    ) -> Optional[int]:
    """The stored step count (None when the file has no optimizer state)."""
    if "optimizer/iterations" not in arrays:
        if slots:
            raise fail(path, f"the file holds {len(slots)} optimizer slots but no "
                             "optimizer/iterations")
        return None
    it = arrays["optimizer/iterations"]
    if it.shape != () or it.dtype.kind != "i" or int(it) < 0:
        raise fail(path, f"optimizer/iterations must be a non-negative int64 scalar, not "
                         f"{it.dtype} of shape {it.shape}")
    return int(it)


def check_slots(model: Any, slots: List[np.ndarray], path: str) -> None:
    """Refuses optimizer slots that do not fit the compiled model's trainable weights (the core
    would only notice at the next optimizer step, inside fit)."""
    from fastmlp import _core
    if not slots:
        return
    sizes = [int(np.prod(v.shape, dtype=np.int64)) for v in model.trainable_weights]
    probe = _core.Optimizer(model.optimizer.to_spec())  # how many slots per parameter
    probe.step([np.zeros(1, np.float32)], [np.zeros(1, np.float32)])
    per = len(probe.get_state()[1])
    if len(slots) != per * len(sizes):
        raise fail(path, f"the file holds {len(slots)} optimizer slots; {model.optimizer.name} "
                         f"keeps {per} per trainable weight, {per * len(sizes)} for this model")
    for i, slot in enumerate(slots):
        if slot.dtype != np.float32 or slot.size != sizes[i // per]:
            raise fail(path, f"optimizer slot {i} has {slot.size} values ({slot.dtype}); its "
                             f"weight has {sizes[i // per]}")


def training_input(record: Any, sample: Optional[Tuple[int, ...]], path: str
                   ) -> Optional[Dict[str, Any]]:
    """The checked record of the data fit saw (dtype, per-sample shape, value range)."""
    if record is None:
        return None
    ok = isinstance(record, dict) and record.get("dtype") in _INPUT_DTYPES and \
        _shape_list(record.get("shape")) and _is_finite(record.get("min")) and \
        _is_finite(record.get("max")) and record["min"] <= record["max"]
    if not ok:
        raise fail(path, f"invalid training_input {record!r:.200} (expected dtype, shape and a "
                         "finite min <= max)")
    if sample is not None and int(np.prod(record["shape"], dtype=object)) != \
            int(np.prod(sample, dtype=object)):
        raise fail(path, f"training_input shape {record['shape']} does not fit the model's "
                         f"input shape {list(sample)}")
    return {"dtype": record["dtype"], "shape": list(record["shape"]),
            "min": float(record["min"]), "max": float(record["max"])}
