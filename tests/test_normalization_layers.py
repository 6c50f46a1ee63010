"""LayerNormalization and Normalization (with adapt): gradients against PyTorch autograd,
outputs and adapt against Keras 3, and Keras's argument checks."""

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

from _layers19_helpers import (both, check_gradients, data, keras, keras_weights,  # noqa: F401
                               seeded, train_both)  # seeded: an autouse fixture

torch = pytest.importorskip("torch")

RANDOM = {"gamma_initializer": "random_uniform", "beta_initializer": "random_uniform"}


def torch_layer_norm(rows, center=True, scale=True, rms=False, eps=1e-3):
    def fn(h, p):
        v = h.reshape(-1, *rows)
        axes = tuple(range(1, len(rows) + 1))
        mean = v.mean(axes, keepdim=True)
        var = v.var(axes, unbiased=False, keepdim=True)
        out = (v if rms else v - mean) / torch.sqrt(var + eps)
        i = 0
        if scale or rms:
            out, i = out * p[0], 1
        if center and not rms:
            out = out + p[i]
        return out
    return fn


@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False),
                                           (False, False)])
def test_layer_normalization_gradients_match_torch(center, scale):
    layer = layers.LayerNormalization(center=center, scale=scale, **RANDOM)
    check_gradients([layer, layers.ReLU()], lambda h, p: torch.relu(
        torch_layer_norm((12,), center, scale)(h, p)))


def test_layer_normalization_rms_scaling_gradients_match_torch():
    with pytest.warns(UserWarning, match="rms_scaling=True`, which is deprecated"):
        layer = layers.LayerNormalization(rms_scaling=True, epsilon=0.1, **RANDOM)
    assert [n for n, _ in layer.weight_names()] == ["gamma"]
    check_gradients([layer], torch_layer_norm((12,), rms=True, eps=0.1))


@pytest.mark.parametrize("axis, rows", [(-1, (4,)), ([-2, -1], (3, 4)), ([1, 2], (3, 4))])
def test_layer_normalization_along_trailing_axes_gradients_match_torch(axis, rows):
    layer = layers.LayerNormalization(axis=axis, epsilon=1e-2, **RANDOM)
    check_gradients([layer], torch_layer_norm(rows, eps=1e-2), reshape=(3, 4))
    assert layer.get_weights()[0].shape == rows


@pytest.mark.parametrize("kwargs", [{}, {"center": False}, {"epsilon": 1e-6},
                                    {"axis": [-2, -1]}, {"axis": -1}])
def test_layer_normalization_outputs_match_keras(kwargs):
    reshape = (3, 4) if "axis" in kwargs else None
    ours, theirs = both(lambda mod: [mod.LayerNormalization(**kwargs, **RANDOM)],
                        reshape=reshape)
    x, _ = data(n=32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=2e-6)


def test_layer_normalization_trains_as_keras():
    ours, theirs = both(lambda mod: [mod.LayerNormalization(), mod.Dense(3)], flatten=False)
    a, b = train_both(ours, theirs, "adam", epochs=4)
    np.testing.assert_allclose(a, b, rtol=2e-5)
    for w, v in zip(ours.get_weights(), keras_weights(theirs)):
        np.testing.assert_allclose(w, v, rtol=1e-4, atol=1e-5)


