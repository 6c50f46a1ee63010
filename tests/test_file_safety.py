"""Hostile and damaged model files (issues 7, 16): every one is a clear ValueError naming the file,
nothing is executed, nothing is written. Complements test_saving.py (basic member/manifest edits)
with damage sweeps, real zip bombs, code-execution attempts and wrong-typed or inconsistent
fields; test_file_writes.py covers saving (atomicity, temporaries, modes)."""

import io
import json
import os
import pickle
import re
import time
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp import saving
from fastmlp.models import sequential

from _mlp_helpers import saved_classifier


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.fastmlp"
    model, x = saved_classifier(path)
    return str(path), model.predict(x[:8]), x[:8]


def _load_or_value_error(path):
    """The loaded model, or None when loading raised ValueError (anything else propagates)."""
    try:
        return fastmlp.models.load_model(path)
    except ValueError as e:
        assert "Cannot load" in str(e) or "Unknown" in str(e) or "Invalid" in str(e), str(e)
        return None


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _write(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def _edit_json(members, name, change):
    obj = json.loads(members[name])
    change(obj)
    out = dict(members)
    out[name] = json.dumps(obj).encode()
    return out


# ---- damage ------------------------------------------------------------------------------------
def test_every_truncation_is_a_clear_error(good_file, tmp_path):
    path, _, _ = good_file
    with open(path, "rb") as f:
        data = f.read()
    cut = tmp_path / "cut.fastmlp"
    for length in sorted({0, 1, 4, 22, 100, len(data) // 2, len(data) - 23, len(data) - 1}
                         | set(range(0, len(data), max(1, len(data) // 40)))):
        cut.write_bytes(data[:length])
        with pytest.raises(ValueError, match="Cannot load"):
            fastmlp.models.load_model(str(cut))


def test_a_flipped_bit_anywhere_is_an_error_or_changes_nothing(good_file, tmp_path):
    """CRCs catch flips in the data; flips in ZIP bookkeeping the reader ignores (timestamps,
    attributes) leave the model identical. Never a crash, a hang or a different model."""
    path, expected, x = good_file
    with open(path, "rb") as f:
        data = bytearray(f.read())
    flipped = tmp_path / "flip.fastmlp"
    errors = 0
    positions = range(0, len(data), 13)
    for i in positions:
        data[i] ^= 1 << (i % 8)
        flipped.write_bytes(bytes(data))
        data[i] ^= 1 << (i % 8)
        model = _load_or_value_error(str(flipped))
        if model is None:
            errors += 1
        else:
            np.testing.assert_array_equal(model.predict(x), expected)
    assert errors > 0.8 * len(positions)


def test_wrong_magic_is_not_a_zip(good_file, tmp_path):
    path, _, _ = good_file
    with open(path, "rb") as f:
        data = f.read()
    for head in (b"XX", b"\x89HDF\r\n\x1a\n", b"\x80\x04\x95"):  # garbage, HDF5, pickle
        bad = tmp_path / "magic.fastmlp"
        bad.write_bytes(head + data[len(head):len(head) + 64])
        with pytest.raises(ValueError, match="not a ZIP archive"):
            fastmlp.models.load_model(str(bad))


@pytest.mark.parametrize("version, message", [(0, "invalid format_version 0"),
                                              ("1", "invalid format_version '1'"),
                                              (None, "invalid format_version None"),
                                              (2, "format version 2 by a newer fastmlp")])
def test_wrong_format_version(good_file, tmp_path, version, message):
    members = _edit_json(_members(good_file[0]), "fastmlp.json",
                         lambda h: h.update(format_version=version))
    with pytest.raises(ValueError, match=message):
        fastmlp.models.load_model(_write(tmp_path / "v.fastmlp", members))


def test_a_keras_archive_is_read_as_one_and_its_faults_named(tmp_path):
    """Keras archives load (tests/test_keras_files.py); this one declares no layers."""
    pytest.importorskip("h5py", reason="h5py (the optional extra fastmlp[keras]) is absent")
    members = {"metadata.json": b"{}", "config.json": json.dumps(
        {"module": "keras", "class_name": "Sequential", "config": {}}).encode(),
        "model.weights.h5": b"\x89HDF"}
    with pytest.raises(ValueError, match="config.json: the Sequential config has no 'layers'"):
        fastmlp.models.load_model(_write(tmp_path / "k.keras", members))


# ---- a manifest that lies ---------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (lambda e: e.update(nbytes=e["nbytes"] + 4), "manifest says"),
    (lambda e: e.update(nbytes=-1), "manifest says"),
    (lambda e: e.update(shape=[e["shape"][0] + 1] + e["shape"][1:]), "the archive holds"),
    (lambda e: e.update(shape=[2**40, 2**40]), "invalid shape"),
    (lambda e: e.update(shape=[-1, 8]), "invalid shape"),
    (lambda e: e.update(shape="8x4"), "invalid shape"),
    (lambda e: e.update(path="arrays/1.bin"), "needs"),
    (lambda e: e.update(path="arrays/99.bin"), "missing or invalid member"),
    (lambda e: e.update(path="../arrays/0.bin"), "missing or invalid member"),
    (lambda e: e.update(dtype="<f8"), "unsupported dtype"),
])
def test_manifest_lying_about_arrays(good_file, tmp_path, change, message):
    members = _edit_json(_members(good_file[0]), "manifest.json",
                         lambda m: change(m["arrays"][0]))
    with pytest.raises(ValueError, match=message):
        fastmlp.models.load_model(_write(tmp_path / "m.fastmlp", members))


def test_consistent_arrays_of_the_wrong_shape_for_the_model(good_file, tmp_path):
    members = _members(good_file[0])
    manifest = json.loads(members["manifest.json"])
    entry = manifest["arrays"][1]  # the first bias, (4,)
    entry.update(shape=[2], nbytes=8)
    members[entry["path"]] = members[entry["path"]][:8]
    members["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(ValueError, match=r"declares weight 1 \(dense\w*/bias\) of shape \(4,\), "
                                         r"the file holds shape \(2,\)"):
        fastmlp.models.load_model(_write(tmp_path / "s.fastmlp", members))


def test_declared_member_size_disagreeing_with_the_data(good_file, tmp_path):
    """The central directory says a member is larger than the bytes stored."""
    with open(good_file[0], "rb") as f:
        data = bytearray(f.read())
    with zipfile.ZipFile(good_file[0]) as zf:
        info = zf.getinfo("arrays/0.bin")
    # Patch the uncompressed size (offset 24) of arrays/0.bin's central directory record.
    record = data.find(b"arrays/0.bin", data.find(b"PK\x01\x02")) - 46
    assert data[record:record + 4] == b"PK\x01\x02"
    data[record + 24:record + 28] = (info.file_size * 2).to_bytes(4, "little")
    bad = tmp_path / "size.fastmlp"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="Cannot load"):
        fastmlp.models.load_model(str(bad))


# ---- wrong-typed and inconsistent fields: a ValueError naming the file, found before building --
def _set_array(members, name, array):
    """The members with array ``name`` replaced by ``array`` (manifest updated), or removed."""
    out = dict(members)
    manifest = json.loads(out["manifest.json"])
    entry = next(e for e in manifest["arrays"] if e["name"] == name)
    if array is None:
        manifest["arrays"].remove(entry)
        del out[entry["path"]]
    else:
        array = np.asarray(array)
        entry.update(dtype=array.dtype.str, shape=list(array.shape), nbytes=array.nbytes)
        out[entry["path"]] = array.tobytes()
    out["manifest.json"] = json.dumps(manifest).encode()
    return out


def _header(change):
    return lambda members: _edit_json(members, "fastmlp.json", change)


def _layer(i, **config):
    return _header(lambda h: h["model_config"]["layers"][i]["config"].update(config))


def _field(section, **values):  # section "" is the top level of fastmlp.json
    return _header(lambda h: (h[section] if section else h).update(values))


def _array(name, value):  # value(members) -> the new array, or None to remove it
    return lambda members: _set_array(members, name, value(members))


def _first_values(name, n):
    """The first n values of a stored float32 array (a slot of the wrong size)."""
    def read(members):
        entry = next(e for e in json.loads(members["manifest.json"])["arrays"] if e["name"] == name)
        return np.frombuffer(members[entry["path"]], "<f4")[:n]
    return read


_FIELD_CASES = {
    "training_state_list": (_field("", training_state=[1]), "training_state must be a JSON object"),
    "training_state_str": (_field("", training_state="x"), "training_state must be a JSON object"),
    "epochs_seen_str": (_field("training_state", epochs_seen="3"),
                        "training_state.epochs_seen must be an integer"),
    "training_step_negative": (_field("training_state", training_step=-1),
                               "training_state.training_step must be"),
    "shuffle_seed_bool": (_field("training_state", shuffle_seed=True), "state.shuffle_seed"),
    "format_version_bool": (_field("", format_version=True), "invalid format_version True"),
    "layers_dict": (_field("model_config", layers={}), "no 'layers' list"),
    "model_name_int": (_field("model_config", name=5), "`name`"),
    "model_trainable_str": (_field("model_config", trainable="no"), "trainable must be true"),
    "build_input_shape_str": (_field("model_config", build_input_shape="8"), "build_input_shape"),
    "layer_as_string": (_header(lambda h: h["model_config"]["layers"].__setitem__(1, "Dense")),
                        "layer 1 of model_config: Unknown layer class"),
    "layer_config_list": (_header(lambda h: h["model_config"]["layers"][1].update(
        config=[["units", 4]])), "'config' must be a JSON object"),
    "units_str": (_layer(1, units="4"), "layer 1 of model_config: .*`units`"),
    "units_none": (_layer(1, units=None), "`units`"),
    "units_huge": (_layer(1, units=10**8), r"declares weight 0 \(\w+/kernel\) of shape "
                                           r"\(8, 100000000\), the file holds shape \(8, 4\)"),
    "use_bias_false": (_layer(2, use_bias=False), "declares 3 weight arrays, the file holds 4"),
    "initializer_config_null": (_layer(1, kernel_initializer={
        "class_name": "GlorotUniform", "config": None}), "'config' must be a JSON object"),
    "optimizer_str": (_field("compile_config", optimizer="adam"), "optimizer must be a JSON"),
    "loss_list": (_field("compile_config", loss=[]), "compile_config.loss must be"),
    "metrics_dict": (_field("compile_config", metrics={"a": 1}), "compile_config.metrics must be"),
    "optimizer_config_list": (_header(lambda h: h["compile_config"]["optimizer"].update(
        config=[])), "'config' must be a JSON object"),
    "learning_rate_str": (_header(lambda h: h["compile_config"]["optimizer"]["config"].update(
        learning_rate="0.1")), "learning_rate"),
    "training_input_dtype": (_field("", training_input={
        "dtype": "object", "shape": [8], "min": 0, "max": 1}), "invalid training_input"),
    "training_input_range": (_field("training_input", min=2.0, max=1.0), "invalid training_input"),
    "training_input_shape": (_field("training_input", shape=[9]), "training_input shape"),
    "deep_header": (lambda m: dict(m, **{"fastmlp.json": b"[" * 200_000}),
                    "fastmlp.json nests arrays or objects too deeply"),
    "deep_manifest": (lambda m: dict(m, **{"manifest.json": b"[" * 200_000}), "manifest.json nest"),
    "manifest_path_list": (lambda m: _edit_json(m, "manifest.json", lambda j: j["arrays"][0]
                                                .update(path=["arrays/0.bin"])),
                           "missing or invalid member"),
    "manifest_dtype_dict": (lambda m: _edit_json(m, "manifest.json", lambda j: j["arrays"][0]
                                                 .update(dtype={"<f4": 1})), "unsupported dtype"),
    "weights_as_int64": (_array("weights/1", lambda m: np.zeros(4, "<i8")),
                         r"arrays \['weights/1'\] must be float32"),
    "slot_wrong_size": (_array("optimizer/0", _first_values("optimizer/0", 4)),
                        "optimizer slot 0 has 4 values"),
    "slot_missing": (_array("optimizer/7", lambda m: None),
                     "holds 7 optimizer slots; adam keeps 2 per trainable weight, 8"),
    "slots_for_amsgrad": (_header(lambda h: h["compile_config"]["optimizer"]["config"].update(
        amsgrad=True)), "adam keeps 3 per trainable weight"),
    "iterations_missing": (_array("optimizer/iterations", lambda m: None),
                           "optimizer slots but no optimizer/iterations"),
    "iterations_vector": (_array("optimizer/iterations", lambda m: np.zeros(2, "<i8")),
                          "optimizer/iterations must be a non-negative int64 scalar"),
    "iterations_float": (_array("optimizer/iterations", lambda m: np.float32(3)), "not float32"),
}


@pytest.mark.parametrize("case", sorted(_FIELD_CASES))
def test_wrong_typed_or_inconsistent_fields(good_file, tmp_path, case):
    """Each was an AttributeError/TypeError/RecursionError, a ValueError without the file's
    name, a silent load, or a failure only at the next fit."""
    edit, message = _FIELD_CASES[case]
    path = _write(tmp_path / f"{case}.fastmlp", edit(_members(good_file[0])))
    with pytest.raises(ValueError, match=f"Cannot load {re.escape(repr(path))}: .*{message}"):
        fastmlp.models.load_model(path)


def test_a_small_file_declaring_a_huge_model_allocates_nothing(good_file, tmp_path,
                                                                monkeypatch):
    """Dense(10**8) in a 5 KB file: refused before the core model (3 GB) is built."""
    members = _layer(2, units=10**8)(_members(good_file[0]))
    path = _write(tmp_path / "huge.fastmlp", members)

    def no_build(*args, **kwargs):
        raise AssertionError("the core model was built")
    monkeypatch.setattr(sequential._core, "Model", no_build)
    with pytest.raises(ValueError, match="declares weight 2 .* of shape \\(4, 100000000\\)"):
        fastmlp.models.load_model(path)


def test_more_layers_than_the_limit_are_refused_at_once(good_file, tmp_path):
    """40,000 Dense(1) in a 2.4 MB file kept load_model busy for 56 s (quadratic building)."""
    dense = {"class_name": "Dense", "config": {"units": 1}}
    members = _header(lambda h: h["model_config"]["layers"].__setitem__(
        slice(1, None), [dense] * 40_000))(_members(good_file[0]))
    path = _write(tmp_path / "deep.fastmlp", members)
    started = time.perf_counter()
    with pytest.raises(ValueError, match="declares 40001 layers, more than the limit of 10000"):
        fastmlp.models.load_model(path)
    assert time.perf_counter() - started < 5


def test_many_small_members_cannot_expand_the_file_past_the_ratio(good_file, tmp_path):
    """200 deflated members of 64 KiB of zeros (13 MB from ~60 KB): each within the per-member
    ratio thanks to its 64 KiB allowance, together far beyond it."""
    members = _members(good_file[0])
    manifest = json.loads(members["manifest.json"])
    for k in range(200):
        member = f"arrays/{100 + k}.bin"
        manifest["arrays"].append({"name": f"extra/{k}", "path": member, "dtype": "<f4",
                                   "shape": [16384], "nbytes": 65536})
        members[member] = bytes(65536)
    members["manifest.json"] = json.dumps(manifest).encode()
    path = _write(tmp_path / "spray.fastmlp", members, zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="members declare .* bytes in a file of .* zip bomb"):
        fastmlp.models.load_model(path)


# ---- zip bombs --------------------------------------------------------------------------------
def test_a_real_deflate_bomb_is_refused_before_decompressing(good_file, tmp_path):
    members = _members(good_file[0])
    size = 64 * 1024 * 1024  # 64 MiB of zeros deflate to ~64 KiB
    manifest = json.loads(members["manifest.json"])
    manifest["arrays"][0].update(shape=[size // 4], nbytes=size)
    members["manifest.json"] = json.dumps(manifest).encode()
    path = tmp_path / "bomb.fastmlp"
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if name == "arrays/0.bin":
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as f:
                    chunk = bytes(1 << 20)
                    for _ in range(size >> 20):
                        f.write(chunk)
            else:
                zf.writestr(name, data)
    path.write_bytes(bomb.getvalue())
    assert path.stat().st_size < size // 100
    with pytest.raises(ValueError, match="zip bomb"):
        fastmlp.models.load_model(str(path))


def test_deflated_honest_files_still_load(good_file, tmp_path):
    path, expected, x = good_file
    rezipped = _write(tmp_path / "deflated.fastmlp", _members(path), zipfile.ZIP_DEFLATED)
    np.testing.assert_array_equal(fastmlp.models.load_model(rezipped).predict(x), expected)


def test_too_many_members(good_file, tmp_path, monkeypatch):
    monkeypatch.setattr(saving._common, "MAX_ARRAYS", 2)
    members = _members(good_file[0])
    with pytest.raises(ValueError, match="too many members|no valid 'arrays' list"):
        fastmlp.models.load_model(_write(tmp_path / "many.fastmlp", members))


# ---- member names -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../evil.bin", "arrays/../../evil.bin", "/tmp/evil.bin",
                                  "C:\\evil.bin", "arrays\\0.bin", "arrays/0.bin/../../x",
                                  "./fastmlp.json", "arrays/00000000000.bin"])
def test_member_names_outside_the_archive_are_refused_and_nothing_is_written(
        good_file, tmp_path, name):
    members = _members(good_file[0])
    members[name] = b"\x00" * 4
    target = tmp_path / "inner"
    target.mkdir()
    path = _write(target / "names.fastmlp", members)
    before = sorted(os.walk(tmp_path))
    cwd_before = sorted(os.listdir(os.getcwd()))
    with pytest.raises(ValueError, match="unexpected archive member|Cannot load"):
        fastmlp.models.load_model(path)
    assert sorted(os.walk(tmp_path)) == before
    assert sorted(os.listdir(os.getcwd())) == cwd_before
    assert not os.path.exists("/tmp/evil.bin")


# ---- attempts to run code ---------------------------------------------------------------------
class _Payload:
    """Unpickling this creates the sentinel file: proof that code ran."""

    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def _code_attempts(sentinel):
    pickled = pickle.dumps(_Payload(sentinel))
    layer = {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}

    def with_layer(extra):
        return lambda h: h["model_config"]["layers"].__setitem__(1, dict(layer, **extra))
    return {
        "pickle_member": ("member", "weights.pkl", pickled),
        "pickle_in_array": ("member", "arrays/0.bin", pickled),
        "pickle_as_json": ("member", "fastmlp.json", pickled),
        "lambda_layer": ("header", with_layer({"class_name": "Lambda", "config": {
            "function": "__import__('os').system('touch " + sentinel + "')"}})),
        "module_and_class": ("header", with_layer({"module": "os", "class_name": "system",
                                                   "config": {"command": "touch " + sentinel}})),
        "dunder_import_class": ("header", with_layer({"class_name": "__import__"})),
        "activation_as_code": ("header", with_layer({"config": {
            "units": 3, "activation": "__import__('os').system('touch " + sentinel + "')"}})),
        "initializer_class": ("header", with_layer({"config": {
            "units": 3, "kernel_initializer": {"module": "subprocess", "class_name": "Popen",
                                               "config": {"args": ["touch", sentinel]}}}})),
        "optimizer_class": ("header", lambda h: h["compile_config"]["optimizer"].update(
            class_name="eval", config={"source": "open('" + sentinel + "', 'w')"})),
        "optimizer_kwargs": ("header", lambda h: h["compile_config"]["optimizer"]["config"].update(
            __class__="os.system")),
        "loss_class": ("header", lambda h: h["compile_config"].update(
            loss={"module": "builtins", "class_name": "exec",
                  "config": {"source": "open('" + sentinel + "', 'w')"}})),
        "metric_function": ("header", lambda h: h["compile_config"].update(
            metrics=[{"module": "os", "class_name": "function", "config": "system",
                      "registered_name": "os.system"}])),
    }


@pytest.mark.parametrize("attempt", sorted(_code_attempts("s")))
def test_files_naming_code_are_refused_and_nothing_runs(good_file, tmp_path, attempt):
    sentinel = str(tmp_path / "sentinel")
    kind, *rest = _code_attempts(sentinel)[attempt]
    members = _members(good_file[0])
    if kind == "member":
        members[rest[0]] = rest[1]
    else:
        members = _edit_json(members, "fastmlp.json", rest[0])
    path = _write(tmp_path / "code.fastmlp", members)
    with pytest.raises(ValueError):
        fastmlp.models.load_model(path)
    assert not os.path.exists(sentinel)
    assert sorted(os.listdir(tmp_path)) == ["code.fastmlp"]


def test_custom_objects_are_refused():
    with pytest.raises(ValueError, match="custom_objects"):
        fastmlp.models.load_model("whatever.fastmlp", custom_objects={"f": print})
