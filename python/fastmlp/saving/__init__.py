"""Saving and loading models: Keras 3's files and fastmlp's own format.

The file name picks the format, as in Keras:

- ``model.save("m.keras")`` writes a real Keras 3 archive (``metadata.json``, ``config.json``,
  ``model.weights.h5``) that ``keras.models.load_model`` opens, with the compile settings and
  the optimizer state; ``model.save_weights("w.weights.h5")`` writes Keras 3's weights file.
  Both need h5py (the optional extra ``fastmlp[keras]``); see `_keras_format`.
- ``model.save("m.fastmlp")`` writes fastmlp's own format (JSON and raw arrays in a ZIP
  archive; no dependency), also for weights alone (``save_weights("w.fastmlp")``); see
  `_fastmlp_format`. ``pickle`` and ``copy.deepcopy`` of a model go through it in memory
  (`model_to_bytes` / `model_from_bytes`).

Loading reads the content, whatever the name: ``fastmlp.models.load_model`` opens both
formats (Keras 3 files of Sequential models made of the layers fastmlp has), ``load_weights``
reads a ``.weights.h5``, a ``.keras`` or a fastmlp file. A model restored from either format
predicts bit-identically to the one saved and continues training exactly where it stopped
(pass ``initial_epoch`` as with Keras if you use epoch numbers).

Loading never runs code: JSON, raw bytes and HDF5 datasets only, no pickle, no lambdas, and
only fastmlp's own layer, initializer, regularizer, optimizer, loss and metric classes can be
named (a Keras file naming anything else is refused, naming it). Every size is checked before
anything is read or allocated: ZIP members (names, compression ratios, zip bombs), JSON
(size, depth), the declared model against the stored arrays (at most `MAX_LAYERS` layers;
each weight's shape; optimizer slots), HDF5 datasets (hard links only, no external storage,
dtype, shape, bytes stored). Any problem is a ValueError naming the file.

Saving is atomic (see `fastmlp._atomic`): the file is written to a temporary in the target's
directory, flushed to disk (fsync) and renamed over the target; on any failure the temporary
is removed and an existing file is left untouched; temporaries left by killed writers are
removed by the next save to that directory. New files get mode 0666 minus the umask, as with
``open()``; a file saved over keeps its mode.
"""

from __future__ import annotations

import io
import os
import typing as _typing

from fastmlp._file_checks import MAX_LAYERS
from fastmlp.saving import _common, _fastmlp_format, _keras_format
from fastmlp.saving._common import (MAX_ARRAYS, MAX_COMPRESSION_RATIO, MAX_JSON_BYTES,
                                    MAX_TOTAL_ARRAY_BYTES, MODEL_SUFFIXES)
from fastmlp.saving._fastmlp_format import FORMAT, FORMAT_VERSION

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_ARRAYS", "MAX_COMPRESSION_RATIO", "MAX_JSON_BYTES",
           "MAX_LAYERS", "MAX_TOTAL_ARRAY_BYTES", "MODEL_SUFFIXES", "load_model", "load_weights",
           "model_from_bytes", "model_from_json", "model_to_bytes", "save_model",
           "save_weights"]


def _writes_here() -> bool:
    """Data-parallel training (fastmlp.distribution): only rank 0 writes, for every rank."""
    from fastmlp import distribution
    dist = distribution.distribution()
    return dist is None or dist.rank == 0


