"""GaussianNoise, GaussianDropout and AlphaDropout: the identity at inference; in training the
noise has Keras's distribution, is seeded reproducibly (the same bits for the same seed and
training step, whatever the thread count or ISA build), and the gradient uses the forward's
noise."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, layers

from _layers19_helpers import check_model_gradients, data, model_around, seeded  # noqa: F401 (autouse fixture)

torch = pytest.importorskip("torch")
scipy_stats = pytest.importorskip("scipy.stats")

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def noise_model(layer, width=64):
    return fastmlp.Sequential([fastmlp.Input((width,)), layer])


def training_output(model, x, step=5):
    model._core.training_step = step
    return model(x, training=True)


LAYERS = {
    "gaussian_noise": lambda seed=1: layers.GaussianNoise(0.3, seed=seed),
    "gaussian_dropout": lambda seed=1: layers.GaussianDropout(0.3, seed=seed),
    "alpha_dropout": lambda seed=1: layers.AlphaDropout(0.3, seed=seed),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_identity_at_inference(name):
    x = np.random.default_rng(0).normal(size=(200, 64)).astype(np.float32)
    m = noise_model(LAYERS[name]())
    np.testing.assert_array_equal(m.predict(x, verbose=0), x)
    np.testing.assert_array_equal(m(x), x)
    assert not np.array_equal(m(x, training=True), x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_seeded_reproducibly_per_training_step(name):
    x = np.random.default_rng(0).normal(size=(50, 64)).astype(np.float32)
    a, b = noise_model(LAYERS[name](seed=9)), noise_model(LAYERS[name](seed=9))
    first = training_output(a, x, step=3)
    np.testing.assert_array_equal(first, training_output(b, x, step=3))
    assert not np.array_equal(first, training_output(a, x, step=4))
    assert not np.array_equal(first, training_output(noise_model(LAYERS[name](seed=10)), x, 3))
    # a row's noise depends on its position in the batch only: the first rows of a longer batch
    np.testing.assert_array_equal(first[:20], training_output(b, x[:20], step=3))


def test_gaussian_noise_is_normal_with_the_given_stddev():
    x = np.zeros((1000, 200), np.float32)
    z = training_output(noise_model(layers.GaussianNoise(0.5, seed=4), 200), x).ravel()
    assert abs(z.mean()) < 0.005 and abs(z.std() - 0.5) < 0.003
    assert scipy_stats.kstest(z / 0.5, "norm").pvalue > 1e-3
    assert abs(scipy_stats.kurtosis(z)) < 0.05 and abs(scipy_stats.skew(z)) < 0.03
    # the two halves of a Box-Muller pair are independent
    pairs = z.reshape(-1, 2)
    assert abs(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]) < 0.01
    assert 4.0 < np.abs(z).max() / 0.5 <= 5.78  # |z| <= sqrt(-2 ln 2^-24) = 5.77


def test_gaussian_dropout_multiplies_by_one_centered_noise():
    x = np.full((1000, 200), 2.0, np.float32)
    rate = 0.2
    m = training_output(noise_model(layers.GaussianDropout(rate, seed=5), 200), x).ravel() / 2
    assert abs(m.mean() - 1) < 0.005
    assert abs(m.std() - np.sqrt(rate / (1 - rate))) < 0.003


def test_alpha_dropout_keeps_selu_mean_and_variance():
    rate = 0.25
    x = np.random.default_rng(1).normal(size=(1000, 200)).astype(np.float32)
    y = training_output(noise_model(layers.AlphaDropout(rate, seed=6), 200), x)
    alpha_p = -SELU_ALPHA * SELU_SCALE
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    dropped = np.isclose(y, a * alpha_p + b, rtol=0, atol=1e-6)
    assert abs(dropped.mean() - rate) < 0.005
    np.testing.assert_allclose(y[~dropped], (a * x + b)[~dropped], rtol=1e-6, atol=1e-6)
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.01


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradients_use_the_forward_noise(name):
    """The noise of one training step, read back through a probe model at that step, makes the
    layer a fixed function for PyTorch: the loss and every gradient must match."""
    x, y = data()
    model = model_around([LAYERS[name](seed=21)])
    probe = fastmlp.Sequential([fastmlp.Input((12,)), layers.Dense(12), LAYERS[name](seed=21)])
    probe.set_weights(model.get_weights()[:2])
    clean = probe.predict(x, verbose=0).astype(np.float64)
    noisy = training_output(probe, x, step=5).astype(np.float64)
    model._core.training_step = 5  # compute_gradients runs step 5

    def fn(h, _):
        if name == "gaussian_noise":
            return h + torch.tensor(noisy - clean)
        if name == "gaussian_dropout":
            return h * torch.tensor(noisy / clean)
        alpha_p = -SELU_ALPHA * SELU_SCALE
        a = ((1 - 0.3) * (1 + 0.3 * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * 0.3
        kept = torch.tensor(~np.isclose(noisy, a * alpha_p + b, rtol=0, atol=1e-6))
        assert 0.2 < 1 - kept.double().mean().item() < 0.4
        return torch.where(kept, a * h + b, torch.tensor(noisy))

    grads = check_model_gradients(model, x, y, fn)
    assert model._core.training_step == 6 and len(grads) == 4


def test_noise_does_not_depend_on_the_thread_count(threads_restored):
    x = np.random.default_rng(0).normal(size=(512, 256)).astype(np.float32)
    outs = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        outs.append([training_output(noise_model(LAYERS[n](), 256), x) for n in sorted(LAYERS)])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


SCRIPT = r"""
import hashlib
import numpy as np
import fastmlp
from fastmlp import layers
x = np.random.default_rng(0).normal(size=(64, 333)).astype(np.float32)
h = hashlib.sha256()
for layer in (layers.GaussianNoise(0.4, seed=2), layers.GaussianDropout(0.4, seed=2),
              layers.AlphaDropout(0.4, seed=2)):
    m = fastmlp.Sequential([fastmlp.Input((333,)), layer])
    for step in (0, 1, 2**33):
        m._core.training_step = step
        h.update(np.ascontiguousarray(m(x, training=True)).tobytes())
