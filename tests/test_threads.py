"""fastmlp from several Python threads (issue 7): concurrent predict on one model equals serial
predict bit for bit, two models train at once deterministically, compute releases the GIL,
set_num_threads between fits is honoured, and callers that already use threads (NumPy, torch,
OpenMP) neither deadlock nor multiply fastmlp's threads."""

import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, layers

from _mlp_helpers import blobs
from _core_helpers import hooks


def mlp(seed=0, width=64, features=32):
    fastmlp.utils.set_random_seed(seed)
    model = fastmlp.Sequential([fastmlp.Input(shape=(features,)),
                                layers.Dense(width, activation="relu"),
                                layers.Dense(width, activation="relu"),
                                layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_threads(targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # reported by the main thread
                errors.append(e)
        return run
    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


@pytest.mark.parametrize("rows", [7, 300, 4000])  # the single-row path, small, parallel blocks
def test_predict_from_four_threads_equals_serial_bitwise(rows):
    x, _ = blobs(n=rows, features=32, seed=rows)
    model = mlp()
    expected = model.predict(x)
    results = [[] for _ in range(4)]

    def worker(i):
        def run():
            for _ in range(5):
                results[i].append(model.predict(x))
        return run
    run_threads([worker(i) for i in range(4)])
    for per_thread in results:
        assert len(per_thread) == 5
        for out in per_thread:
            np.testing.assert_array_equal(out, expected)


def test_two_models_train_in_two_threads_as_they_do_alone():
    data = [blobs(n=600, features=32, seed=s) for s in (1, 2)]

    def train(model, i):
        model.fit(*data[i], epochs=3, batch_size=32, verbose=0)
        return model.get_weights()
    serial = [train(mlp(1), 0), train(mlp(2), 1)]
    models = [mlp(1), mlp(2)]  # built (and seeded) here; only fit runs in the threads
    results = {}

    def worker(i):
        def run():
            results[i] = train(models[i], i)
        return run
    run_threads([worker(0), worker(1)])
    for i in range(2):
        for a, b in zip(results[i], serial[i]):
            np.testing.assert_array_equal(a, b)


def test_the_gil_is_released_during_fit():
    x, y = blobs(n=16000, features=64)
    model = mlp(width=256, features=64)
    model.fit(x[:64], y[:64], verbose=0)  # warm-up: build, allocate
    stop = threading.Event()
    ticks = []

    def counter():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)
    thread = threading.Thread(target=counter)
    thread.start()
    try:
        time.sleep(0.02)
        start = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # one core call, no callbacks
        end = time.perf_counter()
    finally:
        stop.set()
        thread.join()
    during = [t for t in ticks if start < t < end]
    assert end - start > 0.05, "the fit is too short to show anything"
    # Were the GIL held for the whole epoch, the counter could not tick at all meanwhile.
    assert len(during) >= 10, (len(during), end - start)
    assert during and during[-1] - during[0] > 0.5 * (end - start)


def test_set_num_threads_between_fits_is_honoured():
    before = fastmlp.get_num_threads()
    x, y = blobs(n=600, features=32)
    try:
        weights = {}
        for n in (1, 2, 1):
            fastmlp.set_num_threads(n)
            assert fastmlp.get_num_threads() == n
            model = mlp()
            model.fit(x, y, epochs=2, verbose=0)
            weights.setdefault(n, []).append(model.get_weights())
            assert np.isfinite(model.predict(x)).all()
        for a, b in zip(*weights[1]):  # the same thread count repeats exactly
            np.testing.assert_array_equal(a, b)
        for a, b in zip(weights[1][0], weights[2][0]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    finally:
        fastmlp.set_num_threads(before)


_BUSY_CALLERS = textwrap.dedent("""
    import threading, time, sys
    import numpy as np
    import fastmlp
    from fastmlp import layers

    def mlp():
        m = fastmlp.Sequential([fastmlp.Input(shape=(64,)), layers.Dense(128, activation="relu"),
                                layers.Dense(3, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    rng = np.random.default_rng(0)
    x = rng.random((1500, 64), dtype=np.float32)
    y = rng.integers(0, 3, 1500)
    errors, peak = [], [0]

    def threads_now():
        with open("/proc/self/status") as f:
            return int(next(l for l in f if l.startswith("Threads:")).split()[1])

    def fastmlp_worker():
        try:
            m = mlp()
            for _ in range(2):
                m.fit(x, y, epochs=1, verbose=0)
                m.predict(x, verbose=0)
                peak[0] = max(peak[0], threads_now())
        except BaseException as e:
            errors.append(e)

    def numpy_worker():
        a = rng.random((300, 300))
        for _ in range(20):
            a = np.tanh(a @ a.T / 300)

    workers = [fastmlp_worker] * 4 + [numpy_worker, numpy_worker]
    ts = [threading.Thread(target=w) for w in workers]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    # fastmlp called from an OpenMP region of fastmlp itself: a predict inside a fit's callback.
    m = mlp()
    class Nested(fastmlp.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.predict(x[:600], verbose=0)
    m.fit(x, y, epochs=1, batch_size=512, verbose=0, callbacks=[Nested()])
    if errors:
        raise errors[0]
    print("OK", peak[0], fastmlp.get_num_threads())
""")


def test_busy_callers_and_nested_calls_do_not_deadlock_or_oversubscribe():
    proc = subprocess.run([sys.executable, "-c", _BUSY_CALLERS], capture_output=True, text=True,
                          timeout=180, env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert proc.returncode == 0, proc.stderr
    status, peak, threads = proc.stdout.split()
    assert status == "OK"
    # Each calling thread gets at most one team of fastmlp's size (no nested teams); NumPy's
    # BLAS pool adds a handful. (torch is left out: importing it alone takes seconds here.)
    assert int(peak) <= 6 * int(threads) + 16, proc.stdout


def test_two_threads_fitting_one_model_get_a_clear_error_not_a_corrupted_model():
    x, y = blobs(n=2000, features=32)
    model = mlp()
    model.fit(x[:32], y[:32], verbose=0)
    errors = []

    def worker():
        try:
            model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        except ValueError as e:
            errors.append(str(e))
    run_threads([worker, worker])
    assert len(errors) <= 1
    assert all("not allowed while this model is training" in e for e in errors)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(x, verbose=0)).all()


@pytest.mark.parametrize("call, allowed", [
    (lambda m, x, y: m.fit(x, y, verbose=0), False),
    (lambda m, x, y: m.evaluate(x, y, verbose=0), False),
    (lambda m, x, y: m.compile("sgd", "sparse_categorical_crossentropy"), False),
    (lambda m, x, y: m.predict(x, verbose=0), True),
    (lambda m, x, y: m(x[:3], training=True), True),
    (lambda m, x, y: m(x, training=True), True),  # a larger batch than the loop's
    (lambda m, x, y: m._core.compute_gradients(x, y.astype(np.int32)), True),
    (lambda m, x, y: m.set_weights(m.get_weights()), True),
])
def test_calls_on_the_training_model_from_a_batch_callback(call, allowed):
    x, y = blobs(n=256, features=32)
    model = mlp()

    class Reenter(fastmlp.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            call(self.model, x, y)
    if allowed:
        model.fit(x, y, batch_size=32, verbose=0, callbacks=[Reenter()])
    else:
        with pytest.raises(ValueError, match="not allowed while this model is training"):
            model.fit(x, y, batch_size=32, verbose=0, callbacks=[Reenter()])
    assert np.isfinite(model.predict(x, verbose=0)).all()
    model.fit(x, y, verbose=0)  # and usable afterwards


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_predict_reports_the_first_bad_row(threads):
    m = mlp(features=32)
    x = np.random.default_rng(3).random((20000, 32), dtype=np.float32)
    x[[7321, 15000, 19999], 5] = np.nan
    fastmlp.set_num_threads(threads)
    try:
        with pytest.raises(ValueError, match=r"Received: x\[7321, 5\]=nan"):
            m.predict(x.astype(np.float64), verbose=0)  # converted per block, in parallel
    finally:
        fastmlp.set_num_threads(os.cpu_count() or 1)


def test_a_tiny_network_trains_on_one_thread(threads_restored):
    # 10-128-128-10 at batch 32: each step's data fits one core's caches and every region costs
    # more than the second core saves, so the thread policy keeps the whole step on the caller;
    # no worker runs a share (the old per-step timing ran whole trial windows on two threads).
    fastmlp.set_num_threads(2)
    a = np.ones((256, 256), np.float32)
    fastmlp.ops.matmul(a, a)  # the team has its worker
    x, y = blobs(n=640, features=10, classes=10)
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(10,)), layers.Dense(128, activation="relu"),
                                layers.Dense(128, activation="relu"), layers.Dense(10)])
    model.compile("adam", fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))
    hooks().team_worker_fp_modes(True)
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    modes = hooks().team_worker_fp_modes(True)
    assert modes and all(m == 0 for m in modes), modes
