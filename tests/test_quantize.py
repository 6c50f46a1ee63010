"""`model.quantize("int8")` (Keras 3's semantics for Dense, models/_quantize.py): the quantized
kernel and scales against Keras's own, predictions against Keras's int8 model and against the
float model, every int8 kernel the CPU has (FASTMLP_INT8_KERNEL) giving the same bits, save/load
(.fastmlp and .keras, both ways with Keras), summary, fit refused, and bad arguments."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp
from fastmlp import dtype_policies, layers
from fastmlp.models._quantize import abs_max_quantize

KERNELS = fastmlp.cpu_info()["supported_int8_kernels"]
os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras 3 defaults to TensorFlow
# Keras 3.15 reads its variables through np.array(variable), which NumPy 2 warns about.
KERAS_WARNING = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
# Keras's own model.quantize warns about every layer it cannot quantize (the InputLayer).
KERAS_QUANTIZE_WARNING = pytest.mark.filterwarnings(
    "ignore:Layer InputLayer does not have a `quantize` method:UserWarning")


def _model(sizes=(30, 24, 16, 5), seed=0):
    fastmlp.utils.set_random_seed(seed)
    m = fastmlp.Sequential([layers.Input((sizes[0],))] +
                           [layers.Dense(u, activation="relu") for u in sizes[1:-1]] +
                           [layers.Dense(sizes[-1])])
    return m


def _x(n=64, d=30, seed=1):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _reference(model, x):
    """The quantized model by Keras's formulas in NumPy (int64 sums, float32 elsewhere)."""
    h = x
    for layer in model.layers:
        q, b, ks = layer.get_weights()
        hq, hs = abs_max_quantize(h, axis=-1)
        z = (hq.astype(np.int64) @ q.astype(np.int64)).astype(np.float32) / (hs * ks) + b
        h = np.maximum(z, 0) if layer.get_config()["activation"] == "relu" else z
    return h


def test_quantize_gives_keras_kernel_scale_and_policy():
    m = _model()
    floats = m.get_weights()
    m.quantize("int8")
    for i, layer in enumerate(m.layers):
        q, s = abs_max_quantize(floats[2 * i], axis=0)
        kernel, bias, scale = layer.get_weights()
        assert kernel.dtype == np.int8 and np.array_equal(kernel, q)
        assert np.array_equal(scale, s[0]) and np.array_equal(bias, floats[2 * i + 1])
        assert layer.dtype_policy.name == "int8_from_float32"
        assert layer.quantization_mode == "int8" and layer.compute_dtype == "float32"
        assert [(v.name, v.dtype, v.trainable) for v in layer.weights] == \
            [("kernel", "int8", False), ("bias", "float32", True),
             ("kernel_scale", "float32", False)]


