"""What every issue-19 layer shares: configs (round trip, JSON, Keras 3 reads them), the
.fastmlp file (bit-identical predictions, training resumes alike), ONNX export checked in
onnxruntime, Reshape and Identity as views, and bad arguments named in the error."""

import json
import os

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

from _layers19_helpers import keras, seeded  # noqa: F401 (autouse fixture)

KWARGS = {
    "ReLU": {"max_value": 2.0, "negative_slope": 0.1, "threshold": 0.2},
    "LeakyReLU": {"negative_slope": 0.05},
    "PReLU": {"alpha_initializer": "random_uniform", "shared_axes": [1]},
    "ELU": {"alpha": 0.7},
    "Softmax": {"axis": [-2, -1]},
    "LayerNormalization": {"axis": -1, "epsilon": 1e-5, "center": False},
    "Normalization": {"axis": -1, "mean": [1.0, 2.0, 3.0, 4.0], "variance": [1.0, 2.0, 3.0, 4.0],
                      "invert": True},
    "GaussianNoise": {"stddev": 0.1, "seed": 3},
    "GaussianDropout": {"rate": 0.2, "seed": 4},
    "AlphaDropout": {"rate": 0.1, "seed": 5},
    "Reshape": {"target_shape": (4, 3)},
    "Identity": {},
}


@pytest.mark.parametrize("name", sorted(KWARGS))
def test_config_round_trip(name):
    layer = getattr(layers, name)(**KWARGS[name], name=f"my_{name.lower()}")
    config = layer.get_config()
    again = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
    assert type(again) is type(layer) and again.get_config() == config
    assert config["name"] == f"my_{name.lower()}"


@pytest.mark.parametrize("name", sorted(KWARGS))
def test_keras_builds_the_same_layer_from_our_config(name):
    k = keras()
    ours = getattr(layers, name)(**KWARGS[name])
    config = ours.get_config()
    theirs = getattr(k.layers, name).from_config(config)
    keras_config = theirs.get_config()
    for key, value in config.items():
        if key in keras_config and key not in ("dtype", "name"):
            mine = list(value) if isinstance(value, tuple) else value
            other = list(keras_config[key]) if isinstance(keras_config[key], tuple) \
                else keras_config[key]
            if isinstance(mine, dict):  # initializers: the same class
                assert mine["class_name"].lower() == other["class_name"].lower()
            else:
                assert mine == other, key


def _all_layers_model():
    norm = layers.Normalization()
    norm.adapt(np.random.default_rng(4).normal(3, 2, size=(50, 12)))
    return fastmlp.Sequential([
        fastmlp.Input((12,)), norm, layers.Dense(12), layers.PReLU(),
        layers.ReLU(max_value=3.0, threshold=0.1), layers.LeakyReLU(), layers.ELU(0.5),
        layers.Reshape((3, 4)), layers.LayerNormalization(), layers.Softmax(),
        layers.PReLU(shared_axes=[1], alpha_initializer="random_uniform"), layers.Identity(),
        layers.GaussianNoise(0.1), layers.Reshape((-1,)), layers.GaussianDropout(0.1),
        layers.AlphaDropout(0.1), layers.Dense(2)])


def _xy(n=64):
    rng = np.random.default_rng(0)
    return (rng.normal(3, 2, size=(n, 12)).astype(np.float32),
            rng.normal(size=(n, 2)).astype(np.float32))


def test_save_load_predicts_bitwise_and_resumes_alike(tmp_path):
    x, y = _xy()
    m = _all_layers_model()
    m.compile(optimizer="adam", loss="mse")
    m.fit(x, y, epochs=2, verbose=0)
    m.save(tmp_path / "m.fastmlp")
    copy = fastmlp.models.load_model(tmp_path / "m.fastmlp")
    assert [type(a) for a in copy.layers] == [type(b) for b in m.layers]
    np.testing.assert_array_equal(copy.predict(x, verbose=0), m.predict(x, verbose=0))
    assert copy.fit(x, y, epochs=2, verbose=0).history == m.fit(x, y, epochs=2, verbose=0).history
    for a, b in zip(copy.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    m.save_weights(tmp_path / "w.fastmlp")
    fresh = fastmlp.Sequential.from_config(m.get_config())
    fresh.load_weights(tmp_path / "w.fastmlp")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), m.predict(x, verbose=0))


