"""fastmlp's model file format: save, load, and weights-only files.

A file is a ZIP archive (entries stored uncompressed) with exactly these members:

- ``fastmlp.json``: ``{"format": "fastmlp", "format_version": 1, "kind": "model" | "weights",
  "fastmlp_version", "model_config" (Sequential.get_config()), "compile_config" (optimizer, loss
  and metrics as configs, or null), "training_state" ({"shuffle_seed", "epochs_seen",
  "training_step"}), "training_input" ({"dtype", "shape", "min", "max"} of the data ``fit``
  saw, or null; absent in older files)}``;
- ``manifest.json``: ``{"arrays": [{"name", "path", "dtype", "shape", "nbytes"}, ...]}`` where
  ``name`` is ``"weights/<i>"`` (``get_weights()`` order) or ``"optimizer/<i>"`` (optimizer
  slots) and ``dtype`` is ``"<f4"``; the optimizer's step count is ``"optimizer/iterations"``
  (``"<i8"``, shape ``[]``);
- ``arrays/<k>.bin``: the raw little-endian bytes of each array, C order.

The model is read and restored through its public methods only: ``get_config`` /
``Sequential(layers)``, ``get_weights`` / ``set_weights``, ``get_compile_config`` /
``compile_from_config``, ``build_from_config`` and ``get_training_state`` /
``set_training_state``.

Loading never runs code: JSON and raw bytes only, no pickle, and only fastmlp's own layer,
optimizer, loss and metric classes can be named. It checks the magic and version, member names
(no absolute paths, no "..", nothing unexpected), sizes (each array's bytes against its dtype and
shape, all members together against the file's size, and against limits, so a hostile archive
cannot exhaust memory), then every field's type and the declared model against the stored arrays
(at most `MAX_LAYERS` layers; weight shapes, optimizer slots) before building anything. Any
problem is a ValueError naming the file.

Saving is atomic (see `fastmlp._atomic`): the archive is written to a temporary file in the
target's directory, flushed to disk (fsync) and renamed over the target; on any failure the
temporary file is removed and an existing file is left untouched; temporaries left by killed
writers are removed by the next save to that directory. New files get mode 0666 minus the umask,
as with ``open()``; a file saved over keeps its mode.

``pickle`` and ``copy.deepcopy`` of a model go through this format in memory
(`model_to_bytes` / `model_from_bytes`): the same weights, optimizer state and compile settings.

Weights-only files (``model.save_weights("w.weights.h5")``) use the same container with
``"kind": "weights"``; the ".weights.h5" name Keras requires is accepted but the content is this
format, not HDF5. Files of format version 1 will keep loading in later versions.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
import zipfile
import zlib
import typing as _typing

import numpy as np

from fastmlp import _atomic, _checks, _file_checks
from fastmlp._file_checks import MAX_LAYERS

if _typing.TYPE_CHECKING:
    from typing import Any, BinaryIO, Dict, List, Optional, Tuple, Union

FORMAT = "fastmlp"
FORMAT_VERSION = 1
MODEL_SUFFIXES = (".fastmlp", ".keras")
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_TOTAL_ARRAY_BYTES = 16 * 1024 ** 3
MAX_ARRAYS = 100_000
# fastmlp writes stored members; a user may re-zip with deflate, which shrinks float weights by a
# small factor. A larger ratio is refused before decompressing anything (zip bombs).
MAX_COMPRESSION_RATIO = 20
_DTYPES = {"<f4": np.dtype("<f4"), "<i8": np.dtype("<i8")}
_ARRAY_MEMBER = re.compile(r"^arrays/[0-9]{1,9}\.bin$")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same model gives the same bytes

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_ARRAYS", "MAX_COMPRESSION_RATIO", "MAX_JSON_BYTES",
           "MAX_LAYERS", "MAX_TOTAL_ARRAY_BYTES", "MODEL_SUFFIXES", "load_model", "load_weights",
           "model_from_bytes", "model_to_bytes", "save_model", "save_weights"]


# ---- writing -----------------------------------------------------------------------------------
def _entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _write_zip(f: BinaryIO, header: Dict[str, Any], arrays: List[Tuple[str, np.ndarray]]) -> None:
    manifest = []
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        _entry(zf, "fastmlp.json", json.dumps(header, indent=1).encode())
        for k, (name, arr) in enumerate(arrays):
            data = np.asarray(arr, order="C").astype(arr.dtype.newbyteorder("<"), copy=False)
            member = f"arrays/{k}.bin"
            manifest.append({"name": name, "path": member, "dtype": data.dtype.str,
                             "shape": list(data.shape), "nbytes": int(data.nbytes)})
            _entry(zf, member, data.tobytes())
        _entry(zf, "manifest.json", json.dumps({"arrays": manifest}, indent=1).encode())


def _write_archive(path: str, header: Dict[str, Any],
                   arrays: List[Tuple[str, np.ndarray]], overwrite: bool) -> None:
    path = os.fspath(path)
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


def _compile_config(model: Any, warn: bool = True
                    ) -> Tuple[Optional[Dict[str, Any]], Optional[List[Any]]]:
    """The compile_config to store (None if not compiled), and the model's whole metric list
    when some metric cannot be stored (else None)."""
    config = model.get_compile_config()
    if not config:
        return None, None
    saved = []
    for m in config["metrics"]:
        if isinstance(m, (str, dict)):
            saved.append(m)
        elif warn:  # a user function: the file holds no code, so it is left out
            warnings.warn(f"Metric {m!r} is not saved (custom functions cannot be stored); "
                          "compile the loaded model again to use it.", stacklevel=4)
    left_out = len(saved) < len(config["metrics"])
    return {**config, "metrics": saved}, config["metrics"] if left_out else None


def _model_arrays(model: Any, state: Dict[str, Any]) -> List[Tuple[str, np.ndarray]]:
    arrays = [(f"weights/{i}", w) for i, w in enumerate(model.get_weights())]
    optimizer = state["optimizer"]
    if optimizer is not None:
        arrays.append(("optimizer/iterations", np.array(optimizer["iterations"], dtype="<i8")))
        arrays += [(f"optimizer/{i}", np.asarray(s, dtype=np.float32))
                   for i, s in enumerate(optimizer["slots"])]
    return arrays


def _require_built(model: Any, what: str) -> None:
    if not model.built:
        raise _checks.not_built(what, model.name)


def save_model(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Writes ``model`` (architecture, weights, compile settings, optimizer state) atomically."""
    path = os.fspath(filepath)
    if not path.endswith(MODEL_SUFFIXES):
        raise ValueError(f"The filename must end in `.fastmlp` (or `.keras`). Received: "
                         f"filepath={path}")
    _require_built(model, "save")
    state = model.get_training_state()
    header = _header(model, "model", state)
    header["compile_config"], _ = _compile_config(model)
    _write_archive(path, header, _model_arrays(model, state), overwrite)


