"""Losses of fastmlp._core against float64 NumPy transcriptions of Keras 3, finite differences
and (when installed) torch.nn.functional with autograd."""
import numpy as np
import pytest

from fastmlp import _core

EPS = np.float64(np.float32(1e-7))
HI = np.float64(np.float32(1) - np.float32(1e-7))


def keras_loss(spec, y, p, w=None):
    """Per-sample losses reduced with sum_over_batch_size, in float64."""
    name, s = spec["name"], spec.get("label_smoothing", 0.0)
    logits = spec.get("from_logits", False)
    if name == "sparse_categorical_crossentropy":
        y = np.eye(p.shape[1])[y.astype(int)]
        name = "categorical_crossentropy"
    if name == "mean_squared_error":
        per = ((p - y) ** 2).mean(-1)
    elif name == "mean_absolute_error":
        per = np.abs(p - y).mean(-1)
    elif name == "huber":
        d = spec.get("delta", 1.0)
        e = np.abs(p - y)
        q = np.minimum(e, d)
        per = (0.5 * q**2 + d * (e - q)).mean(-1)
    elif name == "binary_crossentropy":
        y = y * (1 - s) + 0.5 * s
        if logits:
            per = (np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))).mean(-1)
        else:
            pc = np.clip(p, EPS, HI)
            per = -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean(-1)
    else:
        y = y * (1 - s) + s / p.shape[1]
        if logits:
            m = p.max(-1, keepdims=True)
            logq = p - m - np.log(np.exp(p - m).sum(-1, keepdims=True))
        else:
            logq = np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, HI))
        per = -(y * logq).sum(-1)
    w = np.ones(len(p)) if w is None else w
    return float((w * per).sum() / len(p))


def batch(name, logits, rng, n=6, k=4):
    if logits or name in ("mean_squared_error", "mean_absolute_error", "huber"):
        p = rng.standard_normal((n, k)) * 2
    elif name == "binary_crossentropy":
        p = rng.uniform(0.05, 0.95, (n, k))
    else:
        p = rng.uniform(0.05, 1.0, (n, k))  # unnormalized rows: Keras divides by the row sum
    if name == "sparse_categorical_crossentropy":
        y = rng.integers(0, k, n)
    elif name == "categorical_crossentropy":
        y = rng.dirichlet(np.ones(k), n)
    else:
        y = rng.uniform(0, 1, (n, k))
    return y, p.astype(np.float32)


CASES = [
    {"name": "mean_squared_error"}, {"name": "mse"}, {"name": "mean_absolute_error"},
    {"name": "huber", "delta": 0.6},
    {"name": "binary_crossentropy"}, {"name": "binary_crossentropy", "label_smoothing": 0.2},
    {"name": "binary_crossentropy", "from_logits": True, "label_smoothing": 0.1},
    {"name": "categorical_crossentropy"}, {"name": "categorical_crossentropy", "label_smoothing": 0.3},
    {"name": "categorical_crossentropy", "from_logits": True, "label_smoothing": 0.1},
    {"name": "sparse_categorical_crossentropy"},
    {"name": "sparse_categorical_crossentropy", "from_logits": True},
]


def _id(spec):
    return "-".join(str(v) for v in spec.values())


@pytest.mark.parametrize("spec", CASES, ids=_id)
def test_value_matches_keras_transcription(spec):
    rng = np.random.default_rng(1)
    name = {"mse": "mean_squared_error"}.get(spec["name"], spec["name"])
    y, p = batch(name, spec.get("from_logits", False), rng)
    w = rng.uniform(0, 2, len(p)).astype(np.float32)
    ref_spec = dict(spec, name=name)
    for weights in (None, w):
        got, grad = _core.loss(spec, y, p, weights)
        wref = None if weights is None else weights.astype(np.float64)
        assert got == pytest.approx(keras_loss(ref_spec, y, p.astype(np.float64), wref), rel=1e-6)
        assert grad.shape == p.shape and grad.dtype == np.float32


