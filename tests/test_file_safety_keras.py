"""Hostile and damaged Keras 3 files (``.keras`` archives, ``.weights.h5``), the companion of
test_file_safety.py: each is a clear ValueError naming the file (the layer, class or argument
when the file names something fastmlp cannot represent), found before the model is built;
nothing runs, nothing is written."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp.models import sequential

from _mlp_helpers import classifier, saved_classifier

h5py = pytest.importorskip("h5py", reason="h5py (the optional extra fastmlp[keras]) is absent")


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.keras"
    saved_classifier(path)
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    return str(path), members


def _write(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def _config(members, change):
    obj = json.loads(members["config.json"])
    change(obj)
    return {**members, "config.json": json.dumps(obj).encode()}


def _weights(members, change):
    """The archive with its model.weights.h5 edited in place by ``change(h5py.File)``."""
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "a") as f:
        change(f)
    return {**members, "model.weights.h5": buf.getvalue()}


def _refused(tmp_path, members, message, name="bad.keras"):
    path = _write(tmp_path / name, members)
    with pytest.raises(ValueError, match=message) as info:
        fastmlp.models.load_model(path)
    assert f"Cannot load {path!r}" in str(info.value)
    assert sorted(os.listdir(tmp_path)) == [name]


def _layer(i, **config):
    return lambda o: o["config"]["layers"][i]["config"].update(config)


def _replace(name, data=None, **kwargs):
    def change(f):
        del f[name]
        if data is not None or kwargs:
            f.create_dataset(name, data=data, **kwargs)
    return change


_CONFIG_CASES = {
    "lambda": (lambda o: o["config"]["layers"][1].update(class_name="Lambda", config={
        "function": "__import__('os').system('touch x')"}), "Lambda layer, which holds Python "
                                                            "code"),
    "unknown_class": (lambda o: o["config"]["layers"][1].update(class_name="Conv2D"),
                      "layer 1: layer class 'Conv2D' is not one fastmlp has"),
    "custom_layer": (lambda o: o["config"]["layers"][1].update(
        module="my_package.layers", registered_name="my_package>MyDense"),
        "layer 1 is a custom object .*my_package>MyDense"),
    "custom_initializer": (_layer(1, kernel_initializer={
        "module": "subprocess", "class_name": "Popen", "config": {"args": ["touch", "x"]}}),
        "kernel_initializer is a custom object"),
    "custom_activation": (_layer(1, activation={"module": "builtins", "class_name": "eval",
                                                "config": "1", "registered_name": "eval"}),
                          "activation .* is not a Keras built-in"),
    "unknown_activation": (_layer(1, activation="mish"), "Unknown activation"),
    "argument_in_use": (_layer(1, kernel_constraint={
        "module": "keras.constraints", "class_name": "MaxNorm", "config": {}}),
        "`kernel_constraint` is not supported"),
    "keras_argument_on": (_layer(1, quantization_config={"mode": "int8"}),
                          "layer 1 of model_config: Dense: `quantization_config` is supported "
                          "only as Keras's default int8"),
    "mixed_precision": (_layer(1, dtype={"module": "keras", "class_name": "DTypePolicy",
                                         "config": {"name": "mixed_float16"}}),
                        "dtype .* is not float32"),
    "trainable_not_bool": (_layer(1, trainable="no"), "`trainable`.*Received: trainable='no'"),
    "functional": (lambda o: o.update(class_name="Functional"), "a functional model"),
    "subclassed": (lambda o: o.update(module="my_models", class_name="MyModel",
                                      registered_name="my_models>MyModel"),
                   "model of class 'MyModel'.*subclassed model holds code"),
    "no_layers": (lambda o: o["config"].pop("layers"), "no 'layers' list"),
    "layer_not_object": (lambda o: o["config"]["layers"].__setitem__(1, "Dense"),
                         "expected a Keras layer object"),
    "units_wrong_type": (_layer(1, units="4"), "units"),
    "optimizer_class": (lambda o: o["compile_config"]["optimizer"].update(
        class_name="eval", config={"source": "1"}), "optimizer class 'eval' is not one"),
    "loss_function": (lambda o: o["compile_config"].update(loss={
        "module": "my_losses", "class_name": "function", "config": "focal",
        "registered_name": "my_losses>focal"}), "loss is a custom object"),
    "multi_output_loss": (lambda o: o["compile_config"].update(loss=["mse", "mae"]),
                          "one loss per output"),
    "weighted_metric_function": (lambda o: o["compile_config"].update(weighted_metrics=[
        "mae", {"module": "my_metrics", "class_name": "function", "config": "mine",
                "registered_name": "my_metrics>mine"}]), r"weighted_metrics\[1\].*custom object"),
    "weighted_metrics_dict": (lambda o: o["compile_config"].update(weighted_metrics={
        "out": "mae"}), "weighted_metrics must be a list"),
    "huge_layer": (_layer(2, units=10**8), r"has shape \(4, 3\), the model's weight there "
                                           r"has shape \(4, 100000000\)"),
    "too_many_layers": (lambda o: o["config"]["layers"].extend(
        [{"class_name": "Dropout", "config": {"rate": 0.1}}] * 10_001), "more than the limit"),
}


@pytest.mark.parametrize("case", sorted(_CONFIG_CASES))
def test_config_fastmlp_cannot_represent_is_named(good, tmp_path, monkeypatch, case):
    change, message = _CONFIG_CASES[case]

    def no_build(*args, **kwargs):
        raise AssertionError("the core model was built")
    monkeypatch.setattr(sequential._core, "Model", no_build)
    _refused(tmp_path, _config(good[1], change), message)
    assert not os.path.exists("x")


@pytest.mark.parametrize("member, data, message", [
    ("config.json", b"{not json", "config.json is not valid JSON"),
    ("config.json", b"[1, 2]", "config.json must hold a JSON object"),
    ("config.json", b"[" * 100_000 + b"]" * 100_000, "nests .* too deeply|not valid JSON"),
    ("metadata.json", b"\xff\xfe", "metadata.json is not valid JSON"),
    ("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "not a readable HDF5 file"),
    ("model.weights.h5", b"PK\x03\x04", "not a readable HDF5 file"),
])
def test_broken_members(good, tmp_path, member, data, message):
    _refused(tmp_path, {**good[1], member: data}, message)


@pytest.mark.parametrize("extra, message", [
    ("assets/vocabulary.txt", "assets"), ("model.weights.npz", "npz"),
    ("../evil.txt", "unexpected archive member"), ("fastmlp.json", "unexpected archive member")])
def test_members_fastmlp_does_not_read(good, tmp_path, extra, message):
    members = {**good[1], extra: b"{}"}
    if extra == "fastmlp.json":  # fastmlp's own member besides Keras's: read as fastmlp's
        message = "unexpected archive member 'metadata.json'"
    _refused(tmp_path, members, message)


def test_missing_members(good, tmp_path):
    for name, message in (("model.weights.h5", "missing 'model.weights.h5'"),
                          ("config.json", "missing 'config.json'")):
        members = dict(good[1])
        del members[name]
        _refused(tmp_path, members, message, name=f"no-{name}.keras")
        os.remove(tmp_path / f"no-{name}.keras")


_H5_CASES = {
    "wrong_shape": (_replace("layers/dense/vars/0", np.zeros((8, 5), np.float32)),
                    r"layers/dense/vars/0 has shape \(8, 5\)"),
    "float64": (_replace("layers/dense/vars/1", np.zeros(4)), "dtype float64, expected float32"),
    "strings": (_replace("layers/dense/vars/1", np.array([b"ab"] * 4)), "expected numbers"),
    "missing_dataset": (_replace("layers/dense_1/vars/1"),
                        r"layers/dense_1/vars holds 1 arrays; layer '\w+' \(Dense\) has 2"),
    "numbering_gap": (lambda f: f.move("layers/dense_1/vars/1", "layers/dense_1/vars/7"),
                      r"holds \['0', '7'\], expected datasets '0'..'1'"),
    "missing_layer": (_replace("layers/dense_1"), "layers/dense_1/vars holds 0 arrays"),
    "extra_dataset": (lambda f: f["layers/dense/vars"].create_dataset("2", data=[1.0]),
                      "layers/dense/vars holds 3 arrays"),
    "soft_link": (lambda f: (_replace("layers/dense/vars/0")(f), f["layers/dense/vars"]
                             .__setitem__("0", h5py.SoftLink("/layers/dense_1/vars/0"))),
                  "layers/dense/vars/0 is a SoftLink"),
    "external_link": (lambda f: (_replace("layers/dense/vars/0")(f), f["layers/dense/vars"]
                                 .__setitem__("0", h5py.ExternalLink("/etc/passwd", "/x"))),
                      "is a ExternalLink .*links are not allowed"),
    "group_for_dataset": (lambda f: (_replace("layers/dense/vars/0")(f),
                                     f.create_group("layers/dense/vars/0")),
                          "layers/dense/vars/0 is a Group, expected a Dataset"),
    "dataset_for_group": (lambda f: (_replace("layers/dense_1")(f),
                                     f.create_dataset("layers/dense_1", data=[1.0])),
                          "layers/dense_1/vars is a Dataset, expected a Group"),
}


@pytest.mark.parametrize("case", sorted(_H5_CASES))
def test_weights_that_do_not_fit_the_config_are_named(good, tmp_path, case):
    change, message = _H5_CASES[case]
    _refused(tmp_path, _weights(good[1], change), message)


def test_datasets_stored_outside_the_file_are_refused(good, tmp_path):
    def external(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", shape=(8, 4), dtype=np.float32,
                                             external=[("/etc/passwd", 0, 128)])
    _refused(tmp_path, _weights(good[1], external), "keeps its data outside the file")


def test_a_huge_declared_dataset_storing_nothing_is_refused_before_allocating(good, tmp_path,
                                                                              monkeypatch):
    """An HDF5 "shape bomb": 4 x 10**7 float32 (160 MB) of fill values in a few KB, matching a
    config that declares that layer; refused from the bytes stored, before the model is
    built or the dataset read."""
    members = _config(good[1], _layer(1, units=10**7))
    members = _weights(members, _replace("layers/dense/vars/0", shape=(8, 10**7),
                                         dtype=np.float32, chunks=(8, 1024),
                                         compression="gzip", fillvalue=0.5))

    def no_build(*args, **kwargs):
        raise AssertionError("the core model was built")
    monkeypatch.setattr(sequential._core, "Model", no_build)
    assert len(members["model.weights.h5"]) < 100_000
    _refused(tmp_path, members, "layers/dense/vars/0 declares 320000000 bytes but stores")


def test_optimizer_variables_that_do_not_fit_are_skipped_with_a_warning(good, tmp_path):
    wrong = _replace("optimizer/vars/5", np.zeros(3, np.float32))  # a slot of another shape
    path = _write(tmp_path / "opt.keras", _weights(good[1], wrong))
    with pytest.warns(UserWarning, match="Skipping the optimizer state"):
        model = fastmlp.models.load_model(path)
    assert model.compiled and model.optimizer.iterations == 0


def test_every_truncation_is_a_clear_error(good, tmp_path):
    with open(good[0], "rb") as f:
        data = f.read()
    for cut in sorted({1, 22, 100, len(data) // 3, len(data) // 2, len(data) - 200,
                       len(data) - 23, len(data) - 1}):
        path = tmp_path / f"cut{cut}.keras"
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="Cannot load"):
            fastmlp.models.load_model(str(path))


def test_a_deflate_bomb_weights_member_is_refused_before_decompressing(good, tmp_path):
    path = _write(tmp_path / "bomb.keras", {**good[1], "model.weights.h5": b"\0" * 2**26},
                  zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="zip bomb"):
        fastmlp.models.load_model(path)


@pytest.mark.parametrize("change, message", [
    (_replace("layers/dense/vars/0", np.zeros((3, 4), np.float32)), "has shape"),
    (_replace("layers/dense/vars/0", np.zeros((8, 4))), "dtype float64"),
    (lambda f: f["layers/dense/vars"].__setitem__("x", h5py.SoftLink("/vars")),
     "holds \\['0', '1', 'x'\\]"),
])
def test_hostile_weights_h5_files(tmp_path, change, message):
    model = classifier(hidden=4)
    path = tmp_path / "w.weights.h5"
    model.save_weights(str(path))
    with h5py.File(path, "a") as f:
        change(f)
    before = model.get_weights()
    with pytest.raises(ValueError, match=f"Cannot load .*{message}"):
        model.load_weights(str(path))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="not a fastmlp or Keras file"):
        model.load_weights(str(path))
