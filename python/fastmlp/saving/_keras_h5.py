"""Keras 3's weights file (``model.weights.h5`` in a ``.keras`` archive, or a ``.weights.h5``
file), written and read with h5py.

Layout (keras/src/saving/saving_lib.py ``_save_state``): the model's own ``vars`` group; per
layer of ``model.layers``, ``layers/<path>/vars/<i>`` with the layer's weights in
``get_weights()`` order (trainable, then non-trainable), where ``<path>`` is the snake-case
class name made unique by a counter (``dense``, ``dense_1``, ..., whatever the layers are
called; each ``vars`` group has the layer's name as its ``name`` attribute); a compiled
model's optimizer under ``optimizer/vars/<i>`` (see `_keras_optimizer`).

Reading follows only hard links to groups and datasets (no soft or external links, no
external or virtual datasets), checks each dataset's dtype and its shape against the one the
config declares before reading it, and refuses a dataset that declares more bytes than it
stores by more than the ZIP ratio (an HDF5 "shape bomb" of fill values).
"""

from __future__ import annotations

import io
import re
import typing as _typing

import numpy as np

from fastmlp.saving import _common, _keras_optimizer
from fastmlp.saving._common import fail

if _typing.TYPE_CHECKING:
    from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

MAX_VARS_PER_GROUP = 1024  # far more than any layer or optimizer keeps


def to_snake_case(name: str) -> str:
    """keras/src/utils/naming.py's, which names the weights file's groups."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_paths(model_layers: Sequence[Any]) -> Iterator[Tuple[str, Any]]:
    """(group path, layer) for each layer, as Keras's ``_save_container_state`` names them."""
    used: Dict[str, int] = {}
    for layer in model_layers:
        base = to_snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            yield f"layers/{base}_{used[base]}", layer
        else:
            used[base] = 0
            yield f"layers/{base}", layer


# ---- writing ---------------------------------------------------------------------------------
def _vars(f: Any, path: str, name: str, arrays: Sequence[np.ndarray]) -> None:
    group = f.create_group(f"{path}/vars" if path else "vars")
    group.attrs["name"] = name
    for i, a in enumerate(arrays):
        group.create_dataset(str(i), data=a, track_times=False)


def weights_bytes(model: Any, h5py: Any) -> bytes:
    """The weights file of a built model (with its optimizer's state when compiled)."""
    buf = io.BytesIO()
    weights, offset = model.get_weights(), 0
    with h5py.File(buf, "w") as f:
        for path, layer in layer_paths(model.layers):
            n = len(layer.weight_names())
            _vars(f, path, layer.name, weights[offset:offset + n])
            offset += n
        if model.compiled:
            _vars(f, "optimizer", model.optimizer.name, _keras_optimizer.keras_variables(model))
        _vars(f, "", model.name, [])
    return buf.getvalue()


# ---- reading ---------------------------------------------------------------------------------
def open_file(h5py: Any, source: Union[str, bytes], path: str) -> Any:
    try:
        return h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    except (OSError, ValueError) as e:
        raise fail(path, f"the weights are not a readable HDF5 file ({e})") from None


