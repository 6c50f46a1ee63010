"""`_core.Model` (docs/core_api.md): construction, weights, training, determinism, inference paths,
input checks, callbacks and interruption."""

import os
import signal
import threading

import numpy as np
import pytest

from _core_helpers import batchnorm, blobs, dense, sgd, sparse_ce, hooks
from fastmlp import _core, get_num_threads, set_num_threads


@pytest.fixture
def threads():
    before = get_num_threads()
    yield set_num_threads
    set_num_threads(before)


def seed_net(input_dim=784):
    m = _core.Model(input_dim, [dense(128, "relu", 1), dense(64, "relu", 2), dense(10, "linear", 3)])
    m.compile(sparse_ce(True), sgd(0.05, 0.9), ["sparse_categorical_accuracy"])
    return m


def test_construction_and_weights():
    m = _core.Model(4, [dense(3, "relu"), batchnorm(), dense(2, use_bias=False)])
    assert m.output_dim == 2 and m.num_layers == 3
    assert m.layer_output_dims() == [3, 3, 2]
    shapes = [w.shape for w in m.get_weights()]
    assert shapes == [(4, 3), (3,), (3,), (3,), (3,), (3,), (3, 2)]
    w = [np.full_like(a, i) for i, a in enumerate(m.get_weights())]
    m.set_weights(w)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), w))
    with pytest.raises(ValueError, match=r"array 0 \(kernel\) has shape \(3, 4\), expected \(4, 3\)"):
        m.set_weights([w[0].T] + w[1:])
    with pytest.raises(ValueError, match="expected 7 arrays"):
        m.set_weights(w[:2])


@pytest.mark.parametrize("layers, message", [
    ([{"type": "dense", "units": 0}], r"layer 0.*units"),
    ([dense(3), {"type": "conv"}], r"layer 1.*unknown layer type"),
    ([{"type": "dropout", "rate": 1.0}], r"layer 0.*rate"),
    ([{"type": "dense", "units": 2, "activation": "nope"}], r"layer 0.*activation"),
    ([], "must not be empty"),
])
def test_bad_layer_specs(layers, message):
    with pytest.raises(ValueError, match=message):
        _core.Model(3, layers)


def test_training_reaches_low_loss():
    x, y = blobs()
    m = _core.Model(8, [dense(16, "relu"), dense(3)])
    m.compile(sparse_ce(True), {"name": "adam", "learning_rate": 0.01}, ["sparse_categorical_accuracy"])
    first = m.train_epoch(x, y, batch_size=32, seed=0)
    for e in range(1, 15):
        logs = m.train_epoch(x, y, batch_size=32, seed=e)
    assert logs["loss"] < 0.1 < first["loss"]
    assert logs["sparse_categorical_accuracy"] == 1.0
    ev = m.evaluate(x, y, batch_size=64)
    assert ev["loss"] < 0.1 and ev["sparse_categorical_accuracy"] == 1.0


def test_determinism_across_thread_counts(threads):
    rng = np.random.default_rng(0)
    x = rng.random((700, 784), dtype=np.float32)
    y = rng.integers(0, 10, 700).astype(np.int32)
    results = []
    for t in (1, 2):
        threads(t)
        m = seed_net()
        for e in range(2):
            m.train_epoch(x, y, batch_size=128, seed=e)
        results.append(m.get_weights() + [m.predict(x)])
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_same_seed_same_result_and_shuffle_matters():
    x, y = blobs(200)
    runs = []
    for seed in (3, 3, 4):
        m = _core.Model(8, [dense(8, "tanh"), dense(3)])
        m.compile(sparse_ce(True), sgd(0.1), [])
        m.train_epoch(x, y, batch_size=16, seed=seed)
        runs.append(m.get_weights()[0])
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_batch_loop_allocates_nothing():
    x, y = blobs(1000, d=20)
    m = _core.Model(20, [dense(32, "gelu"), batchnorm(), {"type": "dropout", "rate": 0.2, "seed": 1},
                         dense(3, "softmax")])
    m.compile(sparse_ce(False), {"name": "adam"}, ["sparse_categorical_accuracy"])
    counts = []
    m.train_epoch(x, y, batch_size=96, batch_callback=lambda b, logs: counts.append(
        hooks().workspace_allocations(m)))
    m.train_epoch(x, y, batch_size=96, batch_callback=lambda b, logs: counts.append(
        hooks().workspace_allocations(m)))
    assert counts[0] >= 1
    assert len(set(counts)) == 1


