"""Keras 3's file formats: the ``.keras`` archive (``metadata.json``, ``config.json``,
``model.weights.h5``, as keras/src/saving/saving_lib.py writes them) and the ``.weights.h5``
weights file; ``to_json`` / ``model_from_json`` (Keras's JSON, config.json's content).

A fastmlp model saved here loads in Keras 3 (``keras.models.load_model``) with the same
predictions, compile settings and optimizer state, and a Keras 3 file of a Sequential model
made of layers fastmlp has loads here. fastmlp's resume state (training step, shuffle seed,
epochs seen, the record of the data ``fit`` saw), which Keras has no place for, goes in
metadata.json under ``"fastmlp"``; Keras ignores it.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile
import typing as _typing

from fastmlp import _atomic, _file_checks
from fastmlp.saving import _common, _keras_config, _keras_h5
from fastmlp.saving._common import fail

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

# The Keras release whose file layout this writer follows (and whose loader the tests run).
KERAS_VERSION = "3.15.1"
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
_STATE_KEYS = ("shuffle_seed", "epochs_seen", "training_step")


# ---- writing ---------------------------------------------------------------------------------
def keras_object(model: Any, warn: bool = True) -> Dict[str, Any]:
    """What Keras's ``serialize_keras_object(model)`` gives (config.json, ``to_json``)."""
    compile_config, _ = _common.storable_compile_config(model, warn=warn)
    return _keras_config.model_out(model.get_config(), compile_config)


def _metadata(model: Any) -> Dict[str, Any]:
    from fastmlp import __version__
    state = model.get_training_state(include_optimizer=False)
    seeds = {layer.name: layer.seed for layer in model.layers
             if _keras_config.keras_seed(getattr(layer, "seed", None)) != getattr(layer, "seed",
                                                                                 None)}
    return {"keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "fastmlp": {"version": __version__,
                        "training_state": {k: int(state[k]) for k in _STATE_KEYS},
                        "training_input": state["training_input"], "layer_seeds": seeds}}


def _entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_common.ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _write(path: str, overwrite: bool, write: Any) -> None:
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False.")
    _atomic.write_atomically(path, write)


def save_model(model: Any, path: str, overwrite: bool) -> None:
    h5py = _common.import_h5py("Saving a Keras 3 `.keras` file")
    _common.require_built(model, "save")
    config = json.dumps(keras_object(model)).encode()  # refuses what Keras cannot represent
    weights = _keras_h5.weights_bytes(model, h5py)
    metadata = json.dumps(_metadata(model)).encode()

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, data in ((_METADATA, metadata), (_CONFIG, config), (_WEIGHTS, weights)):
                _entry(zf, name, data)
    _write(path, overwrite, write)


def save_weights(model: Any, path: str, overwrite: bool) -> None:
    h5py = _common.import_h5py("Saving a Keras 3 `.weights.h5` file")
    _common.require_built(model, "save_weights")
    data = _keras_h5.weights_bytes(model, h5py)
    _write(path, overwrite, lambda f: f.write(data))


def to_json(model: Any, **kwargs: Any) -> str:
    return json.dumps(keras_object(model, warn=False), **kwargs)


# ---- reading ---------------------------------------------------------------------------------
def is_keras_archive(infos: Dict[str, zipfile.ZipInfo]) -> bool:
    """Keras's members and not fastmlp's (whose reader then names what does not belong)."""
    return "fastmlp.json" not in infos and any(n in infos for n in (_CONFIG, _METADATA,
                                                                     _WEIGHTS))


def _members(zf: zipfile.ZipFile, infos: Dict[str, zipfile.ZipInfo], path: str
             ) -> Tuple[Dict[str, Any], Dict[str, Any], bytes]:
    for name in infos:
        if name not in (_CONFIG, _METADATA, _WEIGHTS):
            what = "weights in .npz form" if name.endswith(".npz") else \
                "assets" if name.startswith("assets") else "a member fastmlp does not know"
            raise fail(path, f"unexpected archive member {name!r} ({what}; fastmlp reads "
                             f"Keras archives of {_METADATA}, {_CONFIG} and {_WEIGHTS})")
    for required in (_CONFIG, _WEIGHTS):
        if required not in infos:
            raise fail(path, f"missing {required!r} (not a Keras 3 model file)")
    config = _common.parse_json(_common.read_member(zf, infos[_CONFIG], _common.MAX_JSON_BYTES,
                                                    path), _CONFIG, path)
    metadata = {} if _METADATA not in infos else _common.parse_json(
        _common.read_member(zf, infos[_METADATA], _common.MAX_JSON_BYTES, path), _METADATA,
        path)
    weights = _common.read_member(zf, infos[_WEIGHTS], _common.MAX_TOTAL_ARRAY_BYTES +
                                  _common.MAX_JSON_BYTES, path)
    return config, metadata, weights


