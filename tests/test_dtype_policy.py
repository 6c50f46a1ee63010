"""The dtype policy (Keras 3's `keras.config.set_dtype_policy`): the API, what it changes in the
core (Dense products on bf16-rounded operands with float32 sums), and where it is carried (configs,
saved files, summary, ONNX)."""

import os

import numpy as np
import pytest

import fastmlp
from fastmlp import layers
from fastmlp.dtype_policies import DTypePolicy
from fastmlp.export.onnx import _round_to_bfloat16


@pytest.fixture(autouse=True)
def float32_afterwards():
    yield
    fastmlp.config.set_dtype_policy("float32")


def model(policy=None, out_dtype=None, seed=1):
    if policy:
        fastmlp.config.set_dtype_policy(policy)
    init = fastmlp.initializers.GlorotUniform(seed=seed)
    return fastmlp.Sequential([
        fastmlp.Input(shape=(40,)), layers.Dense(33, activation="relu", kernel_initializer=init),
        layers.Dense(5, kernel_initializer=fastmlp.initializers.GlorotUniform(seed=seed + 1),
                     dtype=out_dtype)])


def data(n=64, d=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, 5, size=n)


def test_global_policy_api_and_legacy_aliases():
    assert fastmlp.config.dtype_policy() == DTypePolicy("float32")
    fastmlp.mixed_precision.set_global_policy("mixed_bfloat16")
    p = fastmlp.config.dtype_policy()
    assert (p.name, p.compute_dtype, p.variable_dtype, p.quantization_mode) == \
        ("mixed_bfloat16", "bfloat16", "float32", None)
    assert fastmlp.mixed_precision.global_policy() is p
    assert fastmlp.mixed_precision.Policy is DTypePolicy
    assert repr(p) == '<DTypePolicy "mixed_bfloat16">'
    assert DTypePolicy() == p  # None: the global policy's name, as in Keras
    fastmlp.config.set_dtype_policy(DTypePolicy("float32"))
    assert fastmlp.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("policy, error, match", [
    (3, ValueError, "Invalid `policy` argument.*policy=3"),
    ("mixed_bf16", ValueError, "invalid value for `policy`.*'mixed_bfloat16'"),
    ("mixed_float16", ValueError, "'mixed_float16' is not supported by fastmlp"),
    ("bfloat16", ValueError, "'bfloat16' is not supported by fastmlp"),
])
def test_bad_policies_are_clear_errors(policy, error, match):
    with pytest.raises(error, match=match):
        fastmlp.config.set_dtype_policy(policy)
    assert fastmlp.config.dtype_policy().name == "float32"


def test_layers_take_the_global_policy_when_made_and_dtype_overrides_it():
    before = layers.Dense(3)
    m = model("mixed_bfloat16", out_dtype="float32")
    assert before.dtype_policy.name == "float32"
    dense, out = m.layers
    assert (dense.dtype_policy.name, dense.compute_dtype, dense.dtype) == \
        ("mixed_bfloat16", "bfloat16", "float32")
    assert out.dtype_policy.name == "float32"
    assert layers.Dense(2, dtype=DTypePolicy("mixed_bfloat16")).compute_dtype == "bfloat16"
    assert layers.Dense(2, dtype=np.float32).compute_dtype == "float32"


def test_config_carries_the_policy_in_keras_form():
    m = model("mixed_bfloat16", out_dtype="float32")
    dense_config = m.layers[0].get_config()["dtype"]
    assert dense_config == {"module": "keras", "class_name": "DTypePolicy",
                            "config": {"name": "mixed_bfloat16"}, "registered_name": None}
    fastmlp.config.set_dtype_policy("float32")
    clone = fastmlp.Sequential.from_config(m.get_config())
    assert [layer.dtype_policy.name for layer in clone.layers] == ["mixed_bfloat16", "float32"]
    os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras 3 defaults to TensorFlow
    keras = pytest.importorskip("keras", reason="keras (optional, with the JAX backend) is not "
                                "installed")
    assert keras.dtype_policies.serialize(keras.DTypePolicy("mixed_bfloat16")) == dense_config


def test_saved_files_keep_the_policy_and_the_predictions(tmp_path):
    m = model("mixed_bfloat16")
    x, _ = data()
    fastmlp.config.set_dtype_policy("float32")
    m.save(tmp_path / "m.fastmlp")
    loaded = fastmlp.models.load_model(tmp_path / "m.fastmlp")
    assert [layer.dtype_policy.name for layer in loaded.layers] == ["mixed_bfloat16"] * 2
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), m.predict(x, verbose=0))


def bf16_reference(m, x):
    """The forward pass in float64 on bf16-rounded operands (what mixed_bfloat16 promises)."""
    h = x.astype(np.float64)
    for i, layer in enumerate(m.layers):
        kernel, bias = layer.get_weights()
        a = _round_to_bfloat16(h.astype(np.float32)).astype(np.float64)
        h = a @ _round_to_bfloat16(kernel).astype(np.float64) + bias
        if i == 0:
            h = np.maximum(h, 0.0)
    return h