def test_predict_paths_agree():
    rng = np.random.default_rng(1)
    x = rng.random((3000, 784), dtype=np.float32)
    m = seed_net()
    m.train_epoch(x[:500], rng.integers(0, 10, 500).astype(np.int32), batch_size=64)
    p = m.predict(x)
    assert p.shape == (3000, 10) and p.dtype == np.float32
    assert np.array_equal(m.forward(x, training=False), p)
    rows = np.concatenate([m.predict(x[i:i + 1]) for i in range(0, 3000, 250)])
    np.testing.assert_allclose(rows, p[::250], rtol=1e-5, atol=1e-5)
    small = m.predict(x[:7])
    np.testing.assert_allclose(small, p[:7], rtol=1e-5, atol=1e-5)


def test_uint8_with_fused_rescaling_equals_prescaled_float32():
    rng = np.random.default_rng(2)
    xu = rng.integers(0, 256, size=(300, 50), dtype=np.uint8)
    y = rng.integers(0, 4, 300).astype(np.int32)
    scale = 1.0 / 255.0
    xf = xu.astype(np.float32) * np.float32(scale)
    ma = _core.Model(50, [{"type": "rescaling", "scale": scale, "offset": 0.0}, dense(16, "relu"), dense(4)])
    mb = _core.Model(50, [dense(16, "relu"), dense(4)])
    for m in (ma, mb):
        m.compile(sparse_ce(True), sgd(0.1, 0.9), [])
    la = ma.train_epoch(xu, y, batch_size=32, seed=1)
    lb = mb.train_epoch(xf, y, batch_size=32, seed=1)
    assert la == lb
    assert all(np.array_equal(a, b) for a, b in zip(ma.get_weights(), mb.get_weights()))
    assert np.array_equal(ma.predict(xu), mb.predict(xf))
    np.testing.assert_array_equal(mb.predict(xf.astype(np.float64)), mb.predict(xf))


def test_y_pred_out_and_callbacks():
    x, y = blobs(100)
    m = _core.Model(8, [dense(3, "softmax")])
    m.compile(sparse_ce(False), sgd(0.0), ["sparse_categorical_accuracy"])
    out = np.full((100, 3), np.nan, dtype=np.float32)
    calls = []
    logs = m.train_epoch(x, y, batch_size=30, y_pred_out=out,
                         batch_callback=lambda b, lg: calls.append((b, dict(lg))), callback_every=2)
    np.testing.assert_allclose(out, m.predict(x), rtol=1e-6)  # learning rate 0: same weights
    assert [c[0] for c in calls] == [1, 3]
    assert set(calls[-1][1]) == {"loss", "sparse_categorical_accuracy"}
    assert logs["loss"] == pytest.approx(m.evaluate(x, y)["loss"], rel=1e-5)

    def boom(b, lg):
        raise RuntimeError("stop here")
    with pytest.raises(RuntimeError, match="stop here"):
        m.train_epoch(x, y, batch_callback=boom)


