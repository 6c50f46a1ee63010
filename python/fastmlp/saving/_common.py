"""What both file formats share: the limits, the ZIP container checks (member names, sizes,
compression ratios, all before anything is decompressed), JSON parsing, the h5py import and
the file-name rules of ``save`` / ``save_weights``."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
import zipfile
import zlib
import typing as _typing

from fastmlp import _checks
from fastmlp._file_checks import fail

if _typing.TYPE_CHECKING:
    from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Tuple, Union

MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_TOTAL_ARRAY_BYTES = 16 * 1024 ** 3
MAX_ARRAYS = 100_000
# fastmlp and Keras write stored members; a user may re-zip with deflate, which shrinks float
# weights by a small factor. A larger ratio is refused before decompressing anything (zip bombs).
MAX_COMPRESSION_RATIO = 20
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same model gives the same bytes

KERAS_SUFFIX = ".keras"
FASTMLP_SUFFIX = ".fastmlp"
WEIGHTS_SUFFIX = ".weights.h5"
MODEL_SUFFIXES = (FASTMLP_SUFFIX, KERAS_SUFFIX)
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
EXTRA = "fastmlp[keras]"


def require_built(model: Any, what: str) -> None:
    if not model.built:
        raise _checks.not_built(what, model.name)


def import_h5py(what: str) -> Any:
    """h5py, or an ImportError naming the extra that installs it (and the format that needs
    nothing)."""
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{what} needs h5py, which fastmlp installs with the optional extra: "
                          f"pip install '{EXTRA}'. fastmlp's own format ({FASTMLP_SUFFIX}) "
                          "needs nothing.") from None
    return h5py


def model_format(filepath: str) -> str:
    """"keras" or "fastmlp" for the name ``save`` is given; ValueError otherwise (Keras's
    message, with fastmlp's own format in place of the legacy HDF5 one it cannot write)."""
    if filepath.endswith(KERAS_SUFFIX):
        return "keras"
    if filepath.endswith(FASTMLP_SUFFIX):
        return "fastmlp"
    legacy = filepath.endswith((".h5", ".hdf5"))
    raise ValueError(
        "Invalid filepath extension for saving. Please add either a `.keras` extension for the "
        "native Keras format (recommended) or a `.fastmlp` extension for fastmlp's own format. "
        + ("fastmlp does not write Keras's legacy HDF5 model files (`.h5`); for weights alone "
           "use `model.save_weights('name.weights.h5')`. " if legacy else "")
        + f"Received: filepath={filepath}")


def weights_format(filepath: str) -> str:
    """"keras" or "fastmlp" for the name ``save_weights`` is given; ValueError otherwise."""
    if filepath.endswith(WEIGHTS_SUFFIX):
        return "keras"
    if filepath.endswith(FASTMLP_SUFFIX):
        return "fastmlp"
    raise ValueError(f"The filename must end in `{WEIGHTS_SUFFIX}` (Keras 3's weights format) "
                     f"or `{FASTMLP_SUFFIX}` (fastmlp's own). Received: filepath={filepath}")


def parse_json(data: bytes, member: str, path: str) -> Dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise fail(path, f"{member} is not valid JSON ({e})") from None
    except RecursionError:
        raise fail(path, f"{member} nests arrays or objects too deeply") from None
    if not isinstance(value, dict):
        raise fail(path, f"{member} must hold a JSON object")
    return value


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: str) -> bytes:
    if info.file_size > limit:
        raise fail(path, f"member {info.filename!r} declares {info.file_size} bytes, more than "
                         f"the limit of {limit}")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) != info.file_size or len(data) > limit:
        raise fail(path, f"member {info.filename!r} has {len(data)} bytes, expected "
                         f"{info.file_size}")
    return data


def _member_infos(zf: zipfile.ZipFile, path: str, size: int) -> Dict[str, zipfile.ZipInfo]:
    """Every member, checked before any is read: safe names, no encryption, known compression,
    sizes that cannot expand past the ratio (each, and all together)."""
    infos: Dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        if name in infos or name.startswith(("/", "\\")) or ".." in name or "\\" in name \
                or ":" in name:
            raise fail(path, f"unexpected archive member {name!r}")
        if info.flag_bits & 0x1:
            raise fail(path, f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(path, f"member {name!r} uses an unsupported compression")
        if info.file_size > MAX_COMPRESSION_RATIO * info.compress_size + 65536:
            raise fail(path, f"member {name!r} expands {info.compress_size} bytes to "
                             f"{info.file_size} (a zip bomb?)")
        infos[name] = info
        if len(infos) > MAX_ARRAYS + 2:
            raise fail(path, f"too many members ({len(zf.infolist())})")
    # Many small members may each pass the ratio test above thanks to its allowance; together
    # they may not expand the file by more than the ratio.
    declared = sum(info.file_size for info in infos.values())
    if declared > MAX_COMPRESSION_RATIO * size + 65536:
        raise fail(path, f"its members declare {declared} bytes in a file of {size} (a zip "
                         "bomb?)")
    return infos


@contextlib.contextmanager
def open_archive(source: Union[str, BinaryIO], path: str, size: int
                 ) -> Iterator[Tuple[zipfile.ZipFile, Dict[str, zipfile.ZipInfo]]]:
    """The open ZIP archive and its checked members; damage is a ValueError naming ``path``."""
    try:
        zf = zipfile.ZipFile(source, "r")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise fail(path, f"not a fastmlp or Keras file (not a ZIP archive: {e})") from None
    try:
        with zf:
            yield zf, _member_infos(zf, path, size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
        # A truncated or corrupted archive (bad CRC, bad offsets, damaged deflate stream; an
        # offset past 2**31 in the end record makes the member seek fail with EINVAL).
        raise fail(path, f"the file is damaged ({type(e).__name__}: {e})") from None


def existing_file(filepath: Any) -> str:
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No file found at {path!r}.")
    return path


def file_head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(len(HDF5_MAGIC))


def storable_compile_config(model: Any, warn: bool = True
                            ) -> Tuple[Optional[Dict[str, Any]], Optional[List[Any]]]:
    """The compile_config a file can hold (None if not compiled), and the model's whole metric
    lists ({"metrics": [...], "weighted_metrics": [...]}) when some metric cannot be stored
    (else None)."""
    config = model.get_compile_config()
    if not config:
        return None, None
    lists = {key: config[key] for key in ("metrics", "weighted_metrics") if key in config}
    saved = {}
    for key, metrics in lists.items():
        saved[key] = [m for m in metrics if isinstance(m, (str, dict))]
        for m in metrics:
            if warn and not isinstance(m, (str, dict)):  # a user function: the file holds no code
                warnings.warn(f"Metric {m!r} is not saved (custom functions cannot be stored); "
                              "compile the loaded model again to use it.", stacklevel=5)
    left_out = any(len(saved[key]) < len(lists[key]) for key in lists)
    return {**config, **saved}, lists if left_out else None


@contextlib.contextmanager
def build_errors(path: str) -> Iterator[None]:
    """Any error of building a model from checked fields names the file."""
    try:
        yield
    except ValueError as e:
        if str(e).startswith("Cannot load"):
            raise
        raise fail(path, str(e)) from None
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError,
            RecursionError) as e:  # a field of a type the checks did not foresee
        raise fail(path, f"invalid content ({type(e).__name__}: {e})") from None


def assign_weights(model: Any, weights: List[Any], path: str, skip_mismatch: bool) -> None:
    """``model.set_weights(weights)``; with ``skip_mismatch`` the arrays whose shapes differ
    keep the model's values."""
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built; build it before load_weights().")
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