def test_from_config_builds_the_same_architecture():
    m = _all_layers_model()
    clone = fastmlp.Sequential.from_config(json.loads(json.dumps(m.get_config())))
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in m.get_weights()]
    assert clone.output_shape == m.output_shape == (None, 2)
    clone.set_weights(m.get_weights())
    x, _ = _xy()
    np.testing.assert_array_equal(clone.predict(x, verbose=0), m.predict(x, verbose=0))


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_onnx_export_matches_predict(tmp_path, opset):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    x, y = _xy()
    m = _all_layers_model()
    m.compile(optimizer="adam", loss="mse")
    m.fit(x, y, epochs=1, verbose=0)
    m.export(str(tmp_path / "m.onnx"), opset=opset)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    np.testing.assert_allclose(session.run(None, {"input": x})[0], m.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


ONNX_LAYERS = {
    "relu_general": lambda: layers.ReLU(max_value=1.0, negative_slope=0.2, threshold=0.3),
    "relu6": lambda: layers.ReLU(max_value=6.0),
    "relu_capped_threshold": lambda: layers.ReLU(max_value=2.0, threshold=0.5),
    "leaky": lambda: layers.LeakyReLU(0.0),
    "elu_negative": lambda: layers.ELU(-0.4),
    "softmax": lambda: layers.Softmax(),
    "layer_norm_rms": lambda: layers.LayerNormalization(rms_scaling=True),
    "layer_norm_plain": lambda: layers.LayerNormalization(center=False, scale=False),
    "normalization_scalar": lambda: layers.Normalization(axis=None, mean=2.0, variance=3.0),
}


@pytest.mark.parametrize("case", sorted(ONNX_LAYERS))
@pytest.mark.parametrize("opset", [13, 18])
def test_onnx_export_of_each_variant(tmp_path, case, opset):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    x, _ = _xy(16)
    with pytest.warns(UserWarning) if case == "layer_norm_rms" else _no_warning():
        layer = ONNX_LAYERS[case]()
    m = fastmlp.Sequential([fastmlp.Input((12,)), layers.Dense(12, bias_initializer="ones"),
                            layer])
    m.export(str(tmp_path / "m.onnx"), opset=opset)
    out = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    np.testing.assert_allclose(out, m.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_onnx_export_of_a_multi_dimensional_input(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    m = fastmlp.Sequential([fastmlp.Input((3, 4)), layers.LayerNormalization(axis=[-2, -1]),
                            layers.PReLU(shared_axes=[2], alpha_initializer="ones"),
                            layers.Softmax(axis=-1), layers.Flatten(), layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(8, 3, 4)).astype(np.float32)
    m.export(str(tmp_path / "m.onnx"))
    out = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    np.testing.assert_allclose(out, m.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


# ---- Reshape and Identity -----------------------------------------------------------------------
def test_reshape_infers_minus_one_and_is_free():
    m = fastmlp.Sequential([fastmlp.Input((12,)), layers.Reshape((-1, 4)),
                            layers.Softmax(), layers.Reshape((12,))])
    assert [layer.compute_output_shape(s) for layer, s in
            zip(m.layers, [(None, 12), (None, 3, 4), (None, 3, 4)])][:2] == \
        [(None, 3, 4), (None, 3, 4)]
    assert m.output_shape == (None, 12)
    x = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    e = np.exp(x.reshape(5, 3, 4) - x.reshape(5, 3, 4).max(-1, keepdims=True))
    np.testing.assert_allclose(m.predict(x, verbose=0),
                               (e / e.sum(-1, keepdims=True)).reshape(5, 12), rtol=1e-6)
    assert m._core.num_layers == 1  # only Softmax reaches the core


def test_identity_is_a_no_op_placeholder():
    m = fastmlp.Sequential([fastmlp.Input((4,)), layers.Identity(), layers.Dense(2),
                            layers.Identity()])
    assert m._core.num_layers == 1 and m.output_shape == (None, 2)
    assert layers.Identity().compute_output_shape((None, 3, 5)) == (None, 3, 5)


def test_reshape_then_dense_needs_a_flatten():
    with pytest.raises(ValueError, match="Flatten"):
        fastmlp.Sequential([fastmlp.Input((12,)), layers.Reshape((3, 4)), layers.Dense(2)])


# ---- bad arguments --------------------------------------------------------------------------
BAD = {
    "relu_max_value_negative": (lambda: layers.ReLU(max_value=-1), ValueError,
                                r"`max_value`.*max_value=-1"),
    "relu_slope_negative": (lambda: layers.ReLU(negative_slope=-0.1), ValueError,
                            r"`negative_slope`.*negative_slope=-0.1"),
    "relu_threshold_str": (lambda: layers.ReLU(threshold="0"), ValueError,
                           r"`threshold`.*threshold='0'"),
    "relu_threshold_none": (lambda: layers.ReLU(threshold=None), ValueError,
                            r"`threshold`.*threshold=None"),
    "leaky_relu_slope_none": (lambda: layers.LeakyReLU(negative_slope=None), ValueError,
                              r"`negative_slope`.*negative_slope=None"),
    "elu_alpha_inf": (lambda: layers.ELU(alpha=float("inf")), ValueError, r"`alpha`.*alpha=inf"),
    "prelu_regularizer": (lambda: layers.PReLU(alpha_regularizer="l2"), ValueError,
                          r"`alpha_regularizer` is not supported.*alpha_regularizer='l2'"),
    "prelu_constraint": (lambda: layers.PReLU(alpha_constraint="non_neg"), ValueError,
                         r"`alpha_constraint`"),
    "prelu_shared_axes_str": (lambda: layers.PReLU(shared_axes="1"), ValueError,
                              r"`shared_axes`.*shared_axes='1'"),
    "prelu_shared_axes_out_of_range": (lambda: fastmlp.Sequential(
        [fastmlp.Input((3, 4)), layers.PReLU(shared_axes=[3])]), ValueError,
        r"out of bounds.*shared_axes=\[3\]"),
    "prelu_shared_batch_axis": (lambda: fastmlp.Sequential(
        [fastmlp.Input((3, 4)), layers.PReLU(shared_axes=[0])]), ValueError, "batch axis"),
    "prelu_initializer_unknown": (lambda: layers.PReLU(alpha_initializer="zeroes"), ValueError,
                                  "Could not interpret initializer"),
    "softmax_axis_float": (lambda: layers.Softmax(axis=1.0), ValueError, r"`axis`.*axis=1.0"),
    "softmax_axis_empty": (lambda: layers.Softmax(axis=[]), ValueError, r"`axis`"),
    "layer_norm_axis_none": (lambda: layers.LayerNormalization(axis=None), TypeError,
                             "argument 'axis'"),
    "layer_norm_center_str": (lambda: layers.LayerNormalization(center="yes"), ValueError,
                              r"`center`.*center='yes'"),
    "layer_norm_unknown_kwarg": (lambda: layers.LayerNormalization(momentum=0.9), TypeError,
                                 "momentum"),
    "normalization_invert_str": (lambda: layers.Normalization(invert="no"), ValueError,
                                 r"`invert`.*invert='no'"),
    "normalization_mean_complex": (lambda: layers.Normalization(mean=1j, variance=1.0),
                                   TypeError, "`mean` must hold real numbers"),
    "gaussian_noise_stddev_above_one": (lambda: layers.GaussianNoise(2.0), ValueError,
                                        r"`stddev`.*stddev=2.0"),
    "gaussian_dropout_rate_str": (lambda: layers.GaussianDropout("0.2"), ValueError,
                                  r"`rate`.*rate='0.2'"),
    "alpha_dropout_noise_shape": (lambda: layers.AlphaDropout(0.1, noise_shape=(1,)),
                                  ValueError, r"`noise_shape` is not supported"),
    "reshape_two_unknown": (lambda: layers.Reshape((-1, -1)), ValueError,
                            r"at most one unknown dimension"),
    "reshape_zero": (lambda: layers.Reshape((0, 3)), ValueError, r"target_shape=\(0, 3\)"),
    "reshape_str": (lambda: layers.Reshape("3x4"), ValueError, r"target_shape='3x4'"),
    "reshape_wrong_size": (lambda: fastmlp.Sequential([fastmlp.Input((12,)),
                                                       layers.Reshape((5, 2))]),
                           ValueError, r"size of the tensor must be unchanged.*\(5, 2\)"),
    "reshape_indivisible": (lambda: fastmlp.Sequential([fastmlp.Input((12,)),
                                                        layers.Reshape((-1, 5))]),
                            ValueError, r"cannot be divided.*\(-1, 5\)"),
    "identity_unknown_kwarg": (lambda: layers.Identity(units=3), TypeError, "units"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_arguments_are_clear_errors(case):
    call, exc, pattern = BAD[case]
    with pytest.raises(exc, match=pattern):
        call()


def test_core_specs_check_their_fields():
    from fastmlp import _core
    for spec, pattern in [
            ({"type": "relu", "negative_slope": -1.0}, "negative_slope"),
            ({"type": "relu", "max_value": float("nan")}, "max_value"),
            ({"type": "softmax", "group": 5}, "group"),
            ({"type": "layer_normalization", "group": 4, "param_shape": [3]}, "param_shape"),
            ({"type": "prelu", "sample_shape": [3, 5], "param_axes": [0], "param_shape": [3]},
             "sample_shape"),
            ({"type": "normalization", "param_axes": [0], "param_shape": [12],
              "mean": [1.0]}, "mean"),
            ({"type": "gaussian_noise", "stddev": -1.0}, "stddev"),
            ({"type": "alpha_dropout", "rate": 1.0}, "rate"),
            ({"type": "elu", "alpha": 1.0, "rate": 0.5}, "unknown key 'rate'")]:
        with pytest.raises(ValueError, match=pattern):
            _core.Model(12, [spec])
    assert os.environ.get("KERAS_BACKEND", "jax")  # the helpers default it for Keras


def test_a_file_whose_config_disagrees_with_its_new_layer_weights_is_refused_before_building(
        tmp_path):
    import zipfile
    m = fastmlp.Sequential([fastmlp.Input((12,)), layers.PReLU(), layers.Dense(2)])
    m.save(tmp_path / "m.fastmlp")
    with zipfile.ZipFile(tmp_path / "m.fastmlp") as z:
        members = {n: z.read(n) for n in z.namelist()}
    header = json.loads(members["fastmlp.json"])
    prelu = [c for c in header["model_config"]["layers"] if c["class_name"] == "PReLU"][0]
    prelu["config"]["shared_axes"] = [1]  # alpha (1,) instead of the stored (12,)
    members["fastmlp.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(tmp_path / "bad.fastmlp", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match=r"declares weight 0 \(p_re_lu\w*/alpha\) of shape "
                                         r"\(1,\), the file holds shape \(12,\)"):
        fastmlp.models.load_model(tmp_path / "bad.fastmlp")


# Keras's own saving reads its variables through np.array(variable), which NumPy 2 warns about.
KERAS_SAVING_WARNING = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@KERAS_SAVING_WARNING
def test_keras_files_round_trip_every_new_layer(tmp_path):
    """fastmlp -> .keras -> Keras 3 -> .keras -> fastmlp, the same predictions."""
    pytest.importorskip("h5py")
    k = keras()
    x, y = _xy()
    m = _all_layers_model()
    m.compile(optimizer="adam", loss="mse")
    m.fit(x, y, epochs=1, verbose=0)
    m.save(tmp_path / "m.keras")
    theirs = k.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), m.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "back.keras")
    back = fastmlp.models.load_model(tmp_path / "back.keras")
    assert [type(a).__name__ for a in back.layers] == [type(b).__name__ for b in m.layers]
    np.testing.assert_allclose(back.predict(x, verbose=0), m.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)


@KERAS_SAVING_WARNING
def test_a_keras_model_with_an_adapted_normalization_loads(tmp_path):
    """Keras stores Normalization's `count` as an int32 variable; LayerNormalization's config
    carries rms_scaling."""
    pytest.importorskip("h5py")
    k = keras()
    x, _ = _xy()
    theirs = k.Sequential([k.Input((12,)), k.layers.Normalization(), k.layers.Dense(4),
                           k.layers.PReLU(), k.layers.LayerNormalization(), k.layers.ELU(),
                           k.layers.Dense(1)])
    theirs.layers[0].adapt(x)
    theirs.save(tmp_path / "k.keras")
    ours = fastmlp.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours.layers[0].get_weights()[0], x.mean(0))
    ours.save_weights(tmp_path / "w.weights.h5")
    theirs.load_weights(tmp_path / "w.weights.h5")