def test_predictions_follow_keras_formulas_and_stay_near_the_float_model():
    m, x = _model(), _x()
    before = m.predict(x, verbose=0)
    m.quantize("int8")
    after = m.predict(x, verbose=0)
    ref = _reference(m, x)
    assert np.allclose(after, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    err = np.abs(after - before).max() / np.abs(before).max()
    assert 1e-4 < err < 0.05  # int8 arithmetic, measurably unlike float32, close to it
    assert np.array_equal(m(x[:1]), after[:1]) and np.array_equal(m.predict_on_batch(x), after)
    assert np.array_equal(m(x, training=True), after)


@KERAS_WARNING
@KERAS_QUANTIZE_WARNING
def test_matches_keras_int8_model():
    keras = pytest.importorskip("keras")
    km = keras.Sequential([keras.Input((30,)), keras.layers.Dense(24, activation="relu"),
                           keras.layers.Dense(16, activation="relu"), keras.layers.Dense(5)])
    m = _model()
    m.set_weights(km.get_weights())
    km.quantize("int8")
    m.quantize("int8")
    for kl, fl in zip(km.layers, m.layers):
        kernel, _, scale = fl.get_weights()
        assert np.array_equal(kl._kernel.numpy(), kernel)
        assert np.array_equal(kl.kernel_scale.numpy(), scale)
    x = _x(500)
    want = km.predict(x, verbose=0)
    assert np.allclose(m.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_every_int8_kernel_predicts_the_same_bits(tmp_path):
    m, x = _model((784, 128, 64, 10)), _x(300, 784)
    m.quantize("int8")
    path = tmp_path / "q.fastmlp"
    m.save(path)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import numpy as np, fastmlp, sys
        m = fastmlp.saving.load_model({str(path)!r})
        x = np.load({str(tmp_path / 'x.npy')!r})
        sys.stdout.write(fastmlp.cpu_info()["int8_kernel"] + " ")
        np.save(sys.argv[1], np.concatenate([m.predict(x, verbose=0), m(x[:1]), m(x[:3])]))""")
    outs = []
    for kernel in KERNELS:
        out = tmp_path / f"{kernel}.npy"
        r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True,
                           text=True, timeout=120, env={**os.environ,
                                                        "FASTMLP_INT8_KERNEL": kernel})
        assert r.returncode == 0 and r.stdout.split()[0] == kernel, r.stderr
        outs.append(np.load(out))
    for o in outs[1:]:
        assert np.array_equal(o.view(np.int32), outs[0].view(np.int32))


def test_save_and_load_keep_the_bits(tmp_path):
    m, x = _model(), _x()
    m.quantize("int8")
    m.compile("adam", "mse")
    want = m.predict(x, verbose=0)
    for name in ("q.fastmlp", "q.keras"):
        m.save(tmp_path / name)
        back = fastmlp.saving.load_model(tmp_path / name)
        assert back.layers[0].dtype_policy == dtype_policies.QuantizedDTypePolicy("int8")
        assert np.array_equal(back.predict(x, verbose=0), want)
        assert back.get_weights()[0].dtype == np.int8
    m.save_weights(tmp_path / "q.weights.h5")
    other = _model()
    other.quantize("int8")
    other.load_weights(tmp_path / "q.weights.h5")
    assert np.array_equal(other.predict(x, verbose=0), want)
    # the int8 kernel is stored as bytes: a quarter of the float file's kernel
    floats = _model((784, 128, 10))
    floats.save(tmp_path / "f.fastmlp")
    floats.quantize("int8")
    floats.save(tmp_path / "i.fastmlp")
    assert os.path.getsize(tmp_path / "i.fastmlp") < 0.3 * os.path.getsize(tmp_path / "f.fastmlp")


@KERAS_WARNING
def test_keras_reads_our_file_and_we_read_keras(tmp_path):
    keras = pytest.importorskip("keras")
    m, x = _model(), _x()
    m.quantize("int8")
    m.save(tmp_path / "ours.keras")
    km = keras.saving.load_model(tmp_path / "ours.keras")
    assert km.layers[0].dtype_policy.name == "int8_from_float32"
    want = m.predict(x, verbose=0)
    assert np.allclose(km.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
    km.save(tmp_path / "theirs.keras")
    back = fastmlp.saving.load_model(tmp_path / "theirs.keras")
    assert np.array_equal(back.predict(x, verbose=0), want)


def test_summary_shows_the_policy_and_int8_bytes():
    m = _model((10, 4, 3))
    m.quantize("int8")
    lines = []
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    # as Keras counts: 52 int8 kernel values (1 byte each), 7 biases and 7 scales (4 bytes)
    assert "Total params: 66 (108.00 B)" in text and "Trainable params: 7 (28.00 B)" in text
    assert "Non-trainable params: 59 (80.00 B)" in text
    assert "int8_from_float32" in text


def test_fit_and_train_on_batch_are_refused_evaluate_works():
    m, x = _model(), _x()
    m.quantize("int8")
    m.compile("sgd", "mse")
    y = m.predict(x, verbose=0)
    assert m.evaluate(x, y, verbose=0) == pytest.approx(0.0, abs=1e-12)
    weights = m.get_weights()
    for call in (lambda: m.fit(x, y, verbose=0), lambda: m.train_on_batch(x, y)):
        with pytest.raises(ValueError, match="cannot train a quantized model"):
            call()
    assert all(np.array_equal(a, b) for a, b in zip(weights, m.get_weights()))


def test_filters_choose_the_layers():
    m = _model()
    m.quantize("int8", filters="dense_1$|^x")
    assert [bool(layer.quantization_mode) for layer in m.layers] == [False, True, False] or \
        [layer.name for layer in m.layers if layer.quantization_mode] == \
        [layer.name for layer in m.layers if layer.name.endswith("dense_1")]
    m2 = _model()
    m2.quantize("int8", filters=lambda layer: layer is m2.layers[0])
    assert [bool(layer.quantization_mode) for layer in m2.layers] == [True, False, False]
    m2.layers[2].quantize("int8")
    assert [bool(layer.quantization_mode) for layer in m2.layers] == [True, False, True]


def test_a_fresh_int8_layer_is_keras_quantized_build():
    m = fastmlp.Sequential([layers.Input((4,)), layers.Dense(3, dtype="int8_from_float32")])
    kernel, bias, scale = m.layers[0].get_weights()
    assert not kernel.any() and not bias.any() and np.all(scale == 1)
    assert not m.predict(np.ones((2, 4), np.float32), verbose=0).any()


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m.quantize("int4"), ValueError, "'int4' is not supported"),
    (lambda m: m.quantize("int16"), ValueError, "Invalid quantization mode"),
    (lambda m: m.quantize(None), ValueError, "Invalid quantization mode"),
    (lambda m: m.quantize("int8", config=object()), ValueError, "`config`"),
    (lambda m: m.quantize("int8", filters=3), ValueError, "`filters` argument"),
    (lambda m: m.quantize("int8", bogus=1), ValueError, "Unrecognized keyword"),
    (lambda m: (m.quantize("int8"), m.quantize("int8")), ValueError, "already quantized"),
    (lambda m: (m.quantize("int8"), m.layers[0].set_weights(
        [np.full((30, 24), 0.5, np.float32), np.zeros(24), np.ones(24)])), ValueError,
     "expected int8 values"),
    (lambda m: (m.quantize("int8"), m.layers[0].set_weights(
        [np.full((30, 24), 200.0, np.float32), np.zeros(24), np.ones(24)])), ValueError,
     "expected int8 values"),
    (lambda m: (m.quantize("int8"), m.layers[0].set_weights(
        [np.zeros((30, 24), np.int8), np.zeros(24), np.zeros(24)])), ValueError,
     "kernel_scale"),
])
def test_bad_arguments_are_clear_errors(call, error, match):
    m = _model()
    with pytest.raises(error, match=match):
        call(m)


def test_unbuilt_models_and_other_layers_are_refused():
    with pytest.raises(ValueError, match="isn't yet built"):
        fastmlp.Sequential([layers.Dense(3)]).quantize("int8")
    with pytest.raises(ValueError, match="for quantized Dense layers only"):
        layers.Dropout(0.1, dtype="int8_from_float32")
    with pytest.raises(ValueError, match="'int4_from_float32' is not supported"):
        layers.Dense(3, dtype="int4_from_float32")
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        fastmlp.Sequential([layers.Input((3,)),
                            layers.Dense(2, dtype="mixed_bfloat16")]).quantize("int8")
    with pytest.raises(ValueError, match="quantization_config"):
        layers.Dense(3, quantization_config={"class_name": "Int4QuantizationConfig"})


def test_policy_serialization_is_keras():
    p = dtype_policies.get("int8_from_float32")
    assert isinstance(p, dtype_policies.QuantizedDTypePolicy) and p.quantization_mode == "int8"
    s = dtype_policies.serialize(p)
    assert s == {"module": "keras.dtype_policies", "class_name": "QuantizedDTypePolicy",
                 "config": {"mode": "int8", "source_name": "float32"}, "registered_name": None}
    assert dtype_policies.deserialize(s) == p and repr(p) == \
        '<QuantizedDTypePolicy "int8_from_float32">'


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_onnx_export_runs_in_onnxruntime(tmp_path, opset):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    m, x = _model(), _x(200)
    m.quantize("int8")
    m.export(tmp_path / "q.onnx", opset=opset)
    session = ort.InferenceSession(str(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    ops = {n.op_type for n in __import__("onnx").load(tmp_path / "q.onnx").graph.node}
    assert {"MatMulInteger", "Round", "Clip"} <= ops and "MatMul" not in ops
    want = m.predict(x, verbose=0)
    assert np.allclose(got, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())


def test_cli_predict_quantize(tmp_path):
    m, x = _model(), _x()
    m.save(tmp_path / "f.fastmlp")
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    from fastmlp import cli
    assert cli.main(["predict", str(tmp_path / "f.fastmlp"), str(tmp_path / "x.npy"), "-o",
                     str(out), "--quantize", "int8"]) == 0
    m.quantize("int8")
    assert np.array_equal(np.load(out), m.predict(x, verbose=0))
    m.save(tmp_path / "q.fastmlp")  # already quantized: --quantize changes nothing
    assert cli.main(["predict", str(tmp_path / "q.fastmlp"), str(tmp_path / "x.npy"), "-o",
                     str(out), "--quantize", "int8"]) == 0
    assert np.array_equal(np.load(out), m.predict(x, verbose=0))
    with pytest.raises(SystemExit):
        cli.main(["predict", str(tmp_path / "q.fastmlp"), str(tmp_path / "x.npy"),
                  "--quantize", "int4"])