def model_to_bytes(model: Any) -> Tuple[bytes, Optional[List[Any]]]:
    """The model as the bytes of a .fastmlp file (built or not, compiled or not), and the
    metrics of its compile config when one is a user function the format cannot hold (else
    None)."""
    state = model.get_training_state()
    header = _header(model, "model", state)
    header["compile_config"], metrics = _compile_config(model, warn=False)
    buf = io.BytesIO()
    _write_zip(buf, header, _model_arrays(model, state))
    return buf.getvalue(), metrics


def model_from_bytes(data: bytes, metrics: Optional[List[Any]] = None) -> Any:
    """The model `model_to_bytes` wrote (the same checks as `load_model`); ``metrics`` replaces
    the saved metric list."""
    label = "<in-memory model>"
    header, arrays = _read_zip(io.BytesIO(data), label, len(data))
    if header["kind"] != "model":
        raise _fail(label, "not a model")
    return _model_from(header, arrays, label, compile=True, allow_unbuilt=True, metrics=metrics)


def save_weights(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Writes only the weights (and the architecture, for checking on load) atomically."""
    _require_built(model, "save_weights")
    arrays = [(f"weights/{i}", w) for i, w in enumerate(model.get_weights())]
    header = _header(model, "weights", model.get_training_state(include_optimizer=False))
    _write_archive(os.fspath(filepath), header, arrays, overwrite)


# ---- reading -----------------------------------------------------------------------------------
_fail = _file_checks.fail


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: str) -> bytes:
    if info.file_size > limit:
        raise _fail(path, f"member {info.filename!r} declares {info.file_size} bytes, more than "
                          f"the limit of {limit}")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) != info.file_size or len(data) > limit:
        raise _fail(path, f"member {info.filename!r} has {len(data)} bytes, expected "
                          f"{info.file_size}")
    return data


def _read_archive(filepath: str) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No file found at {path!r}.")
    return _read_zip(path, path, os.path.getsize(path))


def _read_zip(source: Union[str, BinaryIO], path: str, size: int
              ) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    try:
        zf = zipfile.ZipFile(source, "r")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise _fail(path, f"not a fastmlp file (not a ZIP archive: {e})") from None
    try:
        with zf:
            return _read_members(zf, path, size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
        # A truncated or corrupted archive (bad CRC, bad offsets, damaged deflate stream; an
        # offset past 2**31 in the end record makes the member seek fail with EINVAL).
        raise _fail(path, f"the file is damaged ({type(e).__name__}: {e})") from None


def _read_members(zf: zipfile.ZipFile, path: str, size: int
                  ) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    infos = {}
    for info in zf.infolist():
        name = info.filename
        if name in infos or name.startswith(("/", "\\")) or ".." in name or "\\" in name \
                or ":" in name or not (name in ("fastmlp.json", "manifest.json")
                                       or _ARRAY_MEMBER.match(name)):
            raise _fail(path, f"unexpected archive member {name!r}")
        if info.flag_bits & 0x1:
            raise _fail(path, f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _fail(path, f"member {name!r} uses an unsupported compression")
        if info.file_size > MAX_COMPRESSION_RATIO * info.compress_size + 65536:
            raise _fail(path, f"member {name!r} expands {info.compress_size} bytes to "
                              f"{info.file_size} (a zip bomb?)")
        infos[name] = info
    if len(infos) > MAX_ARRAYS + 2:
        raise _fail(path, f"too many members ({len(infos)})")
    # Many small members may each pass the ratio test above thanks to its allowance; together
    # they may not expand the file by more than the ratio.
    declared = sum(info.file_size for info in infos.values())
    if declared > MAX_COMPRESSION_RATIO * size + 65536:
        raise _fail(path, f"its members declare {declared} bytes in a file of {size} (a zip "
                          "bomb?)")
    for required in ("fastmlp.json", "manifest.json"):
        if required not in infos:
            raise _fail(path, f"missing {required!r} (not a fastmlp file)")
    header = _parse_json(_read_member(zf, infos["fastmlp.json"], MAX_JSON_BYTES, path),
                         "fastmlp.json", path)
    _check_header(header, path)
    manifest = _parse_json(_read_member(zf, infos["manifest.json"], MAX_JSON_BYTES, path),
                           "manifest.json", path)
    return header, _read_arrays(zf, infos, manifest, path)


def _parse_json(data: bytes, member: str, path: str) -> Dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _fail(path, f"{member} is not valid JSON ({e})") from None
    except RecursionError:
        raise _fail(path, f"{member} nests arrays or objects too deeply") from None
    if not isinstance(value, dict):
        raise _fail(path, f"{member} must hold a JSON object")
    return value


def _check_header(header: Dict[str, Any], path: str) -> None:
    if header.get("format") != FORMAT:
        raise _fail(path, f"not a fastmlp file (format {header.get('format')!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(path, f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(path, f"written in format version {version} by a newer fastmlp; this "
                          f"version reads up to {FORMAT_VERSION}. Upgrade fastmlp.")
    if header.get("kind") not in ("model", "weights"):
        raise _fail(path, f"unknown kind {header.get('kind')!r}")
    if not isinstance(header.get("model_config"), dict):
        raise _fail(path, "missing model_config")


def _read_arrays(zf: zipfile.ZipFile, infos: Dict[str, zipfile.ZipInfo],
                 manifest: Dict[str, Any], path: str) -> Dict[str, np.ndarray]:
    entries = manifest.get("arrays")
    if not isinstance(entries, list) or len(entries) > MAX_ARRAYS:
        raise _fail(path, "manifest.json has no valid 'arrays' list")
    arrays: Dict[str, np.ndarray] = {}
    total = 0
    for e in entries:
        if not isinstance(e, dict):
            raise _fail(path, f"invalid manifest entry {e!r:.100}")
        name, member, dtype = e.get("name"), e.get("path"), e.get("dtype")
        dtype = _DTYPES.get(dtype) if isinstance(dtype, str) else None
        shape, nbytes = e.get("shape"), e.get("nbytes")
        if not isinstance(name, str) or name in arrays or not isinstance(member, str) or \
                member not in infos or not _ARRAY_MEMBER.match(member):
            raise _fail(path, f"manifest entry {name!r} names a missing or invalid member "
                              f"{member!r}")
        if dtype is None:
            raise _fail(path, f"array {name!r} has unsupported dtype {e.get('dtype')!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                  and 0 <= d < 2**40 for d in shape):
            raise _fail(path, f"array {name!r} has an invalid shape {shape!r}")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes != expected or infos[member].file_size != expected:
            raise _fail(path, f"array {name!r}: manifest says {nbytes} bytes, shape {shape} of "
                              f"{dtype.str} needs {expected}, the archive holds "
                              f"{infos[member].file_size}")
        total += expected
        if total > MAX_TOTAL_ARRAY_BYTES:
            raise _fail(path, f"arrays exceed the limit of {MAX_TOTAL_ARRAY_BYTES} bytes")
        data = _read_member(zf, infos[member], expected, path)
        arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape).astype(
            dtype.newbyteorder("="))
    return arrays


def _numbered(arrays: Dict[str, np.ndarray], prefix: str, path: str) -> List[np.ndarray]:
    """``prefix/0``, ``prefix/1``, ... (float32, as fastmlp writes them)."""
    out = []
    while f"{prefix}/{len(out)}" in arrays:
        out.append(arrays[f"{prefix}/{len(out)}"])
    named = {f"{prefix}/{i}" for i in range(len(out))}
    extra = [k for k in arrays if k.startswith(prefix + "/") and k != "optimizer/iterations"
             and k not in named]
    if extra:
        raise _fail(path, f"unexpected arrays {extra[:5]}")
    wrong = [f"{prefix}/{i}" for i, a in enumerate(out) if a.dtype != np.float32]
    if wrong:
        raise _fail(path, f"arrays {wrong[:5]} must be float32 ('<f4')")
    return out


def load_model(filepath: str, custom_objects: Any = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Loads a model saved by ``model.save``: same architecture and weights (predictions are
    bit-identical), compiled as it was and with its optimizer state, so ``fit`` continues
    exactly where it stopped (pass ``initial_epoch`` as with Keras if you use epoch numbers).

    Args:
        filepath: the file.
        custom_objects: not supported (must be None): the format holds no code.
        compile: recompile with the saved settings and optimizer state. Defaults to True.
        safe_mode: accepted for Keras compatibility; loading is always safe.

    Raises:
        ValueError naming the file for any problem with its content; FileNotFoundError.
    """
    if custom_objects:
        raise ValueError("`custom_objects` is not supported: fastmlp files hold no code.")
    path = os.fspath(filepath)
    header, arrays = _read_archive(path)
    if header["kind"] != "model":
        raise _fail(path, "this is a weights-only file; build the model and use "
                          "model.load_weights()")
    return _model_from(header, arrays, path, compile)


def _model_from(header: Dict[str, Any], arrays: Dict[str, np.ndarray], path: str,
                compile: bool, allow_unbuilt: bool = False,
                metrics: Optional[List[Any]] = None) -> Any:
    try:
        return _build_model(header, arrays, path, compile, allow_unbuilt, metrics)
    except ValueError as e:
        if str(e).startswith("Cannot load"):
            raise
        raise _fail(path, str(e)) from None
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError,
            RecursionError) as e:  # a field of a type the checks did not foresee
        raise _fail(path, f"invalid content ({type(e).__name__}: {e})") from None


