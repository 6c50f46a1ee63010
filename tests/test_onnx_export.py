"""ONNX export: onnxruntime output vs a float64 NumPy forward pass of the same specs/weights."""

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the `onnx` extra")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime")

from fastmlp.export import export_onnx  # noqa: E402
from fastmlp.export.onnx import SUPPORTED_ACTIVATIONS  # noqa: E402

# ---------------------------------------------------------------- float64 reference forward pass


def _erf(x):
    return np.vectorize(math.erf)(x)


def ref_activation(name, x, param=0.0):
    param = param or {"leaky_relu": 0.2, "elu": 1.0}.get(name, 0.0)  # the core's convention
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "leaky_relu":
        return np.where(x >= 0, x, param * x)
    if name == "elu":
        return np.where(x > 0, x, param * (np.exp(x) - 1.0))
    if name == "selu":
        a, s = 1.6732632423543772, 1.0507009873554805
        return s * np.where(x > 0, x, a * (np.exp(x) - 1.0))
    if name == "gelu":
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    if name == "gelu_tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    if name == "sigmoid":
        return sig(x)
    if name == "hard_sigmoid":
        return np.clip(x + 3.0, 0.0, 6.0) / 6.0
    if name == "tanh":
        return np.tanh(x)
    if name == "softplus":
        return np.logaddexp(0.0, x)
    if name in ("silu", "swish"):
        return x * sig(x)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise AssertionError(name)


def ref_forward(x, specs, weights):
    x = np.asarray(x, dtype=np.float64)
    w = [np.asarray(a, dtype=np.float64) for a in weights]
    pos = 0
    for spec in specs:
        kind = spec["type"]
        if kind == "dense":
            x = x @ w[pos]
            pos += 1
            if spec.get("use_bias", True):
                x = x + w[pos]
                pos += 1
            x = ref_activation(spec.get("activation", "linear"), x, spec.get("activation_param", 0))
        elif kind == "activation":
            x = ref_activation(spec["activation"], x, spec.get("activation_param", 0.0))
        elif kind == "batch_normalization":
            gamma = beta = None
            if spec.get("scale", True):
                gamma, pos = w[pos], pos + 1
            if spec.get("center", True):
                beta, pos = w[pos], pos + 1
            mean, var, pos = w[pos], w[pos + 1], pos + 2
            x = (x - mean) / np.sqrt(var + spec.get("epsilon", 1e-3))
            x = x * gamma if gamma is not None else x
            x = x + beta if beta is not None else x
        elif kind == "rescaling":
            x = x * spec.get("scale", 1.0) + spec.get("offset", 0.0)
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif kind == "dropout":
            pass
        else:
            raise AssertionError(kind)
    assert pos == len(w)
    return x


# ---------------------------------------------------------------- helpers


def random_weights(input_dim, specs, rng):
    """Weights in get_weights() order with realistic magnitudes (positive variances)."""
    weights, width = [], input_dim
    for spec in specs:
        if spec["type"] == "dense":
            units = spec["units"]
            weights.append(rng.normal(0, 1 / math.sqrt(width), (width, units)).astype(np.float32))
            if spec.get("use_bias", True):
                weights.append(rng.normal(0, 0.3, units).astype(np.float32))
            width = units
        elif spec["type"] == "batch_normalization":
            if spec.get("scale", True):
                weights.append(rng.uniform(0.5, 1.5, width).astype(np.float32))
            if spec.get("center", True):
                weights.append(rng.normal(0, 0.3, width).astype(np.float32))
            weights.append(rng.normal(0, 0.5, width).astype(np.float32))
            weights.append(rng.uniform(0.3, 2.0, width).astype(np.float32))
    return weights


def run_onnx(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"input": np.asarray(x, dtype=np.float32)})
    return out


def check_export(tmp_path, input_shape, specs, seed=0, opset=17, batch=(1, 7), **kw):
    rng = np.random.default_rng(seed)
    flat = int(np.prod(input_shape))
    weights = random_weights(flat, specs, rng)
    path = tmp_path / "model.onnx"
    model = export_onnx(path, input_shape, specs, weights, opset=opset, **kw)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    for n in batch:  # the batch dimension is dynamic
        x = rng.normal(0, 1.5, (n, *((input_shape,) if isinstance(input_shape, int)
                                     else input_shape))).astype(np.float32)
        got = run_onnx(path, x)
        want = ref_forward(x, specs, weights)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    return model


def dense(units, activation="linear", param=0.0, use_bias=True):
    return {"type": "dense", "units": units, "activation": activation, "activation_param": param,
            "use_bias": use_bias}


ACT_PARAMS = {"leaky_relu": 0.2, "elu": 1.0}
ACT_CASES = [(a, ACT_PARAMS.get(a, 0.0)) for a in SUPPORTED_ACTIVATIONS] + [
    ("leaky_relu", 0.05), ("elu", 0.5)]

# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("act,param", ACT_CASES)
def test_every_activation_in_dense_matches_reference(tmp_path, act, param, opset):
    check_export(tmp_path, 6, [dense(9, act, param), dense(4)], opset=opset)


@pytest.mark.parametrize("act,param", ACT_CASES)
def test_every_activation_as_layer_matches_reference(tmp_path, act, param):
    specs = [dense(5), {"type": "activation", "activation": act, "activation_param": param}]
    check_export(tmp_path, 3, specs)


@pytest.mark.parametrize("act,default", [("leaky_relu", 0.2), ("elu", 1.0)])
def test_zero_param_selects_keras_default_as_the_core_does(tmp_path, act, default):
    model = check_export(tmp_path, 3, [dense(4, act, 0.0)])
    (node,) = [n for n in model.graph.node if n.op_type in ("LeakyRelu", "Elu")]
    assert node.attribute[0].f == pytest.approx(default)


def test_gelu_uses_native_op_only_from_opset_20(tmp_path):
    m17 = check_export(tmp_path, 4, [dense(3, "gelu")], opset=17)
    m20 = check_export(tmp_path, 4, [dense(3, "gelu_tanh")], opset=20)
    assert "Gelu" not in {n.op_type for n in m17.graph.node}
    assert "Erf" in {n.op_type for n in m17.graph.node}
    assert "Gelu" in {n.op_type for n in m20.graph.node}


def test_dropout_is_omitted(tmp_path):
    specs = [dense(8, "relu"), {"type": "dropout", "rate": 0.5, "seed": 3}, dense(2, "softmax")]
    model = check_export(tmp_path, 5, specs)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add", "Relu", "MatMul", "Add",
                                                     "Softmax"]


def test_batchnorm_after_linear_dense_is_folded_into_matmul(tmp_path):
    specs = [dense(8), {"type": "batch_normalization", "epsilon": 1e-3},
             {"type": "activation", "activation": "relu"}, dense(3)]
    model = check_export(tmp_path, 5, specs)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add", "Relu", "MatMul", "Add"]


def test_batchnorm_folds_into_dense_without_bias(tmp_path):
    specs = [dense(6, use_bias=False), {"type": "batch_normalization", "epsilon": 1e-5}]
    model = check_export(tmp_path, 4, specs)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add"]


@pytest.mark.parametrize("scale,center", [(True, True), (False, True), (True, False),
                                          (False, False)])
def test_batchnorm_after_nonlinearity_is_mul_add(tmp_path, scale, center):
    specs = [dense(7, "tanh"), {"type": "batch_normalization", "epsilon": 1e-3, "scale": scale,
                                "center": center}, dense(2)]
    model = check_export(tmp_path, 4, specs)
    assert [n.op_type for n in model.graph.node][2:5] == ["Tanh", "Mul", "Add"]


def test_batchnorm_unfolded_on_request(tmp_path):
    specs = [dense(6), {"type": "batch_normalization", "epsilon": 1e-3}]
    model = check_export(tmp_path, 4, specs, fold_batchnorm=False)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add", "Mul", "Add"]


def test_batchnorm_on_the_input(tmp_path):
    check_export(tmp_path, 5, [{"type": "batch_normalization", "epsilon": 1e-3}, dense(3)])


@pytest.mark.parametrize("scale,offset", [(1 / 255, 0.0), (2.0, -1.0), (1.0, 0.5)])
def test_rescaling(tmp_path, scale, offset):
    check_export(tmp_path, 4, [{"type": "rescaling", "scale": scale, "offset": offset},
                               dense(3, "relu")])


def test_image_input_with_flatten(tmp_path):
    specs = [{"type": "rescaling", "scale": 1 / 255, "offset": 0.0}, {"type": "flatten"},
             dense(16, "relu"), dense(10, "softmax")]
    model = check_export(tmp_path, (28, 28), specs)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 28, 28]
    out_dims = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in out_dims] == ["batch", 10]


def test_deep_mixed_model(tmp_path):
    specs = [{"type": "rescaling", "scale": 0.5, "offset": 0.1}, dense(12, "selu"),
             {"type": "batch_normalization", "epsilon": 1e-3}, {"type": "dropout", "rate": 0.2},
             dense(10, "gelu"), dense(8, use_bias=False), {"type": "batch_normalization",
                                                          "epsilon": 1e-3, "scale": False},
             {"type": "activation", "activation": "silu"}, dense(3, "sigmoid")]
    check_export(tmp_path, 6, specs, batch=(1, 2, 33))


def test_returns_model_without_writing_when_path_is_none(tmp_path):
    w = [np.eye(3, dtype=np.float32), np.zeros(3, np.float32)]
    model = export_onnx(None, 3, [dense(3)], w, input_name="x", output_name="y")
    assert model.graph.input[0].name == "x" and model.graph.output[0].name == "y"
    assert not list(tmp_path.iterdir())