def save_model(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Writes ``model`` (architecture, weights, compile settings, optimizer state) atomically:
    Keras 3's format for ``.keras``, fastmlp's own for ``.fastmlp``.

    Raises:
        ValueError for another file name (Keras's message; legacy ``.h5`` models are not
        written), for a model Keras cannot represent in a ``.keras`` file; ImportError when
        h5py is missing for ``.keras``; FileExistsError with ``overwrite=False``.

    Under a `fastmlp.distribution` set on several ranks, only rank 0 writes.
    """
    path = os.fspath(filepath)
    keras = _common.model_format(path) == "keras"
    if not _writes_here():
        return
    if keras:
        _keras_format.save_model(model, path, overwrite)
    else:
        _fastmlp_format.save_model(model, path, overwrite)


def save_weights(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Writes only the weights (with the optimizer state when compiled, as Keras does, for
    ``.weights.h5``) atomically: Keras 3's ``.weights.h5`` or fastmlp's ``.fastmlp``."""
    path = os.fspath(filepath)
    keras = _common.weights_format(path) == "keras"
    if not _writes_here():
        return
    if keras:
        _keras_format.save_weights(model, path, overwrite)
    else:
        _fastmlp_format.save_weights(model, path, overwrite)


def load_model(filepath: Any, custom_objects: Any = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Loads a model saved by ``model.save`` (fastmlp's or Keras 3's ``.keras`` format, told
    apart by the content): same architecture and weights, compiled as it was and with its
    optimizer state.

    Args:
        filepath: the file.
        custom_objects: not supported (must be None): loading runs no code.
        compile: recompile with the saved settings and optimizer state. Defaults to True.
        safe_mode: accepted for Keras compatibility; loading is always safe.

    Raises:
        ValueError naming the file for any problem with its content (a Keras file fastmlp
        cannot represent names the layer, class or argument); FileNotFoundError; ImportError
        for a ``.keras`` file without h5py.
    """
    if custom_objects:
        raise ValueError("`custom_objects` is not supported: fastmlp files hold no code, and "
                         "Keras files naming custom objects are refused.")
    path = _common.existing_file(filepath)
    if _common.file_head(path) == _common.HDF5_MAGIC:
        raise _common.fail(path, "not a ZIP archive: this is an HDF5 file, either a Keras "
                                 "weights file (load it with model.load_weights()) or a legacy "
                                 "Keras `.h5` model, which fastmlp does not read (save it as "
                                 "`.keras` with Keras 3)")
    with _common.open_archive(path, path, os.path.getsize(path)) as (zf, infos):
        if _keras_format.is_keras_archive(infos):
            return _keras_format.load(zf, infos, path, compile)
        header, arrays = _fastmlp_format.read(zf, infos, path)
    return _fastmlp_format.model_from(header, arrays, path, compile)


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False) -> None:
    """Loads weights into the built ``model`` from a ``.weights.h5`` file, a ``.keras``
    archive or a fastmlp file (model or weights-only). Arrays whose shapes differ from the
    model's are an error, or keep the model's values with ``skip_mismatch``."""
    path = _common.existing_file(filepath)
    if _common.file_head(path) == _common.HDF5_MAGIC:
        _keras_format.load_weights(model, path, path, skip_mismatch)
        return
    with _common.open_archive(path, path, os.path.getsize(path)) as (zf, infos):
        if _keras_format.is_keras_archive(infos):
            _keras_format.load_weights(model, (zf, infos), path, skip_mismatch)
            return
        _, arrays = _fastmlp_format.read(zf, infos, path)
    _fastmlp_format.load_weights(model, arrays, path, skip_mismatch)


def model_to_bytes(model: Any) -> Tuple[bytes, Optional[Dict[str, List[Any]]]]:
    """The model as the bytes of a .fastmlp file (built or not, compiled or not), and the
    metric lists of its compile config ({"metrics", "weighted_metrics"}) when one holds a user
    function the format cannot hold (else None)."""
    return _fastmlp_format.model_to_bytes(model)


def model_from_bytes(data: bytes, metrics: Optional[Dict[str, List[Any]]] = None) -> Any:
    """The model `model_to_bytes` wrote (the same checks as `load_model`); ``metrics`` replaces
    the saved metric lists."""
    label = "<in-memory model>"
    with _common.open_archive(io.BytesIO(data), label, len(data)) as (zf, infos):
        header, arrays = _fastmlp_format.read(zf, infos, label)
    if header["kind"] != "model":
        raise _common.fail(label, "not a model")
    return _fastmlp_format.model_from(header, arrays, label, compile=True, allow_unbuilt=True,
                                      metrics=metrics)


def model_from_json(json_string: Any, custom_objects: Any = None) -> Any:
    """A new model, freshly initialized, from Keras's JSON of a Sequential model
    (``model.to_json()`` of Keras 3 or of fastmlp); compiled when the JSON holds a
    compile_config, as Keras does."""
    return _keras_format.model_from_json(json_string, custom_objects)