@pytest.mark.parametrize("spec", CASES, ids=_id)
def test_gradient_matches_central_differences(spec):
    rng = np.random.default_rng(2)
    name = {"mse": "mean_squared_error"}.get(spec["name"], spec["name"])
    y, p = batch(name, spec.get("from_logits", False), rng)
    w = rng.uniform(0.5, 2, len(p))
    _, grad = _core.loss(spec, y, p, w.astype(np.float32))
    ref_spec, p64 = dict(spec, name=name), p.astype(np.float64)
    fd = np.zeros_like(p64)
    h = 1e-6
    for idx in np.ndindex(p.shape):
        up, dn = p64.copy(), p64.copy()
        up[idx] += h
        dn[idx] -= h
        fd[idx] = (keras_loss(ref_spec, y, up, w) - keras_loss(ref_spec, y, dn, w)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("from_logits", [True, False])
def test_extreme_values_are_finite(name, from_logits):
    p = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], np.float32)
    if not from_logits:
        p = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], np.float32)
    y = np.array([1, 0]) if name.startswith("sparse") else np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    value, grad = _core.loss({"name": name, "from_logits": from_logits}, y, p)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert value > 5  # confidently wrong predictions are expensive, not NaN or clipped to 0


def test_sparse_labels_out_of_range_name_the_label():
    p = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"label 4 at index 2 is out of range \[0, 4\)"):
        _core.loss("sparse_categorical_crossentropy", np.array([0, 1, 4]), p)
    with pytest.raises(ValueError, match="label -1"):
        _core.loss("sparse_categorical_crossentropy", np.array([0, -1, 2]), p)
    with pytest.raises(ValueError, match="not a valid class index"):
        _core.loss("sparse_categorical_crossentropy", np.array([0.5, 1, 2]), p)


def test_bad_specs_and_shapes():
    p = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="valid names"):
        _core.loss("cross_entropy", p, p)
    with pytest.raises(ValueError, match="unknown key 'smoothing'"):
        _core.loss({"name": "binary_crossentropy", "smoothing": 0.1}, p, p)
    with pytest.raises(ValueError, match="label_smoothing"):
        _core.loss({"name": "binary_crossentropy", "label_smoothing": 1.5}, p, p)
    with pytest.raises(ValueError, match="shape"):
        _core.loss("mse", np.zeros((2, 2), np.float32), p)
    with pytest.raises(ValueError, match="sample_weight"):
        _core.loss("mse", p, p, np.ones(3, np.float32))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.uniform(0, 1, (8, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 8)
    cases = [
        ("mse", y, lambda t: F.mse_loss(t, torch.tensor(y, dtype=torch.float64))),
        ("mae", y, lambda t: F.l1_loss(t, torch.tensor(y, dtype=torch.float64))),
        ({"name": "huber", "delta": 0.5}, y,
         lambda t: F.huber_loss(t, torch.tensor(y, dtype=torch.float64), delta=0.5)),
        ({"name": "binary_crossentropy", "from_logits": True}, y,
         lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(y, dtype=torch.float64))),
        ({"name": "sparse_categorical_crossentropy", "from_logits": True}, labels,
         lambda t: F.cross_entropy(t, torch.tensor(labels))),
        ({"name": "categorical_crossentropy", "from_logits": True, "label_smoothing": 0.2},
         np.eye(5, dtype=np.float32)[labels],
         lambda t: F.cross_entropy(t, torch.tensor(labels), label_smoothing=0.2)),
    ]
    for spec, target, fn in cases:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ref = fn(t)
        ref.backward()
        value, grad = _core.loss(spec, target, x)
        assert value == pytest.approx(ref.item(), rel=1e-6), spec
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-5, atol=1e-7, err_msg=str(spec))


# ---- fastmlp.losses: the same C++ losses, reduced as Keras 3 reduces them -----------------------

def _loss_batch(name, seed=0, n=40, k=4):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, k)) * 2).astype(np.float32)
    probs = rng.uniform(0.05, 0.95, (n, k)).astype(np.float32)
    labels = rng.integers(0, k, n)
    if name == "SparseCategoricalCrossentropy":
        return labels, probs
    if name == "CategoricalCrossentropy":
        return np.eye(k, dtype=np.float32)[labels], probs
    return rng.uniform(0, 1, (n, k)).astype(np.float32), probs if "Binary" in name else logits


