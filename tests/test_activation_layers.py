"""ReLU, LeakyReLU, ELU, PReLU and Softmax layers: gradients against PyTorch autograd, outputs
against Keras 3 from the same weights, and the details of Keras's definitions."""

import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import layers

from _layers19_helpers import (both, check_gradients, data, keras_weights,  # noqa: F401
                               seeded, train_both)  # seeded: an autouse fixture

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_relu(s=0.0, top=None, t=0.0):
    def fn(h, _):
        above = h if top is None else torch.clamp(h, max=top)
        return torch.where(h > t, above, s * (h - t))
    return fn


RELU_CASES = {
    "default": ({}, torch_relu()),
    "relu6": ({"max_value": 6.0}, torch_relu(top=6.0)),
    "capped_leaky_threshold": ({"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.3},
                               torch_relu(0.1, 1.5, 0.3)),
    "threshold": ({"threshold": 0.5}, torch_relu(t=0.5)),
    "leaky": ({"negative_slope": 0.2}, torch_relu(0.2)),
}


@pytest.mark.parametrize("case", sorted(RELU_CASES))
def test_relu_gradients_match_torch(case):
    kwargs, fn = RELU_CASES[case]
    check_gradients([layers.ReLU(**kwargs)], fn)


@pytest.mark.parametrize("slope", [0.3, 0.0, 1.7])
def test_leaky_relu_gradients_match_torch(slope):
    check_gradients([layers.LeakyReLU(negative_slope=slope)],
                    lambda h, _: F.leaky_relu(h, slope))


@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.0, -0.5])
def test_elu_gradients_match_torch(alpha):
    check_gradients([layers.ELU(alpha=alpha)],
                    lambda h, _: torch.where(h > 0, h, alpha * torch.expm1(h)))


def test_prelu_gradients_match_torch():
    grads = check_gradients([layers.PReLU(alpha_initializer="random_uniform")],
                            lambda h, p: torch.where(h > 0, h, p[0] * h))
    assert np.abs(grads[2]).max() > 1e-4  # alpha learns


@pytest.mark.parametrize("shared, shape", [([1], (1, 4)), ([2], (3, 1)), ([1, 2], (1, 1)),
                                           (None, (3, 4))])
def test_prelu_shared_axes_gradients_match_torch(shared, shape):
    layer = layers.PReLU(alpha_initializer="random_uniform", shared_axes=shared)
    m = check_gradients([layer], lambda h, p: torch.where(
        h.reshape(-1, 3, 4) > 0, h.reshape(-1, 3, 4), p[0] * h.reshape(-1, 3, 4)),
        reshape=(3, 4))
    assert layer.get_weights()[0].shape == shape and m[2].shape == shape


def test_softmax_gradients_match_torch():
    check_gradients([layers.Softmax()], lambda h, _: torch.softmax(h, -1))


@pytest.mark.parametrize("axis, rows", [(-1, (3, 4)), (2, (3, 4)), ([-2, -1], (12,)),
                                        ([1, 2], (12,))])
def test_softmax_along_trailing_axes_gradients_match_torch(axis, rows):
    check_gradients([layers.Softmax(axis=axis)],
                    lambda h, _: torch.softmax(h.reshape(-1, *rows), -1), reshape=(3, 4))


# ---- against Keras 3 ----------------------------------------------------------------------------
KERAS_CASES = {
    "relu": ("ReLU", {}),
    "relu_capped_leaky_threshold": ("ReLU", {"max_value": 1.5, "negative_slope": 0.1,
                                             "threshold": 0.3}),
    "relu6": ("ReLU", {"max_value": 6.0}),
    "relu_threshold": ("ReLU", {"threshold": 0.5}),
    "relu_slope": ("ReLU", {"negative_slope": 0.25}),
    "leaky_relu": ("LeakyReLU", {}),
    "leaky_relu_zero": ("LeakyReLU", {"negative_slope": 0.0}),
    "elu": ("ELU", {}),
    "elu_alpha": ("ELU", {"alpha": 0.5}),
    "elu_negative_alpha": ("ELU", {"alpha": -0.5}),
    "prelu": ("PReLU", {"alpha_initializer": "random_uniform"}),
    "softmax": ("Softmax", {}),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_outputs_match_keras(case):
    name, kwargs = KERAS_CASES[case]
    ours, theirs = both(lambda mod: [getattr(mod, name)(**kwargs)], flatten=False)
    x, _ = data(n=32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs", [
    ("Softmax", {"axis": -1}), ("Softmax", {"axis": [-2, -1]}),
    ("PReLU", {"shared_axes": [1], "alpha_initializer": "random_uniform"}),
    ("PReLU", {"shared_axes": 2, "alpha_initializer": "random_uniform"})])
