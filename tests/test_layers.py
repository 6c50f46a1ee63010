"""BatchNormalization, Dropout, Activation and Rescaling layers, and losses through the model
(including the fused softmax/sigmoid cross-entropy gradients), against PyTorch and NumPy."""

import numpy as np
import pytest

from _core_helpers import batchnorm, dense
from fastmlp import _core

SGD = {"name": "sgd", "learning_rate": 0.1}
MSE = {"name": "mean_squared_error"}


def problem(n=8, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, k)).astype(np.float32)


@pytest.mark.parametrize("scale, center", [(True, True), (False, True), (True, False)])
def test_batchnorm_training_gradients_match_torch(scale, center):
    torch = pytest.importorskip("torch")
    x, y = problem()
    m = _core.Model(5, [dense(4, "linear", 1, bias="random_uniform"), batchnorm(scale, center),
                        dense(3, "tanh", 2)])
    m.compile(MSE, SGD, [])
    w = m.get_weights()
    loss, grads = m.compute_gradients(x, y)
    t = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in w]
    i = 2
    gamma = t[i] if scale else None
    i += scale
    beta = t[i] if center else None
    i += center
    z = torch.tensor(x, dtype=torch.float64) @ t[0] + t[1]
    mean, var = z.mean(0), z.var(0, unbiased=False)
    h = (z - mean) / torch.sqrt(var + 1e-3)
    h = h * gamma if scale else h
    h = h + beta if center else h
    out = torch.tanh(h @ t[i + 2] + t[i + 3])  # t[i], t[i + 1]: moving mean and variance
    ref = ((out - torch.tensor(y, dtype=torch.float64)) ** 2).mean()
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-5)
    ref_grads = [p.grad.numpy() for p in t if p.grad is not None]
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-3, atol=1e-5)
    # Keras moving statistics: momentum 0.99, the biased batch variance.
    moving_mean, moving_var = m.get_weights()[i:i + 2]
    np.testing.assert_allclose(moving_mean, 0.01 * mean.detach().numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(moving_var, 0.99 + 0.01 * var.detach().numpy(), rtol=1e-5)


@pytest.mark.parametrize("below", [[], [{"type": "dropout", "rate": 0.0, "seed": 1}]])
def test_batchnorm_as_the_lowest_trainable_layer_trains_gamma_and_beta(below):
    # The model chose where backward stops before BatchNormalization's tensors were bound, so a
    # BatchNormalization with no trainable layer below it got no gradients and never learned.
    torch = pytest.importorskip("torch")
    x, y = problem()
    m = _core.Model(5, below + [batchnorm(), dense(3, "tanh", 2)])
    m.compile(MSE, SGD, [])
    gamma, beta, _, _, kernel, bias = m.get_weights()
    loss, grads = m.compute_gradients(x, y)
    t = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (gamma, beta, kernel, bias)]
    z = torch.tensor(x, dtype=torch.float64)
    h = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-3) * t[0] + t[1]
    ref = ((torch.tanh(h @ t[2] + t[3]) - torch.tensor(y, dtype=torch.float64)) ** 2).mean()
    ref.backward()
    assert len(grads) == 4
    for g, r in zip(grads, t):
        np.testing.assert_allclose(g, r.grad.numpy(), rtol=1e-3, atol=1e-5)
    assert np.abs(grads[0]).max() > 1e-3 and np.abs(grads[1]).max() > 1e-3
    m.train_epoch(x, y, batch_size=8, shuffle=False)
    new_gamma, new_beta = m.get_weights()[:2]
    np.testing.assert_allclose(new_gamma, gamma - 0.1 * grads[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(new_beta, beta - 0.1 * grads[1], rtol=1e-4, atol=1e-6)


def test_batchnorm_inference_uses_moving_statistics():
    x, _ = problem(n=16, d=4)
    m = _core.Model(4, [batchnorm()])
    gamma, beta, _, _ = m.get_weights()
    mm, mv = np.array([0.5, -1, 2, 0], np.float32), np.array([1, 4, 0.25, 2], np.float32)
    m.set_weights([gamma, beta, mm, mv])
    expected = gamma * (x - mm) / np.sqrt(mv + 1e-3) + beta
    np.testing.assert_allclose(m.predict(x), expected, rtol=1e-5, atol=1e-6)
    train = m.forward(x, training=True)
    np.testing.assert_allclose(train.mean(0), beta, atol=1e-5)


def test_dropout_mask_is_inverted_seeded_and_replayable():
    x = np.ones((64, 32), np.float32)
    m = _core.Model(32, [{"type": "dropout", "rate": 0.25, "seed": 3}])
    np.testing.assert_array_equal(m.predict(x), x)  # identity at inference
    m.training_step = 7
    a = m.forward(x, training=True)
    m.training_step = 7
    b = m.forward(x, training=True)
    c = m.forward(x, training=True)  # next step: a new mask
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a)) == {0.0, np.float32(1 / 0.75)}
    assert abs((a == 0).mean() - 0.25) < 0.03


