"""Keras 3's losses beyond MSE/MAE/Huber and the cross-entropies (kl_divergence, poisson, log_cosh,
mean_squared_logarithmic_error, mean_absolute_percentage_error, cosine_similarity, hinge,
squared_hinge, categorical_hinge): the C++ core's values against Keras 3 (JAX), its gradients
against PyTorch autograd in float64 and JAX's at clips and kinks, the loss objects' reductions,
names, configs and errors. Training with them: tests/test_keras_compat.py."""

import os
import pickle

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, losses

EPS = float(np.float32(1e-7))

NAMES = ["kl_divergence", "poisson", "log_cosh", "mean_squared_logarithmic_error",
         "mean_absolute_percentage_error", "cosine_similarity", "hinge", "squared_hinge",
         "categorical_hinge"]
CLASSES = {"kl_divergence": "KLDivergence", "poisson": "Poisson", "log_cosh": "LogCosh",
           "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
           "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
           "cosine_similarity": "CosineSimilarity", "hinge": "Hinge",
           "squared_hinge": "SquaredHinge", "categorical_hinge": "CategoricalHinge"}


@pytest.fixture
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", reason="keras (optional, with a backend) is not installed")


def _data(name, targets, seed=0, n=40, k=4):
    """Predictions in each loss's domain with the values at its clips and guards, and targets:
    soft in [0, 1], binary {0, 1}, signed {-1, 1} or one-hot."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(-1.5, 1.5, (n, k)).astype(np.float32)
    if name in ("kl_divergence", "poisson", "mean_squared_logarithmic_error"):
        p = np.abs(p) + np.float32(0.01) if name == "poisson" else p
        p[0, 0], p[1, 1], p[2, 2] = 0.0, EPS, 1.0  # the clips' bounds
    p[3] = 0.0  # a zero row: cosine_similarity's guard
    y = {"soft": rng.uniform(0, 1, (n, k)), "binary": rng.integers(0, 2, (n, k)),
         "signed": 2 * rng.integers(0, 2, (n, k)) - 1,
         "onehot": np.eye(k)[rng.integers(0, k, n)]}[targets].astype(np.float32)
    y[4] = 0.0  # MAPE's epsilon, KL's clip of the targets
    return y, p


TARGETS = ["soft", "binary", "signed", "onehot"]


@pytest.mark.parametrize("targets", TARGETS)
@pytest.mark.parametrize("name", NAMES)
def test_loss_functions_equal_keras(keras, name, targets):
    y, p = _data(name, targets)
    ours = getattr(losses, name)(y, p)
    theirs = np.asarray(getattr(keras.losses, name)(y, p))
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (len(p),)
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=2e-6 * np.abs(theirs).max())


@pytest.mark.parametrize("weights", [None, "per_sample", "scalar"])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean",
                                       "mean_with_sample_weight", "none"])
@pytest.mark.parametrize("name", NAMES)
def test_loss_objects_reduce_as_keras(keras, name, reduction, weights):
    y, p = _data(name, "soft", seed=1)
    w = {None: None, "per_sample": np.linspace(0.0, 2.0, len(p)).astype(np.float32),
         "scalar": np.float32(0.5)}[weights]
    cls = CLASSES[name]
    ours = getattr(losses, cls)(reduction=reduction)(y, p, sample_weight=w)
    theirs = np.asarray(getattr(keras.losses, cls)(reduction=reduction)(y, p, sample_weight=w))
    assert np.asarray(ours).dtype == np.float32 and np.shape(ours) == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=3e-6, atol=1e-6 * np.abs(theirs).max())


def _torch_loss(name, y, p, torch):
    """Keras 3's formulas, in float64 (per sample)."""
    eps = EPS
    if name == "kl_divergence":
        yc, pc = y.clamp(eps, 1), p.clamp(eps, 1)
        return (yc * torch.log(yc / pc)).sum(-1)
    if name == "poisson":
        return (p - y * torch.log(p + eps)).mean(-1)
    if name == "log_cosh":
        return torch.log(torch.cosh(p - y)).mean(-1)
    if name == "mean_squared_logarithmic_error":
        return ((torch.log(p.clamp(min=eps) + 1) - torch.log(y.clamp(min=eps) + 1)) ** 2).mean(-1)
    if name == "mean_absolute_percentage_error":
        return 100 * (torch.abs(y - p) / y.abs().clamp(min=eps)).mean(-1)
    if name == "cosine_similarity":
        return -(torch.nn.functional.normalize(y, dim=-1, eps=0)
                 * torch.nn.functional.normalize(p, dim=-1, eps=0)).sum(-1)
    if name in ("hinge", "squared_hinge"):
        h = torch.relu(1 - y * p)
        return (h if name == "hinge" else h ** 2).mean(-1)
    pos, neg = (y * p).sum(-1), ((1 - y) * p).max(-1).values
    return torch.relu(neg - pos + 1)


