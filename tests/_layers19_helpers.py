"""Shared checks of the issue-19 layers: gradients against PyTorch autograd in float64 and
outputs against Keras 3 (JAX backend) from the same weights."""

import os

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

os.environ.setdefault("KERAS_BACKEND", "jax")


def data(n=8, d=12, k=3, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    return ((rng.normal(size=(n, d)) * scale).astype(np.float32),
            rng.normal(size=(n, k)).astype(np.float32))


def model_around(middle, d=12, k=3, reshape=None):
    """Input(d) -> Dense(d) with a random bias -> [Reshape] -> middle -> Flatten -> Dense(k)."""
    head = [layers.Reshape(reshape)] if reshape else []
    return fastmlp.Sequential([fastmlp.Input((d,)),
                               layers.Dense(d, bias_initializer="random_uniform"),
                               *head, *middle, layers.Flatten(), layers.Dense(k)])


def check_gradients(middle, torch_fn, reshape=None, n=8, seed=0, rtol=1e-3, atol=1e-5):
    """Loss and every trainable gradient of ``model_around(middle)`` under MSE against PyTorch.

    torch_fn(h, params) maps the first Dense's output h (n, d, float64) and the middle layers'
    weights (get_weights order, float64 tensors) to the input of Flatten, as (n, d).
    Returns the gradients (fastmlp's) for further checks."""
    x, y = data(n=n, seed=seed)
    m = model_around(middle, reshape=reshape)
    return check_model_gradients(m, x, y, torch_fn, rtol, atol)


def check_model_gradients(m, x, y, torch_fn, rtol=1e-3, atol=1e-5):
    """check_gradients for a built ``model_around`` model and data."""
    torch = pytest.importorskip("torch")
    n = len(x)
    m.compile(optimizer="sgd", loss="mse")
    weights, flags = m.get_weights(), [v.trainable for v in m.weights]
    loss, grads = m._core.compute_gradients(x, y)
    t = [torch.tensor(w, dtype=torch.float64, requires_grad=f) for w, f in zip(weights, flags)]
    h = torch.tensor(x, dtype=torch.float64) @ t[0] + t[1]
    h = torch_fn(h, t[2:-2]).reshape(n, -1)
    out = h @ t[-2] + t[-1]
    ref = ((out - torch.tensor(y, dtype=torch.float64)) ** 2).mean()
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-5, abs=1e-7)
    expected = [p.grad.numpy() for p in t if p.requires_grad]
    assert len(grads) == len(expected)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return grads


def keras():
    return pytest.importorskip("keras", reason="keras (optional, with a backend) is not installed")


def both(make, d=12, reshape=None, flatten=True):
    """(fastmlp model, Keras model) of Input(d) -> Dense(d) -> [Reshape] -> make(layers module)
    [-> Flatten], the Keras one holding the fastmlp one's weights."""
    k = keras()

    def build(lib, mod):
        head = [mod.Reshape(reshape)] if reshape else []
        tail = [mod.Flatten()] if flatten else []
        return lib.Sequential([lib.Input((d,)), mod.Dense(d, bias_initializer="random_uniform"),
                               *head, *make(mod), *tail])

    ours = build(fastmlp, layers)
    theirs = build(k, k.layers)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def keras_weights(model_or_layer):
    """A Keras model's or layer's weights as NumPy arrays (Keras's own get_weights warns under
    NumPy 2 with the JAX backend)."""
    return [np.asarray(v.value) for v in model_or_layer.weights]


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same global seed (initial weights, drawn noise seeds), so that
    the tolerances are checked against one reproducible draw. LAYERS19_SEED picks another."""
    fastmlp.utils.set_random_seed(int(os.environ.get("LAYERS19_SEED", "1234")))


def train_both(ours, theirs, optimizer, epochs, n=64):
    """Compiles both models with `optimizer` and MSE and fits them alike on data(n): the two
    per-epoch loss histories."""
    x, y = data(n=n)
    for m in (ours, theirs):
        m.compile(optimizer=optimizer, loss="mse")
    return tuple(m.fit(x, y, epochs=epochs, batch_size=16, shuffle=False,
                       verbose=0).history["loss"] for m in (ours, theirs))