def test_keyboard_interrupt_stops_cleanly():
    rng = np.random.default_rng(3)
    x = rng.random((20000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 20000).astype(np.int32)
    m = seed_net()
    timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in range(100):
            m.train_epoch(x, y, batch_size=32)
    timer.join()
    assert 0 < m.iterations < 100 * 625
    assert all(np.isfinite(w).all() for w in m.get_weights())


def test_gradient_split_equals_train_on_batch():
    x, y = blobs(64)
    a = _core.Model(8, [dense(8, "relu"), dense(3)])
    b = _core.Model(8, [dense(8, "relu"), dense(3)])
    for m in (a, b):
        m.compile(sparse_ce(True), {"name": "adam", "learning_rate": 0.01}, [])
    loss, grads = a.compute_gradients(x, y)
    a.apply_gradients(grads)
    logs = b.train_on_batch(x, y)
    assert logs["loss"] == pytest.approx(loss, rel=1e-6)
    assert all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))
    assert a.iterations == b.iterations == 1
    with pytest.raises(ValueError, match="expected 4 arrays"):
        a.apply_gradients(grads[:3])


def test_optimizer_state_and_learning_rate():
    x, y = blobs(64)
    m = _core.Model(8, [dense(3)])
    m.compile(sparse_ce(True), {"name": "adam", "learning_rate": 0.01}, [])
    assert m.learning_rate == pytest.approx(0.01)
    m.train_epoch(x, y, batch_size=16)
    it, slots = m.get_optimizer_state()
    assert it == 4 and len(slots) > 0
    m2 = _core.Model(8, [dense(3)])
    m2.compile(sparse_ce(True), {"name": "adam", "learning_rate": 0.01}, [])
    m2.set_weights(m.get_weights())
    m2.set_optimizer_state(it, slots)
    m.train_epoch(x, y, batch_size=16, seed=5)
    m2.train_epoch(x, y, batch_size=16, seed=5)
    assert all(np.array_equal(p, q) for p, q in zip(m.get_weights(), m2.get_weights()))
    m.learning_rate = 0.5
    assert m.learning_rate == pytest.approx(0.5)


@pytest.mark.parametrize("lr, shown", [(-1.0, "-1"), (float("nan"), "nan"), (float("inf"), "inf")])
def test_a_bad_learning_rate_is_refused_once_in_keras_words(lr, shown):
    m = _core.Model(8, [dense(3)])
    m.compile(sparse_ce(True), sgd(0.1), [])
    with pytest.raises(ValueError, match=r"^Received an invalid value for `learning_rate`, "
                                         rf"expected a finite float >= 0\. Received: "
                                         rf"learning_rate={shown}$"):
        m.learning_rate = lr
    assert m.learning_rate == pytest.approx(0.1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=np.zeros((4, 7), np.float32)), r"expected 8 values per sample.*x\.shape\[1\]=7"),
    (dict(x=np.zeros((4,), np.float32)), r"`x`, expected a 2-D array.*x\.shape=\(4,\)"),
    (dict(x=np.zeros((4, 8), np.int64)), r"float32, float64 or uint8 data.*x\.dtype=int64"),
    (dict(y=np.array([0, 1, 2, 3], np.int32)), r"labels in \[0, 2\].*Received: y\[3\]=3"),
    (dict(y=np.array([0, 1, 2], np.int32)), r"`y`, expected 4 samples.*y\.shape\[0\]=3"),
    (dict(y=np.array([0, 1, 2, 1.5])), r"integer class labels.*Received: y\[3\]=1\.5"),
    (dict(sample_weight=np.ones(3, np.float32)), r"`sample_weight`, expected 4 samples"),
    (dict(batch_size=0), r"`batch_size`, expected a positive integer\. Received: batch_size=0"),
    (dict(x=np.array([[0] * 7 + [np.nan]] * 4, np.float32)), r"finite.*Received: x\[0, 7\]=nan"),
    (dict(sample_weight=np.array([1, np.inf, 1, 1], np.float32)),
     r"finite non-negative weights\. Received: sample_weight\[1\]=inf"),
])
def test_input_checks(kwargs, message):
    m = _core.Model(8, [dense(3)])
    m.compile(sparse_ce(True), sgd(), [])
    args = dict(x=np.zeros((4, 8), np.float32), y=np.zeros(4, np.int32))
    args.update(kwargs)
    w = m.get_weights()
    with pytest.raises(ValueError, match=message):
        m.train_epoch(**args)
    assert all(np.array_equal(p, q) for p, q in zip(w, m.get_weights()))


