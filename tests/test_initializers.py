"""Initializers of fastmlp._core: Keras formulas and defaults, fans from shapes, determinism."""
import numpy as np
import pytest

from fastmlp import _core

TRUNC = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def draw(spec, shape):
    w = _core.initialize(spec, shape)
    assert w.dtype == np.float32 and w.shape == tuple(shape)
    return w.astype(np.float64)


@pytest.mark.parametrize("name,scale,mode", [
    ("glorot_uniform", 1.0, "avg"), ("he_uniform", 2.0, "in"), ("lecun_uniform", 1.0, "in"),
])
def test_uniform_variance_scaling(name, scale, mode):
    fan_in, fan_out = 400, 250
    fan = (fan_in + fan_out) / 2 if mode == "avg" else fan_in
    limit = np.sqrt(3 * scale / fan)
    w = draw({"name": name, "seed": 3}, (fan_in, fan_out))
    assert w.min() >= -limit and w.max() <= limit and w.max() > 0.99 * limit
    assert w.var() == pytest.approx(scale / fan, rel=0.02)


@pytest.mark.parametrize("name,scale,mode", [
    ("glorot_normal", 1.0, "avg"), ("he_normal", 2.0, "in"), ("lecun_normal", 1.0, "in"),
])
def test_truncated_normal_variance_scaling(name, scale, mode):
    fan_in, fan_out = 400, 250
    fan = (fan_in + fan_out) / 2 if mode == "avg" else fan_in
    stddev = np.sqrt(scale / fan) / TRUNC  # Keras VarianceScaling, truncated at 2 stddev
    w = draw({"name": name, "seed": 4}, (fan_in, fan_out))
    assert np.abs(w).max() <= 2 * stddev * (1 + 1e-6)
    assert w.var() == pytest.approx(scale / fan, rel=0.02)  # the truncation restores the target
    assert abs(w.mean()) < 4 * np.sqrt(scale / fan / w.size)


def test_keras_defaults_of_random_initializers():
    u = draw({"name": "random_uniform", "seed": 1}, (300, 300))
    assert u.min() >= -0.05 and u.max() < 0.05 and u.var() == pytest.approx(0.01 / 12, rel=0.02)
    n = draw({"name": "random_normal", "seed": 1}, (300, 300))
    assert n.std() == pytest.approx(0.05, rel=0.02) and np.abs(n).max() > 0.17
    t = draw({"name": "truncated_normal", "seed": 1}, (300, 300))
    assert np.abs(t).max() <= 0.1 + 1e-7 and t.std() == pytest.approx(0.05 * TRUNC, rel=0.02)


def test_arguments_are_used():
    u = draw({"name": "random_uniform", "minval": 2.0, "maxval": 3.0, "seed": 2}, (1000,))
    assert u.min() >= 2.0 and u.max() < 3.0
    n = draw({"name": "random_normal", "mean": 5.0, "stddev": 0.5, "seed": 2}, (20000,))
    assert n.mean() == pytest.approx(5.0, abs=0.02) and n.std() == pytest.approx(0.5, rel=0.03)
    assert np.all(draw({"name": "constant", "value": 0.75}, (3, 2)) == 0.75)
    assert np.all(draw("ones", (4,)) == 1) and np.all(draw("zeros", (4,)) == 0)


def test_fans_follow_keras_compute_fans():
    # 1-D: fan_in = fan_out = n; 4-D (kh, kw, in, out): receptive field multiplies both.
    w1 = draw({"name": "he_uniform", "seed": 5}, (50000,))
    assert np.abs(w1).max() <= np.sqrt(6 / 50000) * (1 + 1e-6)
    w4 = draw({"name": "glorot_uniform", "seed": 5}, (3, 3, 16, 32))
    limit = np.sqrt(6 / (9 * 16 + 9 * 32))
    assert np.abs(w4).max() <= limit * (1 + 1e-6) and np.abs(w4).max() > 0.98 * limit


def test_same_seed_same_values_and_prefix_stable():
    a = _core.initialize({"name": "glorot_normal", "seed": 11}, (64, 32))
    b = _core.initialize({"name": "glorot_normal", "seed": 11}, (64, 32))
    c = _core.initialize({"name": "glorot_normal", "seed": 12}, (64, 32))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # Element i depends only on (seed, i): a longer tensor with the same fans starts the same way.
    u = _core.initialize({"name": "random_uniform", "seed": 9}, (10,))
    v = _core.initialize({"name": "random_uniform", "seed": 9}, (100,))
    assert np.array_equal(u, v[:10])


def test_thread_count_does_not_change_values():
    before = _core.get_num_threads()
    try:
        _core.set_num_threads(1)
        a = _core.initialize({"name": "he_normal", "seed": 1}, (512, 300))
        _core.set_num_threads(2)
        b = _core.initialize({"name": "he_normal", "seed": 1}, (512, 300))
    finally:
        _core.set_num_threads(before)
    assert np.array_equal(a, b)


def test_bad_specs_are_value_errors():
    with pytest.raises(ValueError, match="valid names: .*truncated_normal"):
        _core.initialize({"name": "xavier"}, (2, 2))
    with pytest.raises(ValueError, match="unknown key 'std'"):
        _core.initialize({"name": "random_normal", "std": 1.0}, (2, 2))
    with pytest.raises(ValueError, match="stddev"):
        _core.initialize({"name": "random_normal", "stddev": -1.0}, (2, 2))
    with pytest.raises(ValueError, match="minval"):
        _core.initialize({"name": "random_uniform", "minval": 1.0, "maxval": 0.0}, (2, 2))
    with pytest.raises(ValueError, match="wrong type"):
        _core.initialize({"name": "constant", "value": "big"}, (2, 2))