def _child(h5py: Any, group: Any, name: str, kind: type, where: str, path: str) -> Any:
    """``group[name]`` if it is a hard link to a ``kind``; None if absent."""
    link = group.get(name, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise fail(path, f"{where} is a {type(link).__name__} (links are not allowed)")
    obj = group[name]
    if not isinstance(obj, kind):
        raise fail(path, f"{where} is a {type(obj).__name__}, expected a {kind.__name__}")
    return obj


class VarsGroup:
    """The checked ``<path>/vars`` group of a weights file (empty when absent)."""

    def __init__(self, h5py: Any, f: Any, path: str, label: str,
                 parents: Optional[Dict[str, Any]] = None) -> None:
        """``parents`` caches the groups above (``layers``), looked up once for all layers."""
        self.h5py, self.label, self.where = h5py, label, f"{path}/vars" if path else "vars"
        parents = {} if parents is None else parents
        group, prefix = f, ""
        for part in self.where.split("/"):
            prefix = f"{prefix}/{part}"
            if prefix in parents:
                group = parents[prefix]
            else:
                group = _child(h5py, group, part, h5py.Group, self.where, label)
                if prefix == "/layers":
                    parents[prefix] = group
            if group is None:
                break
        self.group = group
        n = 0 if group is None else len(group)
        if n > MAX_VARS_PER_GROUP:
            raise fail(label, f"{self.where} holds {n} objects, more than {MAX_VARS_PER_GROUP}")
        keys = [] if group is None else list(group.keys())
        if sorted(keys) != sorted(str(i) for i in range(n)):
            raise fail(label, f"{self.where} holds {sorted(keys)[:6]}, expected datasets "
                              f"'0'..'{n - 1}'")
        self.size = n
        self.datasets: List[Any] = [self.checked(i) for i in range(n)]

    def checked(self, i: int) -> Any:
        where = f"{self.where}/{i}"
        ds = _child(self.h5py, self.group, str(i), self.h5py.Dataset, where, self.label)
        if ds.external or ds.is_virtual:
            raise fail(self.label, f"{where} keeps its data outside the file (not allowed)")
        if ds.dtype.kind not in "fiu" or ds.dtype.itemsize > 8:
            raise fail(self.label, f"{where} has dtype {ds.dtype}, expected numbers")
        if any(d >= 2**40 for d in ds.shape):
            raise fail(self.label, f"{where} has an invalid shape {ds.shape}")
        return ds

    def described(self) -> List[Tuple[Tuple[int, ...], str]]:
        return [(tuple(ds.shape), ds.dtype.kind) for ds in self.datasets]

    def read(self, i: int, shape: Optional[Tuple[int, ...]] = None,
             kinds: str = "f") -> np.ndarray:
        """Dataset ``i``, checked (shape, dtype kind, bytes stored) before it is read."""
        ds, where = self.datasets[i], f"{self.where}/{i}"
        if shape is not None and tuple(ds.shape) != tuple(shape):
            raise fail(self.label, f"{where} has shape {tuple(ds.shape)}, the model's weight "
                                   f"there has shape {tuple(shape)}")
        if ds.dtype.kind not in kinds or (kinds == "f" and ds.dtype.itemsize != 4):
            raise fail(self.label, f"{where} has dtype {ds.dtype}, expected "
                                   f"{'float32' if kinds == 'f' else 'an integer'}")
        declared = int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize
        stored = ds.id.get_storage_size()
        if declared > _common.MAX_COMPRESSION_RATIO * stored + 65536:
            raise fail(self.label, f"{where} declares {declared} bytes but stores {stored} (a "
                                   "shape bomb?)")
        return np.asarray(ds[()]).astype(ds.dtype.newbyteorder("="), copy=False)


def read_layer_weights(h5py: Any, f: Any, model_layers: Sequence[Any],
                       shapes: Optional[List[Tuple[int, ...]]], label: str,
                       fallback: Optional[List[np.ndarray]] = None) -> List[np.ndarray]:
    """The layers' weights in ``get_weights()`` order, each checked against ``shapes`` (the
    config's or the model's, when known) before it is read. With ``fallback`` (the model's
    weights, for ``skip_mismatch``) a layer whose arrays do not fit keeps its own."""
    out: List[np.ndarray] = []
    total, parents = 0, {}
    for path, layer in layer_paths(model_layers):
        n, first = len(layer.weight_names()), len(out)
        group = VarsGroup(h5py, f, path, label, parents)
        found = [s for s, _ in group.described()]
        wanted = None if shapes is None else [tuple(s) for s in shapes[first:first + n]]
        if fallback is not None and (group.size != n or found != wanted):
            out += fallback[first:first + n]
            continue
        if group.size != n:
            raise fail(label, f"{group.where} holds {group.size} arrays; layer {layer.name!r} "
                              f"({type(layer).__name__}) has {n}")
        names = [name for name, _ in layer.weight_names()]
        for i in range(n):
            want = None if wanted is None else wanted[i]
            total += int(np.prod(want if want is not None else found[i], dtype=np.int64)) * 4
            if total > _common.MAX_TOTAL_ARRAY_BYTES:
                raise fail(label, f"the weights exceed the limit of "
                                  f"{_common.MAX_TOTAL_ARRAY_BYTES} bytes")
            # Normalization's `count` is an integer variable in Keras (unused; kept as float32);
            # a quantized Dense's kernel is int8 (its values checked by set_weights)
            int8 = i == 0 and getattr(layer, "quantization_mode", None) == "int8"
            kinds = "iuf" if names[i] == "count" else "i" if int8 else "f"
            out.append(group.read(i, want, kinds).astype(np.float32, copy=False))
    return out


def read_optimizer(h5py: Any, f: Any, model: Any, label: str) -> Optional[Dict[str, Any]]:
    """The optimizer state for the compiled ``model`` (None when the file has none)."""
    group = VarsGroup(h5py, f, "optimizer", label)
    if group.size == 0:
        return None
    return _keras_optimizer.restore(model, group.described(),
                                    lambda i: group.read(i, None, "iu" if i == 0 else "f"),
                                    label)