def test_inference_input_checks():
    m = _core.Model(8, [dense(3)])
    with pytest.raises(ValueError, match=r"finite values\. Received: x\[2, 0\]=inf"):
        m.predict(np.array([[0] * 8, [0] * 8, [np.inf] * 8], np.float32))
    with pytest.raises(ValueError, match="must be compiled"):
        m.train_epoch(np.zeros((2, 8), np.float32), np.zeros(2, np.int32))
    with pytest.raises(TypeError, match="NumPy array"):
        m.predict([[0.0] * 8])
    x = np.arange(64, dtype=np.float32).reshape(8, 8)
    np.testing.assert_array_equal(m.predict(x.T), m.predict(np.ascontiguousarray(x.T)))
    np.testing.assert_allclose(m.predict(x[::2]), m.predict(x)[::2], rtol=1e-6)


def test_callbacks_cannot_recompile_or_nest_loops():
    x, y = blobs(64)
    m = _core.Model(8, [dense(3)])
    m.compile(sparse_ce(True), sgd(), [])

    def recompile(b, logs):
        m.compile(sparse_ce(False), sgd(), [])
    with pytest.raises(ValueError, match="compile: not allowed while this model is training"):
        m.train_epoch(x, y, batch_callback=recompile)
    with pytest.raises(ValueError, match="train_epoch: not allowed"):
        m.train_epoch(x, y, batch_callback=lambda b, logs: m.train_epoch(x, y))
    assert "loss" in m.train_epoch(x, y)  # usable again afterwards


def test_dense_targets_checked():
    m = _core.Model(2, [dense(2)])
    m.compile({"name": "mean_squared_error"}, sgd(), ["mean_absolute_error"])
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"finite targets\. Received: y\[1, 0\]=nan"):
        m.train_epoch(x, np.array([[0, 0], [np.nan, 0], [0, 0]], np.float32))
    with pytest.raises(ValueError, match=r"targets of shape \(samples, 2\).*y\.shape=\(3, 3\)"):
        m.train_epoch(x, np.zeros((3, 3), np.float32))
    logs = m.evaluate(x, np.ones((3, 2), np.float64))
    assert set(logs) == {"loss", "mean_absolute_error"}
    with pytest.raises(ValueError, match="needs integer labels"):
        m.compile({"name": "mean_squared_error"}, sgd(), ["sparse_categorical_accuracy"])


@pytest.mark.parametrize("nthreads", [1, 2])
def test_first_nonfinite_row_is_named_when_rows_are_gathered_in_groups(threads, nthreads):
    # predict converts a few rows at a time, a column block of each in turn, split over threads;
    # the Dataset that fit and evaluate read scans its rows split over threads: NaN rows 6 and 5
    # share a group, 130 and 250 lie further on (250 on the second thread's half). Every path
    # must name row 5, a shuffled epoch too (the Dataset is checked before any batch).
    threads(nthreads)
    rng = np.random.default_rng(0)
    x = rng.random((300, 784)).astype(np.float32)
    y = rng.integers(0, 10, 300).astype(np.int32)
    bad = [6, 5, 130, 250]
    x[bad, 777] = np.nan  # in the last column block
    m = seed_net()
    calls = {
        "fit": lambda: m.train_epoch(x, y, batch_size=300, shuffle=False, seed=1),
        "evaluate": lambda: m.evaluate(x, y, batch_size=300),
        "predict float64": lambda: m.predict(x.astype(np.float64)),
        "forward in training mode": lambda: m.forward(x.astype(np.float64), training=True),
        "shuffled fit": lambda: m.train_epoch(x, y, batch_size=300, seed=1),
    }
    for call in calls.values():
        with pytest.raises(ValueError, match=r"finite values\. Received: x\[5, 777\]=nan"):
            call()
    x[bad] = 0.5  # and once the rows are finite, the same batch trains
    assert np.isfinite(m.train_epoch(x, y, batch_size=300, seed=1)["loss"])