def _build_model(header: Dict[str, Any], arrays: Dict[str, np.ndarray], path: str,
                 compile: bool, allow_unbuilt: bool, metrics: Optional[List[Any]]) -> Any:
    """Checks every field, the declared weights against the stored ones, and only then builds
    (so a file cannot make this allocate a model its arrays do not fill)."""
    from fastmlp.models import Sequential
    name, built, build_shape = _file_checks.model_layers(header["model_config"], path)
    sample = _file_checks.sample_shape(built, build_shape)
    if sample is None and not allow_unbuilt:
        raise _fail(path, "model_config has no input shape (the saved model was not built)")
    weights = _numbered(arrays, "weights", path)
    _file_checks.check_weights_match(built, sample, weights, path)
    state = _file_checks.training_state(header.get("training_state"), path)
    record = _file_checks.training_input(header.get("training_input"), sample, path)
    config = _file_checks.compile_config(header.get("compile_config"), path) if compile \
        else None
    model = Sequential(built, name=name)
    if build_shape is not None and _file_checks.sample_shape(built, None) is None:
        model.build_from_config({"input_shape": build_shape})  # no layer declares the input
    if model.built:
        model.set_weights(weights)
    if config is not None:
        optimizer = _restore_compile(model, config, arrays, path, metrics)
        if optimizer is not None:
            state["optimizer"] = optimizer
    # Resuming replays the Dropout masks (training_step) and the shuffle order.
    model.set_training_state({**state, "training_input": record})
    return model


