"""fastmlp's own file format (``.fastmlp``): JSON and raw little-endian arrays in a ZIP archive,
readable without any dependency.

A file is a ZIP archive (entries stored uncompressed) with exactly these members:

- ``fastmlp.json``: ``{"format": "fastmlp", "format_version": 1, "kind": "model" | "weights",
  "fastmlp_version", "model_config" (Sequential.get_config()), "compile_config" (optimizer, loss
  and metrics as configs, or null), "training_state" ({"shuffle_seed", "epochs_seen",
  "training_step"}), "training_input" ({"dtype", "shape", "min", "max"} of the data ``fit``
  saw, or null; absent in older files)}``;
- ``manifest.json``: ``{"arrays": [{"name", "path", "dtype", "shape", "nbytes"}, ...]}`` where
  ``name`` is ``"weights/<i>"`` (``get_weights()`` order) or ``"optimizer/<i>"`` (optimizer
  slots) and ``dtype`` is ``"<f4"`` (``"|i1"`` for the int8 kernel of a quantized Dense layer);
  the optimizer's step count is ``"optimizer/iterations"`` (``"<i8"``, shape ``[]``);
- ``arrays/<k>.bin``: the raw little-endian bytes of each array, C order.

Files of format version 1 will keep loading in later versions.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
import typing as _typing

import numpy as np

from fastmlp import _atomic, _file_checks
from fastmlp.saving import _common
from fastmlp.saving._common import fail

if _typing.TYPE_CHECKING:
    from typing import Any, BinaryIO, Dict, List, Optional, Tuple

FORMAT = "fastmlp"
FORMAT_VERSION = 1
_DTYPES = {"<f4": np.dtype("<f4"), "<i8": np.dtype("<i8"), "|i1": np.dtype("|i1")}
_ARRAY_MEMBER = re.compile(r"^arrays/[0-9]{1,9}\.bin$")
_HEADER, _MANIFEST = "fastmlp.json", "manifest.json"


# ---- writing -----------------------------------------------------------------------------------
def _entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_common.ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _write_zip(f: BinaryIO, header: Dict[str, Any], arrays: List[Tuple[str, np.ndarray]]) -> None:
    manifest = []
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        _entry(zf, _HEADER, json.dumps(header, indent=1).encode())
        for k, (name, arr) in enumerate(arrays):
            data = np.asarray(arr, order="C").astype(arr.dtype.newbyteorder("<"), copy=False)
            member = f"arrays/{k}.bin"
            manifest.append({"name": name, "path": member, "dtype": data.dtype.str,
                             "shape": list(data.shape), "nbytes": int(data.nbytes)})
            _entry(zf, member, data.tobytes())
        _entry(zf, _MANIFEST, json.dumps({"arrays": manifest}, indent=1).encode())


def _write_archive(path: str, header: Dict[str, Any],
                   arrays: List[Tuple[str, np.ndarray]], overwrite: bool) -> None:
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False.")
    _atomic.write_atomically(path, lambda f: _write_zip(f, header, arrays))


def _header(model: Any, kind: str, state: Dict[str, Any]) -> Dict[str, Any]:
    from fastmlp import __version__
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
            "fastmlp_version": __version__, "model_config": model.get_config(),
            "compile_config": None,
            "training_state": {key: int(state[key])
                               for key in ("shuffle_seed", "epochs_seen", "training_step")},
            "training_input": state["training_input"]}


def _model_arrays(model: Any, state: Dict[str, Any]) -> List[Tuple[str, np.ndarray]]:
    arrays = [(f"weights/{i}", w) for i, w in enumerate(model.get_weights())]
    optimizer = state["optimizer"]
    if optimizer is not None:
        arrays.append(("optimizer/iterations", np.array(optimizer["iterations"], dtype="<i8")))
        arrays += [(f"optimizer/{i}", np.asarray(s, dtype=np.float32))
                   for i, s in enumerate(optimizer["slots"])]
    return arrays


def save_model(model: Any, path: str, overwrite: bool) -> None:
    _common.require_built(model, "save")
    state = model.get_training_state()
    header = _header(model, "model", state)
    header["compile_config"], _ = _common.storable_compile_config(model)
    _write_archive(path, header, _model_arrays(model, state), overwrite)


def model_to_bytes(model: Any) -> Tuple[bytes, Optional[List[Any]]]:
    state = model.get_training_state()
    header = _header(model, "model", state)
    header["compile_config"], metrics = _common.storable_compile_config(model, warn=False)
    buf = io.BytesIO()
    _write_zip(buf, header, _model_arrays(model, state))
    return buf.getvalue(), metrics


def save_weights(model: Any, path: str, overwrite: bool) -> None:
    _common.require_built(model, "save_weights")
    arrays = [(f"weights/{i}", w) for i, w in enumerate(model.get_weights())]
    header = _header(model, "weights", model.get_training_state(include_optimizer=False))
    _write_archive(path, header, arrays, overwrite)


# ---- reading -----------------------------------------------------------------------------------
def read(zf: zipfile.ZipFile, infos: Dict[str, zipfile.ZipInfo], path: str
         ) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """The checked header and arrays of an open .fastmlp archive."""
    for name in infos:
        if name not in (_HEADER, _MANIFEST) and not _ARRAY_MEMBER.match(name):
            raise fail(path, f"unexpected archive member {name!r}")
    for required in (_HEADER, _MANIFEST):
        if required not in infos:
            raise fail(path, f"missing {required!r} (not a fastmlp file)")
    header = _common.parse_json(
        _common.read_member(zf, infos[_HEADER], _common.MAX_JSON_BYTES, path), _HEADER, path)
    _check_header(header, path)
    manifest = _common.parse_json(
        _common.read_member(zf, infos[_MANIFEST], _common.MAX_JSON_BYTES, path), _MANIFEST,
        path)
    return header, _read_arrays(zf, infos, manifest, path)


def _check_header(header: Dict[str, Any], path: str) -> None:
    if header.get("format") != FORMAT:
        raise fail(path, f"not a fastmlp file (format {header.get('format')!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail(path, f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise fail(path, f"written in format version {version} by a newer fastmlp; this "
                         f"version reads up to {FORMAT_VERSION}. Upgrade fastmlp.")
    if header.get("kind") not in ("model", "weights"):
        raise fail(path, f"unknown kind {header.get('kind')!r}")
    if not isinstance(header.get("model_config"), dict):
        raise fail(path, "missing model_config")


def _read_arrays(zf: zipfile.ZipFile, infos: Dict[str, zipfile.ZipInfo],
                 manifest: Dict[str, Any], path: str) -> Dict[str, np.ndarray]:
    entries = manifest.get("arrays")
    if not isinstance(entries, list) or len(entries) > _common.MAX_ARRAYS:
        raise fail(path, "manifest.json has no valid 'arrays' list")
    arrays: Dict[str, np.ndarray] = {}
    total = 0
    for e in entries:
        if not isinstance(e, dict):
            raise fail(path, f"invalid manifest entry {e!r:.100}")
        name, member, dtype = e.get("name"), e.get("path"), e.get("dtype")
        dtype = _DTYPES.get(dtype) if isinstance(dtype, str) else None
        shape, nbytes = e.get("shape"), e.get("nbytes")
        if not isinstance(name, str) or name in arrays or not isinstance(member, str) or \
                member not in infos or not _ARRAY_MEMBER.match(member):
            raise fail(path, f"manifest entry {name!r} names a missing or invalid member "
                             f"{member!r}")
        if dtype is None:
            raise fail(path, f"array {name!r} has unsupported dtype {e.get('dtype')!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                  and 0 <= d < 2**40 for d in shape):
            raise fail(path, f"array {name!r} has an invalid shape {shape!r}")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes != expected or infos[member].file_size != expected:
            raise fail(path, f"array {name!r}: manifest says {nbytes} bytes, shape {shape} of "
                             f"{dtype.str} needs {expected}, the archive holds "
                             f"{infos[member].file_size}")
        total += expected
        if total > _common.MAX_TOTAL_ARRAY_BYTES:
            raise fail(path, f"arrays exceed the limit of {_common.MAX_TOTAL_ARRAY_BYTES} bytes")
        data = _common.read_member(zf, infos[member], expected, path)
        arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape).astype(
            dtype.newbyteorder("="))
    return arrays


def _numbered(arrays: Dict[str, np.ndarray], prefix: str, path: str) -> List[np.ndarray]:
    """``prefix/0``, ``prefix/1``, ... (float32, as fastmlp writes them; weights may be int8:
    the kernels of quantized layers, whose values set_weights checks)."""
    out = []
    while f"{prefix}/{len(out)}" in arrays:
        out.append(arrays[f"{prefix}/{len(out)}"])
    named = {f"{prefix}/{i}" for i in range(len(out))}
    extra = [k for k in arrays if k.startswith(prefix + "/") and k != "optimizer/iterations"
             and k not in named]
    if extra:
        raise fail(path, f"unexpected arrays {extra[:5]}")
    allowed = (np.float32, np.int8) if prefix == "weights" else (np.float32,)
    wrong = [f"{prefix}/{i}" for i, a in enumerate(out) if a.dtype not in allowed]
    if wrong:
        raise fail(path, f"arrays {wrong[:5]} must be float32 ('<f4')"
                   + (" or int8 ('|i1')" if prefix == "weights" else ""))
    return out


def model_from(header: Dict[str, Any], arrays: Dict[str, np.ndarray], path: str,
               compile: bool, allow_unbuilt: bool = False,
               metrics: Optional[List[Any]] = None) -> Any:
    """The model a checked header and its arrays describe."""
    if header["kind"] != "model":
        raise fail(path, "this is a weights-only file; build the model and use "
                         "model.load_weights()")
    with _common.build_errors(path):
        return _build_model(header, arrays, path, compile, allow_unbuilt, metrics)


def _build_model(header: Dict[str, Any], arrays: Dict[str, np.ndarray], path: str,
                 compile: bool, allow_unbuilt: bool, metrics: Optional[List[Any]]) -> Any:
    """Checks every field, the declared weights against the stored ones, and only then builds
    (so a file cannot make this allocate a model its arrays do not fill)."""
    from fastmlp.models import Sequential
    name, built, build_shape = _file_checks.model_layers(header["model_config"], path)
    sample = _file_checks.sample_shape(built, build_shape)
    if sample is None and not allow_unbuilt:
        raise fail(path, "model_config has no input shape (the saved model was not built)")
    weights = _numbered(arrays, "weights", path)
    _file_checks.check_weights_match(built, sample, weights, path)
    state = _file_checks.training_state(header.get("training_state"), path)
    record = _file_checks.training_input(header.get("training_input"), sample, path)
    config = _file_checks.compile_config(header.get("compile_config"), path) if compile \
        else None
    model = Sequential(built, name=name,
                       trainable=header["model_config"].get("trainable", True))
    if build_shape is not None and _file_checks.sample_shape(built, None) is None:
        model.build_from_config({"input_shape": build_shape})  # no layer declares the input
    if model.built:
        model.set_weights(weights)
    if config is not None:
        model.compile_from_config(config if metrics is None else {**config, **metrics})
        optimizer = _optimizer_state(model, arrays, path)
        if optimizer is not None:
            state["optimizer"] = optimizer
    # Resuming replays the Dropout masks (training_step) and the shuffle order.
    model.set_training_state({**state, "training_input": record})
    return model


def _optimizer_state(model: Any, arrays: Dict[str, np.ndarray], path: str
                     ) -> Optional[Dict[str, Any]]:
    """The checked optimizer state of a compiled model (None if the file has none)."""
    slots = _numbered(arrays, "optimizer", path)
    iterations = _file_checks.optimizer_state(arrays, slots, path)
    if iterations is None:
        return None
    if not model.built:
        raise fail(path, "optimizer state for a model without an input shape")
    _file_checks.check_slots(model, slots, path)
    return {"iterations": iterations, "slots": slots}


def load_weights(model: Any, arrays: Dict[str, np.ndarray], path: str,
                 skip_mismatch: bool) -> None:
    _common.assign_weights(model, _numbered(arrays, "weights", path), path, skip_mismatch)