def test_layer_normalization_does_not_depend_on_the_thread_count(threads_restored):
    """Row statistics and the gamma/beta gradients run in fixed orders."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(512, 256)).astype(np.float32)
    y = rng.normal(size=(512, 4)).astype(np.float32)
    runs = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        fastmlp.utils.set_random_seed(3)
        m = fastmlp.Sequential([fastmlp.Input((256,)), layers.LayerNormalization(**RANDOM),
                                layers.Dense(4)])
        m.compile(optimizer="sgd", loss="mse")
        m.fit(x, y, epochs=2, batch_size=512, verbose=0)
        runs.append(m.get_weights() + [m.predict(x, verbose=0)])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


# ---- Normalization ------------------------------------------------------------------------------
def test_normalization_input_gradient_matches_torch():
    norm = layers.Normalization(mean=np.arange(12.0) / 10, variance=np.arange(1.0, 13.0) / 4)
    check_gradients([norm], lambda h, _: (h - torch.arange(12.0, dtype=torch.float64) / 10) /
                    torch.sqrt(torch.arange(1.0, 13.0, dtype=torch.float64) / 4))
    inverted = layers.Normalization(mean=0.5, variance=2.0, invert=True)
    check_gradients([inverted], lambda h, _: 0.5 + h * np.sqrt(2.0))


@pytest.mark.parametrize("axis", [-1, None, 1, 2, (1, 2), (-2, -1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_adapt_on_an_array_gives_kerass_statistics(axis, dtype):
    rng = np.random.default_rng(0)
    x = (rng.normal(3, 2, size=(50, 3, 4)) * (10 if dtype is np.int64 else 1)).astype(dtype)
    ours, theirs = layers.Normalization(axis=axis), keras().layers.Normalization(axis=axis)
    ours.adapt(x)
    theirs.adapt(x)
    for a, b in zip(ours.get_weights(), keras_weights(theirs)):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b.astype(np.float32))  # NumPy's moments, as Keras
    m = fastmlp.Sequential([fastmlp.Input((3, 4)), ours, layers.Flatten()])
    k = keras().Sequential([keras().Input((3, 4)), theirs, keras().layers.Flatten()])
    np.testing.assert_allclose(m.predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-6,
                               atol=1e-6)


def _keras_batch_moments(batches, reduce):
    """Keras's running combination (normalization.py, the iterable branch), in float32."""
    mean = var = 0.0
    count = 0
    for b in batches:
        b = b.astype(np.float32)
        bm, bv = b.mean(axis=reduce), b.var(axis=reduce)
        n = int(np.prod([b.shape[d] for d in reduce]))
        count += n
        w = float(n) / count
        new = mean * (1.0 - w) + bm * w
        var = (var + (mean - new) ** 2) * (1.0 - w) + (bv + (bm - new) ** 2) * w
        mean = new
    return mean, var


@pytest.mark.parametrize("kind", ["list", "generator", "xy_tuples", "pydataset"])
def test_adapt_on_batches_combines_them_as_keras(kind):
    rng = np.random.default_rng(2)
    x = rng.normal(3, 2, size=(53, 5)).astype(np.float32)
    chunks = [x[i:i + 8] for i in range(0, 53, 8)]

    class Batches:  # a PyDataset-like sequence: __len__ and __getitem__, no __iter__
        def __len__(self):
            return len(chunks)

        def __getitem__(self, i):
            return chunks[i], np.zeros(len(chunks[i]))

    source = {"list": chunks, "generator": (c for c in chunks),
              "xy_tuples": [(c, np.zeros(len(c))) for c in chunks], "pydataset": Batches()}[kind]
    norm = layers.Normalization()
    norm.adapt(source)
    mean, var = _keras_batch_moments(chunks, (0,))
    np.testing.assert_allclose(norm.get_weights()[0], mean, rtol=1e-6)
    np.testing.assert_allclose(norm.get_weights()[1], var, rtol=1e-6)
    np.testing.assert_allclose(norm.get_weights()[0], x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm.get_weights()[1], x.var(0), rtol=1e-5)


@pytest.mark.parametrize("mean, variance, axis", [
    (0.5, 2.0, -1), (np.arange(12.0), np.arange(1.0, 13.0), -1), (1.0, 3.0, None)])
def test_given_statistics_match_keras(mean, variance, axis):
    for invert in (False, True):
        ours, theirs = both(lambda mod: [mod.Normalization(axis=axis, mean=mean,
                                                           variance=variance, invert=invert)],
                            flatten=False)
        assert ours.layers[1].get_weights() == []
        x, _ = data(n=16)
        np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                                   rtol=1e-5, atol=1e-5)


def test_given_statistics_of_lower_rank_broadcast_from_the_right_as_keras():
    ours, theirs = both(lambda mod: [mod.Normalization(axis=(1, 2), mean=np.arange(4.0),
                                                       variance=np.ones(4) * 2)],
                        reshape=(3, 4))
    x, _ = data(n=16)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_adapt_before_and_after_the_model_is_built():
    x, y = data(n=64, d=6)
    x = x * 5 + 7
    early = layers.Normalization()
    early.adapt(x)
    assert early.mean.shape == (1, 6)
    np.testing.assert_array_equal(early.mean[0], x.mean(0))
    m1 = fastmlp.Sequential([fastmlp.Input((6,)), early, layers.Dense(2)])
    late = layers.Normalization()
    m2 = fastmlp.Sequential([fastmlp.Input((6,)), late, layers.Dense(2)])
    np.testing.assert_array_equal(m2.layers[0].get_weights()[1], np.ones(6))
    late.adapt(x)
    for a, b in zip(early.get_weights(), late.get_weights()):
        np.testing.assert_array_equal(a, b)
    m2.set_weights(m1.get_weights())
    np.testing.assert_array_equal(m1.predict(x, verbose=0), m2.predict(x, verbose=0))
    out = fastmlp.Sequential([fastmlp.Input((6,)), early]).predict(x, verbose=0)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, rtol=1e-4)