@pytest.mark.parametrize("targets", ["soft", "signed", "onehot"])
@pytest.mark.parametrize("name", NAMES)
def test_gradients_equal_torch_autograd_in_float64(name, targets):
    """Away from clips and kinks (where PyTorch's conventions differ from JAX's): the
    sum_over_batch_size gradient with sample weights."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    y, _ = _data(name, targets, seed=2, n=12)
    y[4] = rng.uniform(0.2, 1, 4)  # no zero targets: MAPE's and KL's clips stay inactive
    p = rng.uniform(0.05, 0.95, y.shape) if name in ("kl_divergence", "poisson",
                                                     "mean_squared_logarithmic_error") \
        else rng.uniform(-1.5, 1.5, y.shape)
    p = p.astype(np.float32)
    w = rng.uniform(0.5, 2.0, len(p)).astype(np.float32)
    value, grad = _core.loss(name, y, p, w)
    t = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    ref = (_torch_loss(name, torch.tensor(y, dtype=torch.float64), t, torch)
           * torch.tensor(w, dtype=torch.float64)).mean()
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("targets", TARGETS)
@pytest.mark.parametrize("name", NAMES)
def test_gradients_equal_jax_at_clips_and_kinks(keras, name, targets):
    """JAX's gradient of Keras's loss, ties included (a clip's bound, a hinge's kink, p = y in
    MAPE's |.|): what Keras trains with. A zero prediction row is cosine_similarity's exception:
    JAX's gradient of rsqrt(0) makes it NaN; ours is that of the clipped norm, finite."""
    import jax
    y, p = _data(name, targets, seed=3)
    if name in ("hinge", "squared_hinge", "categorical_hinge"):
        p[5] = y[5] if targets != "binary" else 2 * y[5] - 1  # y * p = 1: on the kink
    fn = getattr(keras.losses, name)
    theirs = np.asarray(jax.grad(lambda q: fn(y, q).mean())(p))
    _, ours = _core.loss(name, y, p)
    if name == "cosine_similarity":
        assert np.isnan(theirs[3]).all() and np.isfinite(ours).all()
        ours, theirs = np.delete(ours, 3, axis=0), np.delete(theirs, 3, axis=0)
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-7 * np.abs(theirs).max())


def test_hinge_reads_binary_targets_per_call_as_keras():
    p = np.array([[0.5], [-0.25]], np.float32)
    assert losses.hinge([[1.0], [0.0]], p).tolist() == pytest.approx([0.5, 0.75])
    assert losses.hinge([[1.0], [-1.0]], p).tolist() == pytest.approx([0.5, 0.75])
    # one target outside {0, 1} and the zeros are zeros: max(1 - 0 * p, 0) = 1
    assert losses.hinge([[0.0], [0.5]], p).tolist() == pytest.approx([1.0, 1.125])