LOSS_CASES = [("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("Huber", {"delta": 0.6}),
              ("BinaryCrossentropy", {}), ("BinaryCrossentropy", {"label_smoothing": 0.1}),
              ("CategoricalCrossentropy", {}),
              ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}),
              ("SparseCategoricalCrossentropy", {}),
              ("SparseCategoricalCrossentropy", {"from_logits": True})]


@pytest.fixture
def keras():
    import os
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", reason="keras (optional, with a backend) is not installed")


@pytest.mark.parametrize("weights", [None, "per_sample", "scalar"])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean",
                                       "mean_with_sample_weight", "none"])
@pytest.mark.parametrize("name, kwargs", LOSS_CASES, ids=[f"{c[0]}{c[1] or ''}" for c in LOSS_CASES])
def test_loss_objects_equal_keras(keras, name, kwargs, reduction, weights):
    from fastmlp import losses
    y, p = _loss_batch(name)
    if "from_logits" in kwargs:
        p = _loss_batch("MeanSquaredError")[1]  # logits
    w = {None: None, "per_sample": np.linspace(0.0, 2.0, len(p)).astype(np.float32),
         "scalar": np.float32(0.5)}[weights]
    ours = getattr(losses, name)(reduction=reduction, **kwargs)(y, p, sample_weight=w)
    theirs = np.asarray(getattr(keras.losses, name)(reduction=reduction, **kwargs)(
        y, p, sample_weight=w))
    assert np.asarray(ours).dtype == np.float32 and np.shape(ours) == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("fn", ["mean_squared_error", "mean_absolute_error", "huber",
                                "binary_crossentropy", "categorical_crossentropy",
                                "sparse_categorical_crossentropy"])
def test_loss_functions_equal_keras(keras, fn):
    from fastmlp import losses
    name = {"categorical_crossentropy": "CategoricalCrossentropy",
            "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
            "binary_crossentropy": "BinaryCrossentropy"}.get(fn, "MeanSquaredError")
    y, p = _loss_batch(name, seed=3)
    np.testing.assert_allclose(getattr(losses, fn)(y, p),
                               np.asarray(getattr(keras.losses, fn)(y, p)), rtol=2e-6, atol=1e-7)


def test_standalone_losses_run_the_cores_loss(monkeypatch):
    """fastmlp.losses called on arrays used to recompute every loss in NumPy."""
    from fastmlp import losses
    calls = []
    real = _core.loss_values
    monkeypatch.setattr(_core, "loss_values",
                        lambda spec, y, p: calls.append(spec["name"]) or real(spec, y, p))
    y, p = np.array([[0.0], [1.0]]), np.array([[0.5], [0.25]])
    assert losses.MeanSquaredError()(y, p) == pytest.approx((0.25 + 0.5625) / 2)
    losses.binary_crossentropy(y, p)
    losses.SparseCategoricalCrossentropy()(np.array([0, 1]), np.array([[0.4, 0.6], [0.9, 0.1]]))
    assert calls == ["mean_squared_error", "binary_crossentropy",
                     "sparse_categorical_crossentropy"]


def test_loss_reductions_of_keras_3():
    from fastmlp import losses
    y, p = np.array([[0.0], [1.0], [0.0]]), np.array([[1.0], [3.0], [0.0]])
    w = np.array([1.0, 0.5, 0.0])
    assert losses.MeanSquaredError(reduction="mean_with_sample_weight")(y, p, w) == \
        pytest.approx((1.0 + 2.0) / 1.5)
    assert losses.MeanSquaredError(reduction="mean")(y, p, w) == pytest.approx(3.0 / 3)
    assert losses.MeanAbsoluteError()(y, p, sample_weight=2.0) == pytest.approx(2 * 3.0 / 3)
    assert losses.MeanSquaredError(reduction="none")(y[:0], p[:0]).shape == (0,)
    with pytest.raises(ValueError, match="sample_weight"):
        losses.MeanSquaredError()(y, p, np.ones(2))
