"""Dense layers inside `_core.Model`: forward and gradients for every activation, with and without
bias, with L1/L2 regularization, against a float64 NumPy reference and PyTorch autograd."""

import numpy as np
import pytest

from _core_helpers import dense
from fastmlp import _core

ACTIVATIONS = ["linear", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "sigmoid",
               "hard_sigmoid", "tanh", "softplus", "silu", "softmax"]
MSE = {"name": "mean_squared_error"}
SGD = {"name": "sgd", "learning_rate": 0.1}


def problem(n=6, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, k)).astype(np.float32)


def torch_activation(torch, name):
    f = torch.nn.functional
    return {"linear": lambda z: z, "relu": f.relu, "leaky_relu": lambda z: f.leaky_relu(z, 0.2),
            "elu": f.elu, "selu": f.selu, "gelu": f.gelu,
            "gelu_tanh": lambda z: f.gelu(z, approximate="tanh"), "sigmoid": torch.sigmoid,
            "hard_sigmoid": f.hardsigmoid, "tanh": torch.tanh, "softplus": f.softplus,
            "silu": f.silu, "softmax": lambda z: torch.softmax(z, dim=1)}[name]


def torch_loss_and_grads(torch, weights, x, y, acts, use_bias, l1=0.0, l2=0.0):
    """The same two-layer network and MSE loss in float64 torch; gradients in Keras order."""
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    h = torch.tensor(x, dtype=torch.float64)
    i = 0
    penalty = 0.0
    for act in acts:
        kernel = params[i]
        h = h @ kernel
        penalty = penalty + l1 * kernel.abs().sum() + l2 * (kernel ** 2).sum()
        if use_bias:
            h = h + params[i + 1]
            penalty = penalty + l1 * params[i + 1].abs().sum() + l2 * (params[i + 1] ** 2).sum()
        h = torch_activation(torch, act)(h)
        i += 2 if use_bias else 1
    loss = ((h - torch.tensor(y, dtype=torch.float64)) ** 2).mean() + penalty
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in params]


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradients_match_torch(activation, use_bias):
    torch = pytest.importorskip("torch")
    x, y = problem()
    m = _core.Model(5, [dense(4, activation, 1, use_bias, bias="random_uniform"),
                        dense(3, "linear", 2, use_bias, bias="random_uniform")])
    m.compile(MSE, SGD, [])
    loss, grads = m.compute_gradients(x, y)
    ref_loss, ref_grads = torch_loss_and_grads(torch, m.get_weights(), x, y, [activation, "linear"],
                                               use_bias)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("l1, l2", [(0.01, 0.0), (0.0, 0.02), (0.01, 0.02)])
def test_regularizers_match_torch(l1, l2):
    torch = pytest.importorskip("torch")
    x, y = problem()
    m = _core.Model(5, [dense(4, "tanh", 1, True, l1, l2, bias="random_uniform"),
                        dense(3, "sigmoid", 2, True, l1, l2, bias="random_uniform")])
    m.compile(MSE, SGD, [])
    loss, grads = m.compute_gradients(x, y)
    ref_loss, ref_grads = torch_loss_and_grads(torch, m.get_weights(), x, y, ["tanh", "sigmoid"],
                                               True, l1, l2)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-6)
    assert m.evaluate(x, y)["loss"] == pytest.approx(ref_loss, rel=1e-5)


def test_dense_relu_against_numpy_float64():
    """An independent float64 reference without torch: relu then linear, MSE."""
    x, y = problem(n=16)
    m = _core.Model(5, [dense(4, "relu", 3, bias="random_uniform"), dense(3, "linear", 4)])
    m.compile(MSE, SGD, [])
    w1, b1, w2, b2 = [w.astype(np.float64) for w in m.get_weights()]
    z = x @ w1 + b1
    h = np.maximum(z, 0)
    out = h @ w2 + b2
    np.testing.assert_allclose(m.predict(x), out, rtol=1e-5, atol=1e-6)
    d_out = 2 * (out - y) / out.size
    d_h = d_out @ w2.T * (z > 0)
    expected = [x.T @ d_h, d_h.sum(0), h.T @ d_out, d_out.sum(0)]
    loss, grads = m.compute_gradients(x, y)
    assert loss == pytest.approx(((out - y) ** 2).mean(), rel=1e-5)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)


def test_finite_differences_three_layers():
    """Central differences of the float32 model's loss (coarse step, loose tolerance)."""
    x, y = problem(n=8)
    m = _core.Model(5, [dense(6, "tanh", 1, bias="random_uniform"), dense(5, "elu", 2),
                        dense(3, "sigmoid", 3)])
    m.compile(MSE, SGD, [])
    _, grads = m.compute_gradients(x, y)
    weights = m.get_weights()
    h = 1e-2
    for t in range(len(weights)):
        for idx in list(np.ndindex(weights[t].shape))[::4]:
            plus = [w.copy() for w in weights]
            minus = [w.copy() for w in weights]
            plus[t][idx] += h
            minus[t][idx] -= h
            m.set_weights(plus)
            lp = m.compute_gradients(x, y)[0]
            m.set_weights(minus)
            lm = m.compute_gradients(x, y)[0]
            assert (lp - lm) / (2 * h) == pytest.approx(grads[t][idx], rel=3e-2, abs=3e-4)