def test_empty_model_is_identity(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    export_onnx(tmp_path / "m.onnx", 3, [{"type": "dropout", "rate": 0.1}], [])
    np.testing.assert_array_equal(run_onnx(tmp_path / "m.onnx", x), x)


def test_linear_tail_keeps_output_name(tmp_path):
    specs = [dense(4, "relu"), {"type": "activation", "activation": "linear"},
             {"type": "rescaling", "scale": 1.0, "offset": 0.0}]
    model = check_export(tmp_path, 3, specs)
    assert model.graph.output[0].name == "output"


# ---------------------------------------------------------------- errors name the problem


def test_wrong_weight_shape_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"weights\[0\].*\(4, 3\).*\(3, 3\)"):
        export_onnx(None, 3, [dense(3)], [np.zeros((4, 3)), np.zeros(3)])


def test_missing_and_extra_weights(tmp_path):
    with pytest.raises(ValueError, match="too few"):
        export_onnx(None, 3, [dense(3)], [np.zeros((3, 3))])
    with pytest.raises(ValueError, match="3 arrays given but the layers use 2"):
        export_onnx(None, 3, [dense(3)], [np.zeros((3, 3)), np.zeros(3), np.zeros(3)])


def test_unknown_activation_and_layer(tmp_path):
    with pytest.raises(ValueError, match="'mish'.*supported are"):
        export_onnx(None, 3, [dense(3, "mish")], [np.zeros((3, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match="layer 0.*'conv2d'"):
        export_onnx(None, 3, [{"type": "conv2d"}], [])


@pytest.mark.parametrize("opset", [12, 10_000, "17"])
def test_bad_opset(opset):
    with pytest.raises(ValueError, match="opset"):
        export_onnx(None, 3, [], [], opset=opset)


@pytest.mark.parametrize("bad", [0, (28, 0), "784", (2.5,)])
def test_bad_input_dim(bad):
    with pytest.raises(ValueError, match="input_dim"):
        export_onnx(None, bad, [], [])


def test_dense_on_image_without_flatten_is_rejected():
    with pytest.raises(ValueError, match="Flatten"):
        export_onnx(None, (4, 4), [dense(3)], [np.zeros((16, 3)), np.zeros(3)])


# ---------------------------------------------------------------- Sequential.export vs predict


def _sequential(sample_shape, layer_list, seed=0):
    import fastmlp
    from fastmlp import layers

    model = fastmlp.Sequential([layers.Input(shape=sample_shape), *layer_list])
    rng = np.random.default_rng(seed)
    # Random weights, with BatchNormalization statistics far from their initial (0, 1).
    weights = []
    for w in model.get_weights():
        if w.ndim == 2:
            weights.append(rng.normal(0, 1 / math.sqrt(w.shape[0]), w.shape))
        else:
            weights.append(rng.uniform(0.4, 1.6, w.shape))
    model.set_weights([w.astype(np.float32) for w in weights])
    return model


def _check_sequential(tmp_path, model, sample_shape, **kw):
    path = tmp_path / "seq.onnx"
    assert model.export(str(path), **kw) is None  # as Keras; it returned the ModelProto
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    rng = np.random.default_rng(1)
    for n in (1, 9):
        x = rng.normal(0, 1.5, (n, *sample_shape)).astype(np.float32)
        np.testing.assert_allclose(run_onnx(path, x), model.predict(x, verbose=0), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("act", ["linear", "relu", "leaky_relu", "elu", "selu", "gelu",
                                 "gelu_tanh", "sigmoid", "hard_sigmoid", "tanh", "softplus",
                                 "silu", "swish", "softmax"])
def test_sequential_export_matches_predict_for_every_activation(tmp_path, act):
    from fastmlp import layers

    model = _sequential((6,), [layers.Dense(9, activation=act), layers.Dense(5),
                               layers.Activation(act)])
    _check_sequential(tmp_path, model, (6,))


@pytest.mark.parametrize("opset", [17, 20])
def test_sequential_export_every_layer_type(tmp_path, opset):
    from fastmlp import layers

    model = _sequential((12, 12), [
        layers.Rescaling(1 / 4.0, offset=0.5), layers.Flatten(),
        layers.Dense(32, activation="relu"), layers.Dropout(0.5),
        layers.Dense(16), layers.BatchNormalization(), layers.Activation("gelu"),
        layers.BatchNormalization(center=False), layers.Dense(10, activation="softmax")])
    _check_sequential(tmp_path, model, (12, 12), opset=opset)


def test_sequential_export_rejects_unknown_format_and_unbuilt(tmp_path):
    import fastmlp
    from fastmlp import layers

    model = _sequential((3,), [layers.Dense(2)])
    with pytest.raises(ValueError, match="`format`"):
        model.export(str(tmp_path / "m"), format="tf_saved_model")
    with pytest.raises(ValueError, match="built"):
        fastmlp.Sequential([layers.Dense(2)]).export(str(tmp_path / "m.onnx"))