def test_dropout_gradient_uses_the_forward_mask():
    x, y = problem(n=16, d=6, k=4)
    m = _core.Model(6, [dense(5, "linear", 1, bias="random_uniform"),
                        {"type": "dropout", "rate": 0.5, "seed": 11}, dense(4, "linear", 2)])
    m.compile(MSE, SGD, [])
    w1, b1, w2, b2 = [w.astype(np.float64) for w in m.get_weights()]
    z = x @ w1 + b1
    probe = _core.Model(6, [dense(5, "linear", 1, bias="random_uniform"),
                            {"type": "dropout", "rate": 0.5, "seed": 11}])
    probe.set_weights(m.get_weights()[:2])
    probe.training_step = 4
    mask = probe.forward(x, training=True) / z.astype(np.float32)
    m.training_step = 4
    loss, grads = m.compute_gradients(x, y)
    h = z * mask
    out = h @ w2 + b2
    d_out = 2 * (out - y) / out.size
    d_z = d_out @ w2.T * mask
    assert loss == pytest.approx(((out - y) ** 2).mean(), rel=1e-5)
    for g, e in zip(grads, [x.T @ d_z, d_z.sum(0), h.T @ d_out, d_out.sum(0)]):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)


def test_activation_and_rescaling_layers():
    x, y = problem()
    a = _core.Model(5, [dense(4, "linear", 1), {"type": "activation", "activation": "tanh"},
                        {"type": "rescaling", "scale": 2.0, "offset": 0.5}, dense(3, "linear", 2)])
    a.compile(MSE, SGD, [])
    w1, b1, w2, b2 = [w.astype(np.float64) for w in a.get_weights()]
    t = np.tanh(x @ w1 + b1)
    h = 2 * t + 0.5
    out = h @ w2 + b2
    np.testing.assert_allclose(a.predict(x), out, rtol=1e-5, atol=1e-6)
    d_out = 2 * (out - y) / out.size
    d_z = (d_out @ w2.T) * 2 * (1 - t ** 2)
    _, grads = a.compute_gradients(x, y)
    for g, e in zip(grads, [x.T @ d_z, d_z.sum(0), h.T @ d_out, d_out.sum(0)]):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)


LOSS_CASES = [
    ({"name": "sparse_categorical_crossentropy", "from_logits": False}, "softmax", "sparse"),
    ({"name": "sparse_categorical_crossentropy", "from_logits": True}, "linear", "sparse"),
    ({"name": "categorical_crossentropy", "from_logits": False}, "softmax", "onehot"),
    ({"name": "categorical_crossentropy", "from_logits": True, "label_smoothing": 0.1}, "linear", "onehot"),
    ({"name": "binary_crossentropy", "from_logits": False}, "sigmoid", "binary"),
    ({"name": "binary_crossentropy", "from_logits": True}, "linear", "binary"),
    ({"name": "mean_squared_error"}, "linear", "real"),
    ({"name": "mean_absolute_error"}, "tanh", "real"),
    ({"name": "huber", "delta": 0.5}, "linear", "real"),
]


def torch_loss(torch, spec, out, y, sw):
    f = torch.nn.functional
    name = spec["name"]
    if name == "sparse_categorical_crossentropy":
        logp = torch.log(out) if not spec["from_logits"] else torch.log_softmax(out, 1)
        per = -logp[torch.arange(len(y)), torch.tensor(y, dtype=torch.long)]
    elif name == "categorical_crossentropy":
        yt = torch.tensor(y, dtype=torch.float64)
        yt = yt * (1 - spec.get("label_smoothing", 0.0)) + spec.get("label_smoothing", 0.0) / yt.shape[1]
        logp = torch.log(out) if not spec["from_logits"] else torch.log_softmax(out, 1)
        per = -(yt * logp).sum(1)
    elif name == "binary_crossentropy":
        yt = torch.tensor(y, dtype=torch.float64)
        per = (f.binary_cross_entropy_with_logits(out, yt, reduction="none") if spec["from_logits"]
               else f.binary_cross_entropy(out, yt, reduction="none")).mean(1)
    else:
        yt = torch.tensor(y, dtype=torch.float64)
        per = {"mean_squared_error": lambda: ((out - yt) ** 2).mean(1),
               "mean_absolute_error": lambda: (out - yt).abs().mean(1),
               "huber": lambda: f.huber_loss(out, yt, reduction="none", delta=0.5).mean(1)}[name]()
    return (per * torch.tensor(sw, dtype=torch.float64)).mean()


@pytest.mark.parametrize("spec, activation, kind", LOSS_CASES)
def test_losses_through_the_model_match_torch(spec, activation, kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(10, 5)).astype(np.float32)
    y = {"sparse": rng.integers(0, 3, 10).astype(np.int32),
         "onehot": np.eye(3, dtype=np.float32)[rng.integers(0, 3, 10)],
         "binary": rng.integers(0, 2, (10, 3)).astype(np.float32),
         "real": rng.normal(size=(10, 3)).astype(np.float32)}[kind]
    sw = rng.uniform(0.5, 2.0, 10).astype(np.float32)
    m = _core.Model(5, [dense(4, "relu", 1, bias="random_uniform"), dense(3, activation, 2)])
    m.compile(spec, SGD, [])
    loss, grads = m.compute_gradients(x, y, sw)
    t = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in m.get_weights()]
    h = torch.relu(torch.tensor(x, dtype=torch.float64) @ t[0] + t[1]) @ t[2] + t[3]
    out = {"softmax": lambda z: torch.softmax(z, 1), "sigmoid": torch.sigmoid,
           "tanh": torch.tanh, "linear": lambda z: z}[activation](h)
    ref = torch_loss(torch, spec, out, y, sw)
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-4)
    for g, p in zip(grads, t):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-3, atol=1e-5)


def test_extreme_logits_give_finite_training():
    x = np.array([[1e4, -1e4], [-1e4, 1e4]], np.float32)
    m = _core.Model(2, [dense(3, "softmax", 1)])
    m.compile({"name": "sparse_categorical_crossentropy"}, SGD, [])
    loss, grads = m.compute_gradients(x, np.array([0, 2], np.int32))
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads)