def test_reshaped_outputs_match_keras(name, kwargs):
    ours, theirs = both(lambda mod: [getattr(mod, name)(**kwargs)], reshape=(3, 4))
    x, _ = data(n=32)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in keras_weights(theirs)]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_prelu_trains_as_keras():
    """Five epochs of SGD from the same weights give Keras's losses and alpha."""
    ours, theirs = both(lambda mod: [mod.PReLU(), mod.Dense(3)], flatten=False)
    a, b = train_both(ours, theirs, "sgd", epochs=5)
    np.testing.assert_allclose(a, b, rtol=1e-5)
    np.testing.assert_allclose(ours.layers[1].get_weights()[0],
                               keras_weights(theirs.layers[1])[0], atol=1e-6)
    assert np.abs(ours.layers[1].get_weights()[0]).max() > 1e-3


# ---- Keras's definitions ------------------------------------------------------------------------
def _apply(layer, x):
    return fastmlp.Sequential([fastmlp.Input((x.shape[1],)), layer]).predict(x, verbose=0)


def test_relu_gives_positive_zero_below_the_threshold():
    # Keras's relu is max(x, 0): +0.0 for negative inputs, never -0.0 (0 * x would be).
    out = _apply(layers.ReLU(), np.array([[-3.0, -0.5, 0.0, 2.0]], np.float32))
    np.testing.assert_array_equal(out, [[0, 0, 0, 2]])
    assert not np.signbit(out).any()
    out = _apply(layers.ReLU(threshold=1.0, max_value=1.5),
                 np.array([[-2.0, 1.0, 1.2, 3.0]], np.float32))
    np.testing.assert_array_equal(out, np.float32([[0, 0, 1.2, 1.5]]))
    assert not np.signbit(out).any()


def test_relu_formula_as_keras_documents():
    x = np.array([[-10, -5, 0.0, 5, 10]], np.float32)
    np.testing.assert_allclose(_apply(layers.ReLU(max_value=10, negative_slope=0.5), x),
                               [[-5, -2.5, 0, 5, 10]])
    np.testing.assert_allclose(_apply(layers.ReLU(max_value=5.0), x), [[0, 0, 0, 5, 5]])
    np.testing.assert_allclose(_apply(layers.ReLU(threshold=5.0), x), [[0, 0, 0, 0, 10]])


def test_leaky_relu_default_slope_is_keras_layer_default():
    assert layers.LeakyReLU().negative_slope == 0.3
    out = _apply(layers.LeakyReLU(), np.array([[-10.0, 2.0]], np.float32))
    np.testing.assert_allclose(out, [[-3.0, 2.0]], rtol=1e-6)


def test_leaky_relu_alpha_is_deprecated_as_in_keras():
    with pytest.warns(UserWarning, match="`alpha` is deprecated"):
        layer = layers.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1
    assert "alpha" not in layer.get_config()


def test_elu_alpha_zero_is_relu_not_the_default():
    # The activation spec maps a parameter of 0 to Keras's default (1.0); the layer does not.
    out = _apply(layers.ELU(alpha=0.0), np.array([[-3.0, 2.0]], np.float32))
    np.testing.assert_array_equal(np.abs(out), [[0.0, 2.0]])


def test_final_softmax_fuses_with_crossentropy():
    """Dense + Softmax under categorical cross-entropy trains as Dense with from_logits=True
    (inputs small enough that no probability reaches the loss's 1e-7 clip)."""
    fastmlp.utils.set_random_seed(1)
    x = data(n=64)[0] * 0.25
    y = np.eye(3, dtype=np.float32)[np.arange(64) % 3]
    a = fastmlp.Sequential([fastmlp.Input((12,)), layers.Dense(3), layers.Softmax()])
    b = fastmlp.Sequential([fastmlp.Input((12,)), layers.Dense(3)])
    b.set_weights(a.get_weights())
    a.compile(optimizer="sgd", loss="categorical_crossentropy")
    b.compile(optimizer="sgd", loss=fastmlp.losses.CategoricalCrossentropy(from_logits=True))
    ha = a.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"]
    hb = b.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ha, hb, rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("axis, pattern", [(0, "batch axis"), (1, "last axes"),
                                           ([1, 2, 2], "repeats"), (3, "out of bounds")])
def test_softmax_axes_it_cannot_take_are_refused(axis, pattern):
    with pytest.raises(ValueError, match=pattern):
        fastmlp.Sequential([fastmlp.Input((3, 4)), layers.Softmax(axis=axis)])


def test_the_layers_keep_any_sample_shape():
    x = np.random.default_rng(0).normal(size=(5, 2, 3)).astype(np.float32)
    for layer in (layers.ReLU(), layers.LeakyReLU(), layers.ELU(), layers.PReLU(),
                  layers.Softmax()):
        m = fastmlp.Sequential([fastmlp.Input((2, 3)), layer, layers.Flatten()])
        assert m.layers[0].compute_output_shape((None, 2, 3)) == (None, 2, 3)
        assert m.predict(x, verbose=0).shape == (5, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastmlp.Sequential([fastmlp.Input((2, 3)), layers.PReLU(shared_axes=[1, 2])])
