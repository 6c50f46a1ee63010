"""Activations of fastmlp._core against float64 NumPy transcriptions, finite differences and
(when installed) torch.nn.functional with autograd."""
import math

import numpy as np
import pytest

from fastmlp import _core

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
ERF = np.vectorize(math.erf)


def reference(name, x, param=0.0):
    """float64 transcriptions of the Keras 3 definitions."""
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "leaky_relu":
        return np.where(x > 0, x, (param or 0.2) * x)
    if name == "elu":
        return np.where(x > 0, x, (param or 1.0) * np.expm1(np.minimum(x, 0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    if name == "gelu":
        return 0.5 * x * (1 + ERF(x / math.sqrt(2)))
    if name == "gelu_tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "hard_sigmoid":
        return np.clip(x + 3, 0, 6) / 6
    if name == "tanh":
        return np.tanh(x)
    if name == "softplus":
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    if name in ("silu", "swish"):
        return x / (1 + np.exp(-x))
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise AssertionError(name)


ELEMENTWISE = ["linear", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "sigmoid",
               "hard_sigmoid", "tanh", "softplus", "silu", "swish"]


def grid():
    # Points away from the kinks (0 for relu-likes, +-3 for hard_sigmoid).
    return (np.linspace(-8, 8, 401) + 0.0137).astype(np.float32)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_matches_float64_reference(name):
    x = grid()
    y = _core.activation_forward(name, x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, reference(name, x.astype(np.float64)), rtol=3e-6, atol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_backward_matches_central_differences(name):
    x = grid()
    g = np.linspace(0.5, 1.5, x.size).astype(np.float32)
    got = _core.activation_backward(name, x, g)
    x64 = x.astype(np.float64)
    h = 1e-6
    fd = (reference(name, x64 + h) - reference(name, x64 - h)) / (2 * h)
    np.testing.assert_allclose(got, g * fd, rtol=2e-5, atol=5e-7)


@pytest.mark.parametrize("name,param", [("leaky_relu", 0.05), ("elu", 0.5)])
def test_parameters_are_used(name, param):
    x = grid()
    np.testing.assert_allclose(_core.activation_forward(name, x, param),
                               reference(name, x.astype(np.float64), param), rtol=3e-6, atol=1e-9)


def test_keras_defaults_for_parameters():
    x = np.array([-1.0], np.float32)
    assert _core.activation_forward("leaky_relu", x)[0] == pytest.approx(-0.2)
    assert _core.activation_forward("elu", x)[0] == pytest.approx(math.expm1(-1.0), rel=1e-6)


def test_softmax_rows_of_a_3d_array():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 3, 5)) * 4).astype(np.float32)
    y = _core.activation_forward("softmax", x)
    np.testing.assert_allclose(y, reference("softmax", x.astype(np.float64)), rtol=2e-6)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)
    g = rng.standard_normal(x.shape).astype(np.float32)
    got = _core.activation_backward("softmax", x, g)
    s = reference("softmax", x.astype(np.float64))
    expect = s * (g - (g * s).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_extreme_inputs_stay_finite(name):
    x = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], np.float32)
    y = _core.activation_forward(name, x)
    g = _core.activation_backward(name, x, np.ones_like(x))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))
    limits = {"sigmoid": (0.0, 1.0), "softplus": (0.0, 1e4), "tanh": (-1.0, 1.0), "relu": (0.0, 1e4)}
    if name in limits:
        assert (y[0, 0], y[0, -1]) == limits[name]


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="valid names: .*gelu_tanh"):
        _core.activation_forward("relu7", np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="leaky_relu"):
        _core.activation_forward("leaky_relu", np.zeros(3, np.float32), -1.0)


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="shape"):
        _core.activation_backward("relu", np.zeros(3, np.float32), np.zeros(4, np.float32))


TORCH = {
    "relu": lambda F, t: F.relu(t),
    "leaky_relu": lambda F, t: F.leaky_relu(t, 0.2),
    "elu": lambda F, t: F.elu(t),
    "selu": lambda F, t: F.selu(t),
    "gelu": lambda F, t: F.gelu(t),
    "gelu_tanh": lambda F, t: F.gelu(t, approximate="tanh"),
    "sigmoid": lambda F, t: F.sigmoid(t),
    "hard_sigmoid": lambda F, t: F.hardsigmoid(t),
    "tanh": lambda F, t: F.tanh(t),
    "softplus": lambda F, t: F.softplus(t, threshold=50),
    "silu": lambda F, t: F.silu(t),
    "softmax": lambda F, t: F.softmax(t, dim=-1),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_matches_torch_autograd(name):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = grid().reshape(1, -1)[:, ::4].copy()
    g = np.cos(np.arange(x.size, dtype=np.float32)).reshape(x.shape)
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = TORCH[name](F, t)
    out.backward(torch.tensor(g, dtype=torch.float64))
    np.testing.assert_allclose(_core.activation_forward(name, x), out.detach().numpy(), rtol=3e-6, atol=1e-9)
    np.testing.assert_allclose(_core.activation_backward(name, x, g), t.grad.numpy(), rtol=2e-5, atol=5e-7)
