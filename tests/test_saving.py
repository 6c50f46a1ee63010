import importlib.util
import json
import os
import time
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp import layers, optimizers, saving

from _mlp_helpers import blobs, classifier

needs_h5py = pytest.mark.skipif(importlib.util.find_spec("h5py") is None,
                                reason="h5py (the optional extra fastmlp[keras]) is not installed")


def test_save_load_predict_is_bit_exact(tmp_path):
    x, y = blobs(n=200)
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                                layers.BatchNormalization(), layers.Dropout(0.2),
                                layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", fastmlp.metrics.AUC()])
    model.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "model.fastmlp")
    model.save(path)
    loaded = fastmlp.models.load_model(path)
    assert np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.dtype == np.float32 and np.array_equal(a, b)
    assert loaded.get_config()["layers"] == model.get_config()["layers"]
    assert loaded.metrics_names == model.metrics_names
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


@pytest.mark.parametrize("name", ["half.fastmlp", pytest.param("half.keras", marks=needs_h5py)])
def test_resume_after_load_continues_identically(tmp_path, name):
    x, y = blobs(n=200)
    uninterrupted = classifier(seed=4)
    uninterrupted.fit(x, y, epochs=4, verbose=0)
    first = classifier(seed=4)
    first.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / name)
    first.save(path)
    resumed = fastmlp.models.load_model(path)
    assert resumed.optimizer.iterations == first.optimizer.iterations
    resumed.fit(x, y, epochs=4, initial_epoch=2, verbose=0)
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, refusal", [
    ("m.fastmlp", "weights-only"), pytest.param("m.weights.h5", "load_weights", marks=needs_h5py)])
def test_save_weights_and_load_weights(tmp_path, name, refusal):
    model = classifier()
    path = str(tmp_path / name)
    model.save_weights(path)
    other = classifier(seed=7)
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=refusal):
        fastmlp.models.load_model(path)
    small = fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="shape"):
        small.load_weights(path)