def test_mixed_bfloat16_dense_computes_on_bf16_rounded_operands():
    x, _ = data()
    m = model("mixed_bfloat16")
    f32 = model("float32")  # the same seeds: the same weights
    ref = bf16_reference(m, x)
    got = m.predict(x, verbose=0)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    # not float32 in disguise: the float32 model is measurably further from the bf16 reference
    plain = f32.predict(x, verbose=0)
    assert np.abs(plain - ref).max() > 10 * np.abs(got - ref).max()
    np.testing.assert_array_equal(m.predict(x[:1], verbose=0), got[:1])  # the one-row path too


def test_mixed_bfloat16_gradients_use_bf16_products():
    x, y = data(n=16)
    m = model("mixed_bfloat16")
    m.compile(optimizer="sgd", loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))
    (k1, b1), (k2, b2) = (layer.get_weights() for layer in m.layers)
    r = lambda a: _round_to_bfloat16(np.asarray(a, np.float32)).astype(np.float64)  # noqa: E731
    z1 = r(x) @ r(k1) + b1
    h = np.maximum(z1, 0.0)
    z2 = r(h) @ r(k2) + b2
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz2 = (p - np.eye(5)[y]) / len(x)
    dk2 = r(h).T @ r(dz2)
    dh = r(dz2) @ r(k2).T
    dz1 = dh * (z1 > 0)
    dk1 = r(x).T @ r(dz1)
    _, grads = m._core.compute_gradients(x, y)
    for got, want in zip(grads, [dk1, dz1.sum(0), dk2, dz2.sum(0)]):
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-6)


def test_mixed_bfloat16_trains_as_well_as_float32():
    rng = np.random.default_rng(3)
    centers = rng.normal(0, 2, size=(5, 40)).astype(np.float32)
    y = rng.integers(0, 5, size=2000)
    x = (centers[y] + rng.normal(0, 1.5, size=(2000, 40))).astype(np.float32)
    scores = {}
    for policy in ("float32", "mixed_bfloat16"):
        fastmlp.utils.set_random_seed(0)
        m = model(policy)
        m.compile(optimizer="adam",
                  loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
        m.fit(x[:1500], y[:1500], epochs=5, batch_size=64, verbose=0)
        scores[policy] = m.evaluate(x[1500:], y[1500:], verbose=0, return_dict=True)["accuracy"]
    assert scores["float32"] > 0.9
    assert abs(scores["mixed_bfloat16"] - scores["float32"]) < 0.02, scores


def test_summary_names_the_policies():
    m = model("mixed_bfloat16", out_dtype="float32")
    lines = []
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Dtype policies: mixed_bfloat16 (" in text and "float32 (" in text
    lines.clear()
    model("float32").summary(print_fn=lines.append)
    assert "Dtype policies" not in "\n".join(lines)


def test_onnx_export_carries_the_bf16_rounding(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    x, _ = data()
    m = model("mixed_bfloat16")
    path = tmp_path / "m.onnx"
    m.export(str(path), format="onnx")
    proto = onnx.load(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, m.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert "Cast" in {node.op_type for node in proto.graph.node}


def test_the_cli_trains_under_the_policy(tmp_path, capsys):
    from fastmlp import cli
    code = cli.main(["train", "--dataset", "fashion_mnist_small", "--epochs", "1", "--verbose",
                     "0", "--dtype-policy", "mixed_bfloat16", "--save",
                     str(tmp_path / "m.fastmlp")])
    assert code == 0
    assert "mixed_bfloat16 (bf16 kernel: " in capsys.readouterr().out
    loaded = fastmlp.models.load_model(tmp_path / "m.fastmlp")
    assert {layer.dtype_policy.name for layer in loaded.layers if layer.weight_names()} == \
        {"mixed_bfloat16"}


KERNEL_SCRIPT = r"""
import sys
import numpy as np
import fastmlp
from fastmlp import layers
fastmlp.config.set_dtype_policy("mixed_bfloat16")
rng = np.random.default_rng(0)
x = rng.normal(size=(300, 70)).astype(np.float32)
m = fastmlp.Sequential([fastmlp.Input(shape=(70,)),
                        layers.Dense(130, activation="relu",
                                     kernel_initializer=fastmlp.initializers.GlorotUniform(seed=1)),
                        layers.Dense(9, kernel_initializer=fastmlp.initializers.GlorotUniform(seed=2))])
print(fastmlp.cpu_info()["bf16_kernel"])
np.save(sys.argv[1], m.predict(x, verbose=0))
"""


@pytest.mark.parametrize("kernel", fastmlp.cpu_info()["supported_bf16_kernels"])
def test_every_bf16_kernel_the_cpu_has_runs_the_policy_alike(kernel, tmp_path):
    # FASTMLP_BF16_KERNEL forces each path down; they differ only in the order of float32 sums
    import subprocess
    import sys
    outs = {}
    for name in ("generic", kernel):
        path = tmp_path / f"{name}.npy"
        proc = subprocess.run([sys.executable, "-c", KERNEL_SCRIPT, str(path)], text=True,
                              capture_output=True, env=dict(os.environ, FASTMLP_BF16_KERNEL=name),
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split()[-1] == name
        outs[name] = np.load(path)
    np.testing.assert_allclose(outs[kernel], outs["generic"], rtol=1e-4, atol=1e-5)