print(fastmlp.cpu_info()["isa"], h.hexdigest())
"""


@pytest.mark.skipif("avx2" not in fastmlp.cpu_info()["supported_isas"],
                    reason="this CPU has no AVX2: only the baseline build can run here")
def test_noise_is_bitwise_the_same_in_the_baseline_and_avx2_builds():
    results = []
    for isa in ("generic", "avx2"):
        env = dict(os.environ, FASTMLP_ISA=isa)
        out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                             env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        results.append(out.stdout.split())
    assert [r[0] for r in results] == ["generic", "avx2"]
    assert results[0][1] == results[1][1]


def test_philox_words_kernel_matches_the_scalar_generator():
    """The AVX2 philox_words gives Dropout's words: a rate-0.5 Dropout mask equals the
    AlphaDropout keep pattern of the same seed and step."""
    x = np.ones((37, 101), np.float32)
    drop = _core.Model(101, [{"type": "dropout", "rate": 0.5, "seed": 77}])
    alpha = _core.Model(101, [{"type": "alpha_dropout", "rate": 0.5, "seed": 77}])
    drop.training_step = alpha.training_step = 12
    kept_d = drop.forward(x, training=True) != 0
    y = alpha.forward(x, training=True)
    assert np.array_equal(kept_d, y > y.min() + 1e-3)


def test_save_load_replays_the_noise():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8)).astype(np.float32), rng.normal(size=(64, 1)).astype(np.float32)
    m = fastmlp.Sequential([fastmlp.Input((8,)), layers.GaussianNoise(0.2), layers.Dense(8),
                            layers.GaussianDropout(0.2), layers.AlphaDropout(0.1),
                            layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.fit(x, y, epochs=1, verbose=0)
    copy = fastmlp.models.load_model(_saved(m))
    a = m.fit(x, y, epochs=2, verbose=0).history["loss"]
    b = copy.fit(x, y, epochs=2, verbose=0).history["loss"]
    assert a == b
    for wa, wb in zip(m.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def _saved(model):
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "m.fastmlp")
    model.save(path)
    return path


@pytest.mark.parametrize("call, pattern", [
    (lambda: layers.GaussianNoise(1.5), r"`stddev`.*between 0 and 1.*stddev=1.5"),
    (lambda: layers.GaussianNoise(-0.1), r"stddev=-0.1"),
    (lambda: layers.GaussianNoise("0.1"), r"stddev='0.1'"),
    (lambda: layers.GaussianDropout(1.0), r"rate=1"),
    (lambda: layers.GaussianDropout(-0.5), r"`rate`.*rate=-0.5"),
    (lambda: layers.AlphaDropout(1.0), r"rate=1"),
    (lambda: layers.AlphaDropout(0.2, noise_shape=(None, 1)), r"noise_shape"),
    (lambda: layers.AlphaDropout(0.2, seed=-1), r"`seed`.*seed=-1"),
    (lambda: layers.GaussianNoise(0.2, seed=1.5), r"`seed`.*seed=1.5"),
])
def test_bad_arguments_name_themselves(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_rate_zero_and_stddev_zero_are_the_identity_in_training():
    x = np.random.default_rng(0).normal(size=(10, 64)).astype(np.float32)
    for layer in (layers.GaussianNoise(0.0), layers.GaussianDropout(0.0), layers.AlphaDropout(0)):
        np.testing.assert_array_equal(noise_model(layer)(x, training=True), x)