def test_save_weights_names_the_two_weight_formats(tmp_path):
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5` .* or `\.fastmlp`"):
        classifier().save_weights(str(tmp_path / "w.npz"))
    assert list(tmp_path.iterdir()) == []


def test_schedule_and_optimizer_config_survive(tmp_path):
    model = classifier(optimizer=optimizers.SGD(
        learning_rate=optimizers.schedules.ExponentialDecay(0.1, 10, 0.5), momentum=0.9))
    path = str(tmp_path / "s.fastmlp")
    model.save(path)
    loaded = fastmlp.models.load_model(path)
    assert isinstance(loaded.optimizer, optimizers.SGD) and loaded.optimizer.momentum == 0.9
    assert isinstance(loaded.optimizer._lr, optimizers.schedules.ExponentialDecay)
    uncompiled = fastmlp.models.load_model(path, compile=False)
    assert not uncompiled.compiled


@pytest.mark.parametrize("name", ["m.h5", "m.hdf5", "m.txt", "m"])
def test_file_name_must_say_fastmlp_or_keras(tmp_path, name):
    """Keras's message; fastmlp's own format stands where Keras offers legacy HDF5."""
    with pytest.raises(ValueError, match=r"Invalid filepath extension for saving. .*`\.keras`.*"
                                         r"`\.fastmlp`.*Received: filepath="):
        classifier().save(str(tmp_path / name))
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    model = classifier()
    path = tmp_path / "m.fastmlp"
    model.save(str(path))
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(saving._fastmlp_format, "_entry", boom)
    with pytest.raises(OSError, match="disk full"):
        classifier(seed=3).save(str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.fastmlp"]  # no temporary left behind
    monkeypatch.undo()
    with pytest.raises(FileExistsError):
        model.save(str(path), overwrite=False)


def test_same_model_same_bytes(tmp_path):
    model = classifier()
    model.save(str(tmp_path / "a.fastmlp"))
    model.save(str(tmp_path / "b.fastmlp"))
    assert (tmp_path / "a.fastmlp").read_bytes() == (tmp_path / "b.fastmlp").read_bytes()


def _rewrite(src, dst, edit):
    """Copies archive src to dst, letting edit(name, data) return new (name, data) or None."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            out = edit(info.filename, zin.read(info))
            if out is not None:
                zout.writestr(out[0], out[1])


@pytest.fixture
def saved(tmp_path):
    path = str(tmp_path / "good.fastmlp")
    classifier().save(path)
    return path


def _json_edit(member, change):
    def edit(name, data):
        if name == member:
            obj = json.loads(data)
            change(obj)
            return name, json.dumps(obj).encode()
        return name, data
    return edit


@pytest.mark.parametrize("edit, message", [
    (lambda n, d: (n, d) if n != "fastmlp.json" else None, "missing 'fastmlp.json'"),
    (lambda n, d: (n if n != "arrays/0.bin" else "../evil.bin", d), "unexpected archive member"),
    (lambda n, d: (n if n != "arrays/0.bin" else "/abs.bin", d), "unexpected archive member"),
    (lambda n, d: (n, d[:-4]) if n == "arrays/0.bin" else (n, d), "bytes"),
    (_json_edit("fastmlp.json", lambda h: h.update(format_version=99)), "newer fastmlp"),
    (_json_edit("fastmlp.json", lambda h: h.update(format="pickle")), "not a fastmlp file"),
    (_json_edit("manifest.json", lambda m: m["arrays"][0].update(dtype="|O")),
     "unsupported dtype"),
    (_json_edit("manifest.json", lambda m: m["arrays"][0].update(shape=[10 ** 6, 10 ** 6])),
     "needs"),
    (_json_edit("fastmlp.json", lambda h: h["model_config"]["layers"][1].update(
        class_name="Lambda")), "Unknown layer class"),
    (lambda n, d: (n, b"{not json") if n == "manifest.json" else (n, d), "not valid JSON"),
])
def test_hostile_or_broken_files_are_clear_value_errors(saved, tmp_path, edit, message):
    bad = str(tmp_path / "bad.fastmlp")
    _rewrite(saved, bad, edit)
    with pytest.raises(ValueError, match=message):
        fastmlp.models.load_model(bad)


def test_not_a_zip_and_missing_file(tmp_path):
    path = tmp_path / "x.fastmlp"
    path.write_bytes(b"\x80\x04pickle")
    with pytest.raises(ValueError, match="not a ZIP"):
        fastmlp.models.load_model(str(path))
    with pytest.raises(FileNotFoundError):
        fastmlp.models.load_model(str(tmp_path / "nope.fastmlp"))


def test_declared_size_limit_protects_against_zip_bombs(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(saving._common, "MAX_TOTAL_ARRAY_BYTES", 64)
    with pytest.raises(ValueError, match="limit"):
        fastmlp.models.load_model(saved)


def test_custom_metric_functions_are_left_out_with_a_warning(tmp_path):
    def my_metric(y_true, y_pred):
        return np.zeros(len(y_pred))
    model = classifier(metrics=["accuracy", my_metric])
    path = str(tmp_path / "m.fastmlp")
    with pytest.warns(UserWarning, match="not saved"):
        model.save(path)
    assert fastmlp.models.load_model(path).metrics_names == ["loss", "accuracy"]


def test_a_model_at_the_layer_limit_saves_and_loads_in_linear_time(tmp_path):
    """10,000 layers (Input + 9,999 Dense(1)): ~1 s each way here; loading took 119 s while
    the manifest's arrays were matched quadratically."""
    stack = [fastmlp.Input(shape=(2,))] + [fastmlp.layers.Dense(1) for _ in range(9_999)]
    model = fastmlp.Sequential(stack)
    path = str(tmp_path / "limit.fastmlp")
    started = time.perf_counter()
    model.save(path)
    loaded = fastmlp.models.load_model(path)
    assert time.perf_counter() - started < 30
    x = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
