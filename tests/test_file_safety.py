"""Hostile and damaged model files (issue 7): every one is a clear ValueError, nothing is executed,
nothing is written outside the target, and saving is atomic. Complements test_saving.py (which
covers the basic member/manifest edits) with damage sweeps, real zip bombs, code-execution
attempts and failures at every point of a save."""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp import saving

from _mlp_helpers import blobs, classifier


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.fastmlp"
    model = classifier(hidden=4)
    x, y = blobs(n=64)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(str(path))
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


def test_a_keras_archive_is_refused_by_name(tmp_path):
    members = {"metadata.json": b"{}", "config.json": json.dumps(
        {"module": "keras", "class_name": "Sequential", "config": {}}).encode(),
        "model.weights.h5": b"\x89HDF"}
    with pytest.raises(ValueError, match="unexpected archive member"):
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
    with pytest.raises(ValueError, match=r"Weight 1 has shape \(2,\).*\(4,\)"):
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
    monkeypatch.setattr(saving, "MAX_ARRAYS", 2)
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


# ---- atomic saves -----------------------------------------------------------------------------
def _fail_on_call(n, exc):
    calls = {"n": 0}
    real = saving._entry

    def entry(zf, name, data):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        real(zf, name, data)
    return entry


@pytest.mark.parametrize("n, exc", [(2, OSError("disk full")), (4, KeyboardInterrupt()),
                                    (6, MemoryError()), (1, RuntimeError("first write"))])
def test_a_failure_mid_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, n, exc):
    model = classifier()
    path = tmp_path / "m.fastmlp"
    model.save(str(path))
    before = path.read_bytes()
    monkeypatch.setattr(saving, "_entry", _fail_on_call(n, exc))
    with pytest.raises(type(exc)):
        classifier(seed=5).save(str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.fastmlp"]


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failure_at_commit_keeps_the_old_file(tmp_path, monkeypatch, step):
    model = classifier()
    path = tmp_path / "w.weights.h5"
    model.save_weights(str(path))
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"{step} failed")
    monkeypatch.setattr(saving.os, step, boom)
    with pytest.raises(OSError, match=f"{step} failed"):
        classifier(seed=5).save_weights(str(path))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.weights.h5"]


def test_saving_into_a_missing_directory_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        classifier().save(str(tmp_path / "no" / "such" / "m.fastmlp"))
    assert os.listdir(tmp_path) == []