def test_names_aliases_and_configs_round_trip():
    for alias, cls in [("kld", losses.KLDivergence), ("KLD", losses.KLDivergence),
                       ("mape", losses.MeanAbsolutePercentageError),
                       ("MSLE", losses.MeanSquaredLogarithmicError), ("logcosh", None),
                       ("log_cosh", losses.LogCosh), ("bce", losses.BinaryCrossentropy),
                       ("CosineSimilarity", losses.CosineSimilarity)]:
        if cls is None:
            with pytest.raises(ValueError, match="Unknown loss"):
                losses.get(alias)
        else:
            assert type(losses.get(alias)) is cls
    for name in NAMES:
        fn = getattr(losses, name)
        obj = losses.get(fn)
        assert type(obj).__name__ == CLASSES[name] and obj.name == name
        assert obj.get_config() == {"name": name, "reduction": "sum_over_batch_size"}
        twin = losses.deserialize(losses.serialize(getattr(losses, CLASSES[name])(
            reduction="sum", name="mine")))
        assert type(twin) is type(obj) and twin.name == "mine" and twin.reduction == "sum"
        assert obj.to_spec()["name"] == name


def test_models_with_these_losses_pickle_and_save(tmp_path):
    x = np.random.default_rng(0).random((16, 3), np.float32)
    y = np.random.default_rng(1).random((16, 2), np.float32)
    for loss in (losses.KLDivergence(), "squared_hinge", losses.CosineSimilarity(axis=-1)):
        model = fastmlp.Sequential([fastmlp.Input(shape=(3,)),
                                    fastmlp.layers.Dense(2, activation="softmax")])
        model.compile("sgd", loss)
        model.fit(x, y, epochs=1, verbose=0)
        expected = model.evaluate(x, y, verbose=0)
        model.save(tmp_path / "m.fastmlp")
        for twin in (pickle.loads(pickle.dumps(model)),
                     fastmlp.models.load_model(tmp_path / "m.fastmlp")):
            assert twin.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-6)


def test_custom_losses_are_refused_with_the_built_in_list():
    model = fastmlp.Sequential([fastmlp.Input(shape=(3,)), fastmlp.layers.Dense(2)])

    def my_loss(y_true, y_pred):
        return (y_true - y_pred) ** 2

    class MyLoss(losses.Loss):
        def call(self, y_true, y_pred):
            return np.abs(y_true - y_pred).mean(-1)

    for custom in (my_loss, MyLoss()):
        with pytest.raises(ValueError, match=r"C\+\+ loop, which does not run Python loss "
                                             r"functions.*Received: loss=.*"
                                             r"'binary_crossentropy' / 'bce': BinaryCrossentropy"
                                             r"\(from_logits=False, label_smoothing=0.0\); .*"
                                             r"'kl_divergence' / 'kld': KLDivergence\(\); "):
            model.compile("sgd", custom)
    # used on its own, a Loss subclass computes in Python as Keras's would
    assert MyLoss()(np.ones((2, 1)), np.zeros((2, 1))) == pytest.approx(1.0)


def test_bad_arguments_name_them():
    with pytest.raises(ValueError, match=r"Only axis=-1 is supported. Received: axis=0"):
        losses.CosineSimilarity(axis=0)
    with pytest.raises(ValueError, match="axis=1"):
        losses.cosine_similarity(np.ones((2, 2)), np.ones((2, 2)), axis=1)
    with pytest.raises(ValueError, match=r"`reduction`.*Received: reduction='avg'"):
        losses.Hinge(reduction="avg")
    with pytest.raises(ValueError, match=r"reduction='sum_over_batch_size'.*reduction='sum'"):
        fastmlp.Sequential([fastmlp.layers.Dense(1)]).compile(
            "sgd", losses.Poisson(reduction="sum"))
    with pytest.raises(ValueError, match="shape"):
        losses.kl_divergence(np.ones((3, 2)), np.ones((3, 3)))