def test_mean_and_variance_answer_numpy_as_keras_variables():
    """Keras code reads ``normalizer.mean.numpy()`` (its statistics are Variables)."""
    x, _ = data(n=32, d=4)
    norm = layers.Normalization()
    norm.adapt(x)
    mean = norm.mean.numpy()
    assert type(mean) is np.ndarray and mean.shape == (1, 4)
    np.testing.assert_array_equal(mean[0], x.mean(0).astype(np.float32))
    np.testing.assert_array_equal(norm.variance.numpy(), np.asarray(norm.variance))


def test_normalization_first_trains_the_layers_above_it():
    x, y = data(n=128, d=6)
    norm = layers.Normalization()
    norm.adapt(x * 100)
    m = fastmlp.Sequential([fastmlp.Input((6,)), norm, layers.Dense(3)])
    m.compile(optimizer="adam", loss="mse")
    before = m.get_weights()
    h = m.fit(x * 100, y, epochs=5, verbose=0).history["loss"]
    after = m.get_weights()
    assert h[-1] < h[0]
    for a, b in zip(before[:3], after[:3]):  # mean, variance, count: not trained
        np.testing.assert_array_equal(a, b)
    assert [v.trainable for v in m.layers[0].weights] == [False] * 3


BAD = {
    "mean_without_variance": (lambda: layers.Normalization(mean=1.0), "both `mean` and"),
    "shapes_differ": (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0]),
                      "same shape"),
    "mean_rank": (lambda: layers.Normalization(axis=-1, mean=np.ones((2, 2)),
                                               variance=np.ones((2, 2))), "rank of `mean`"),
    "axis_str": (lambda: layers.Normalization(axis="x"), "`axis`"),
    "adapt_given": (lambda: layers.Normalization(mean=1.0, variance=1.0).adapt(np.ones((3, 2))),
                    "no statistics to adapt"),
    "adapt_nan": (lambda: layers.Normalization().adapt(np.array([[1.0], [np.nan]])), "NaN"),
    "adapt_empty": (lambda: layers.Normalization().adapt(np.zeros((0, 3))), "at least one"),
    "adapt_no_batches": (lambda: layers.Normalization().adapt([]), "empty iterable"),
    "adapt_1d_keeps_batch": (lambda: layers.Normalization().adapt(np.ones(5)), "batch axis"),
    "adapt_axis_range": (lambda: layers.Normalization(axis=3).adapt(np.ones((4, 2))),
                         "range"),
    "adapt_batches_differ": (lambda: layers.Normalization().adapt([np.ones((2, 3)),
                                                                   np.ones((2, 4))]),
                             "incompatible shape"),
    "model_shape_differs": (lambda: fastmlp.Sequential([fastmlp.Input((4,)), _adapted(3)]),
                            "incompatible shape"),
    "mean_not_broadcastable": (lambda: fastmlp.Sequential([
        fastmlp.Input((4,)), layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])]),
        "cannot be broadcast"),
}


def _adapted(width):
    norm = layers.Normalization()
    norm.adapt(np.ones((5, width)))
    return norm


@pytest.mark.parametrize("case", sorted(BAD))
def test_normalization_misuse_is_a_clear_error(case):
    call, pattern = BAD[case]
    with pytest.raises(ValueError, match=pattern):
        call()


def test_adapt_of_a_list_of_numbers_is_a_type_error_as_in_keras():
    with pytest.raises(TypeError, match="np.asarray"):
        layers.Normalization(axis=None).adapt([1.0, 2.0, 3.0])
    layer = layers.Normalization(axis=None)
    layer.adapt(np.asarray([1.0, 2.0, 3.0, 4.0, 5.0]))
    out = fastmlp.Sequential([fastmlp.Input((3,)), layer]).predict(
        np.array([[1.0, 2.0, 3.0]], np.float32), verbose=0)
    np.testing.assert_allclose(out, [[-1.4142135, -0.70710677, 0.0]], rtol=1e-6)


def test_layer_normalization_misuse_is_a_clear_error():
    with pytest.raises(TypeError, match="argument 'axis'"):
        layers.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="gamma_regularizer"):
        layers.LayerNormalization(gamma_regularizer="l2")
    with pytest.raises(ValueError, match="last axes"):
        fastmlp.Sequential([fastmlp.Input((3, 4)), layers.LayerNormalization(axis=1)])
    with pytest.raises(ValueError, match="batch axis"):
        fastmlp.Sequential([fastmlp.Input((3,)), layers.LayerNormalization(axis=0)])
    with pytest.raises(ValueError, match="epsilon"):
        layers.LayerNormalization(epsilon=-1)