def _describe(obj: Any, path: str, compile: bool, seeds: Any = None
              ) -> Tuple[Any, List[Any], Any, Any]:
    """(name, layers, build shape, compile config) of Keras's model object, all checked;
    ``seeds`` gives layers back the 63-bit seeds Keras got reduced (when they still match)."""
    try:
        model_config, compile_config = _keras_config.model_in(obj, _CONFIG)
    except (ValueError, TypeError) as e:
        raise fail(path, str(e)) from None
    for layer in model_config["layers"] if isinstance(seeds, dict) else ():
        config, full = layer["config"], seeds.get(layer["config"].get("name"))
        if isinstance(full, int) and 0 <= full < 2**63 and \
                config.get("seed") == _keras_config.keras_seed(full):
            config["seed"] = full
    name, built, build_shape = _file_checks.model_layers(model_config, path)
    compile_config = _file_checks.compile_config(compile_config, path) if compile else None
    return name, built, build_shape, compile_config


def load(zf: zipfile.ZipFile, infos: Dict[str, zipfile.ZipInfo], path: str,
         compile: bool) -> Any:
    """The model of an open, checked .keras archive."""
    h5py = _common.import_h5py("Loading a Keras 3 `.keras` file")
    config, metadata, weights = _members(zf, infos, path)
    ours = metadata.get("fastmlp")
    name, built, build_shape, compile_config = _describe(
        config, path, compile, ours.get("layer_seeds") if isinstance(ours, dict) else None)
    sample = _file_checks.sample_shape(built, build_shape)
    if sample is None:
        raise fail(path, "the model config has no input shape (the saved model was not built)")
    state, record = _fastmlp_state(metadata, sample, path)
    with _common.build_errors(path):
        declared = _file_checks.weight_shapes(built, sample)
        shapes = None if declared is None else [s for _, s in declared]
        with _keras_h5.open_file(h5py, weights, path) as f:
            arrays = _keras_h5.read_layer_weights(h5py, f, built, shapes, path)
            model = _build(name, built, build_shape)
            model.set_weights(arrays)
            if compile_config is not None:
                model.compile_from_config(compile_config)
                optimizer = _keras_h5.read_optimizer(h5py, f, model, path)
                if optimizer is not None:
                    state["optimizer"] = optimizer
        model.set_training_state({**state, "training_input": record})
    return model


def _build(name: Any, built: List[Any], build_shape: Any) -> Any:
    from fastmlp.models import Sequential
    model = Sequential(built, name=name)
    if build_shape is not None and _file_checks.sample_shape(built, None) is None:
        model.build_from_config({"input_shape": build_shape})  # no layer declares the input
    return model


def _fastmlp_state(metadata: Dict[str, Any], sample: Any, path: str
                   ) -> Tuple[Dict[str, Any], Any]:
    """fastmlp's resume state from metadata.json (empty for a file Keras wrote)."""
    ours = metadata.get("fastmlp")
    if ours is None:
        return {}, None
    if not isinstance(ours, dict):
        raise fail(path, f"metadata.json's 'fastmlp' must be a JSON object, not {ours!r:.60}")
    return (_file_checks.training_state(ours.get("training_state"), path),
            _file_checks.training_input(ours.get("training_input"), sample, path))


def load_weights(model: Any, source: Any, path: str, skip_mismatch: bool) -> None:
    """Weights (and, for a compiled model, a fitting optimizer state) from a weights file's
    bytes or path, or from the weights member of an open .keras archive (source = (zf,
    infos))."""
    h5py = _common.import_h5py("Loading Keras 3 weights")
    if isinstance(source, tuple):
        source = _members(*source, path)[2]
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built; build it before load_weights().")
    current = model.get_weights()
    with _keras_h5.open_file(h5py, source, path) as f:
        weights = _keras_h5.read_layer_weights(h5py, f, model.layers,
                                               [w.shape for w in current], path,
                                               current if skip_mismatch else None)
        model.set_weights(weights)
        if model.compiled:
            optimizer = _keras_h5.read_optimizer(h5py, f, model, path)
            if optimizer is not None:
                model.set_training_state({"optimizer": optimizer})


def model_from_json(json_string: Any, custom_objects: Any = None) -> Any:
    """A freshly initialized model (compiled when the JSON has a compile_config) from Keras's
    JSON of a Sequential model."""
    if custom_objects:
        raise ValueError("`custom_objects` is not supported: fastmlp runs no code from a "
                         "model description.")
    if isinstance(json_string, (bytes, bytearray)):
        json_string = bytes(json_string)
    elif isinstance(json_string, str):
        json_string = json_string.encode("utf-8")
    else:
        raise TypeError(f"`json_string` must be a str, not {type(json_string).__name__}")
    label = "<JSON string>"
    obj = _common.parse_json(json_string, "the JSON", label)
    name, built, build_shape, compile_config = _describe(obj, label, True)
    with _common.build_errors(label):
        model = _build(name, built, build_shape)
        if compile_config is not None:
            model.compile_from_config(compile_config)
    return model