def _restore_compile(model: Any, config: Dict[str, Any], arrays: Dict[str, np.ndarray],
                     path: str, metric_list: Optional[List[Any]]) -> Optional[Dict[str, Any]]:
    """Compiles ``model`` as saved; returns the checked optimizer state (None if absent)."""
    model.compile_from_config(config if metric_list is None else
                              {**config, "metrics": metric_list})
    slots = _numbered(arrays, "optimizer", path)
    iterations = _file_checks.optimizer_state(arrays, slots, path)
    if iterations is None:
        return None
    if not model.built:
        raise _fail(path, "optimizer state for a model without an input shape")
    _file_checks.check_slots(model, slots, path)
    return {"iterations": iterations, "slots": slots}


def load_weights(model: Any, filepath: str, skip_mismatch: bool = False) -> None:
    """Loads the weights of a file written by ``save_weights`` or ``save`` into ``model``."""
    path = os.fspath(filepath)
    _, arrays = _read_archive(path)
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built; build it before load_weights().")
    weights = _numbered(arrays, "weights", path)
    expected = model.get_weights()
    if len(weights) != len(expected) or any(w.shape != e.shape
                                            for w, e in zip(weights, expected)):
        if not skip_mismatch:
            raise ValueError(
                f"Cannot load weights from {path!r}: the file holds {len(weights)} arrays of "
                f"shapes {[w.shape for w in weights]}, the model has {len(expected)} of shapes "
                f"{[e.shape for e in expected]}.")
        weights = [w if i < len(weights) and weights[i].shape == e.shape else e
                   for i, (w, e) in enumerate(zip(weights + [None] * len(expected), expected))]
    model.set_weights(weights)
