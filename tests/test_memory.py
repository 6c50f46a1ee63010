"""Memory and numerics (issue 7).

Memory bound of training (checked below in a fresh process with ``ru_maxrss``): ``fit`` on
float32 C-contiguous ``x`` reads it in place, so beyond the data and the weights its peak memory
is the documented workspace

    4 x weights (gradients, up to two optimizer slots, packed inference copies)
    + batch_size x (sum of layer widths + input width) x 12 bytes (activations, their gradients,
      the converted input batch)
    + 8 bytes per sample (the shuffled order; int32 labels are converted once: 4 more per sample)
    + 16 MiB (allocator arenas, OpenMP thread stacks touched).

Repeated fit/predict calls do not grow the process (RSS flat after warm-up), and extreme but valid
values give finite losses; divergence is stopped by TerminateOnNaN.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp
from fastmlp import callbacks, layers, losses

from _mlp_helpers import regression
from _core_helpers import hooks


# AddressSanitizer keeps freed memory in quarantine and shadows every allocation: process memory
# says nothing about fastmlp's under .ci/sanitize.
_sanitized = pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                                reason="memory use is meaningless under AddressSanitizer")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@_sanitized
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_thousand_fit_predict_cycles_leave_rss_flat():
    fastmlp.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((32, 4), dtype=np.float32)
    y = np.arange(32) % 3
    model = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                                layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy", "auc"])

    def cycle(i):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        model.predict(x, verbose=0)
        if i % 10 == 0:  # also the other entry points and whole models coming and going
            model.evaluate(x, y, verbose=0)
            model.train_on_batch(x, y)
            throwaway = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(64)])
            throwaway.predict(x, verbose=0)
    for i in range(100):
        cycle(i)
    warm = rss_bytes()
    for i in range(1000):
        cycle(i)
    grown = rss_bytes() - warm
    assert grown <= 0.05 * warm, f"RSS grew by {grown} bytes over 1000 cycles (from {warm})"
    assert hooks().workspace_allocations(model._core) < 10


_PEAK = textwrap.dedent("""
    import json, resource
    import numpy as np
    import fastmlp
    from fastmlp import layers

    rng = np.random.default_rng(0)
    n, d, batch = 8000, 1024, 128
    x = rng.random((n, d), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    widths = [64, 32, 10]
    model = fastmlp.Sequential([fastmlp.Input(shape=(d,))] +
                               [layers.Dense(w, activation="relu") for w in widths[:-1]] +
                               [layers.Dense(widths[-1], activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.predict(x[:4], verbose=0)  # the lazy parts of start-up (thread pool, ...)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model.fit(x, y, epochs=1, batch_size=batch, verbose=0)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    weights = sum(w.nbytes for w in model.get_weights())
    print(json.dumps({"growth": after - before, "weights": weights, "data": x.nbytes + y.nbytes,
                      "batch": batch, "widths": widths + [d], "n": n}))
""")


@_sanitized
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB on Linux")
def test_training_peak_memory_stays_within_the_documented_workspace():
    proc = subprocess.run([sys.executable, "-c", _PEAK], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    bound = (4 * r["weights"] + r["batch"] * sum(r["widths"]) * 12 + 12 * r["n"]
             + 16 * 1024 * 1024)
    # Data were allocated before the baseline: fit must not copy them.
    assert r["growth"] <= bound, r
    assert r["growth"] < r["data"] / 2, r


def test_terminate_on_nan_alone_stops_at_the_end_of_the_epoch():
    x, y = regression(n=64)
    model = fastmlp.Sequential([fastmlp.Input(shape=(5,)), layers.Dense(1)])
    model.compile(fastmlp.optimizers.SGD(learning_rate=1e20), "mse")
    history = model.fit(x * 1e3, y, epochs=20, batch_size=8, verbose=0,
                        callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1
    assert not np.isfinite(history.history["loss"][0])


# ---- numerics ----------------------------------------------------------------------------------
_K = np.array([[1e4, -1e4, 1e4], [-1e4, 1e4, -1e4], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]],
              np.float32)
_X = np.eye(4, dtype=np.float32)
_LABELS = np.array([0, 1, 2, 0])


def _reference_sparse_ce(logits, labels):
    z = logits.astype(np.float64)
    lse = z.max(axis=1) + np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(labels)), labels]))


@pytest.mark.parametrize("loss, activation, y", [
    (losses.SparseCategoricalCrossentropy(from_logits=True), None, _LABELS),
    ("sparse_categorical_crossentropy", "softmax", _LABELS),
    (losses.CategoricalCrossentropy(from_logits=True), None, np.eye(4, 3)),
    (losses.BinaryCrossentropy(from_logits=True), None, np.eye(4, 3)),
    ("binary_crossentropy", "sigmoid", np.eye(4, 3)),
    ("mse", None, np.eye(4, 3)),
    ("huber", None, np.eye(4, 3)),
])
def test_logits_of_1e4_give_finite_losses_and_steps(loss, activation, y):
    model = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(3, activation=activation)])
    model.compile("sgd", loss)
    model.set_weights([_K, np.zeros(3, np.float32)])
    value = model.evaluate(_X, y, verbose=0)
    assert np.isfinite(value) and value > 1.0
    history = model.fit(_X, y, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_from_logits_cross_entropy_is_exact_at_1e4():
    model = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(3)])
    model.compile("sgd", losses.SparseCategoricalCrossentropy(from_logits=True))
    model.set_weights([_K, np.zeros(3, np.float32)])
    assert model.evaluate(_X, _LABELS, verbose=0) == pytest.approx(
        _reference_sparse_ce(_K, _LABELS), rel=1e-6)


def test_inputs_of_1e30_give_finite_outputs_and_losses():
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                                layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.full((4, 4), 1e30, np.float32)
    assert np.isfinite(model.predict(x)).all()
    assert np.isfinite(model.evaluate(x, _LABELS, verbose=0))
    assert np.isfinite(model.fit(x, _LABELS, verbose=0).history["loss"][0])


def test_float64_inputs_beyond_float32_range_are_a_clear_error():
    model = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(3)])
    with pytest.raises(ValueError, match=r"finite values\. Received: x\[1, 0\]=1e\+300 \(beyond "
                                         r"the float32 range\)"):
        model.predict(np.array([[1.0] * 4, [1e300] * 4]))


def test_terminate_on_nan_stops_a_diverging_fit():
    x, y = regression(n=256)
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(5,)), layers.Dense(16, activation="relu"),
                                layers.Dense(1)])
    model.compile(fastmlp.optimizers.SGD(learning_rate=1e12), "mse")
    seen = []
    record = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs["loss"]))
    history = model.fit(x * 1e3, y, epochs=50, batch_size=16, verbose=0,
                        callbacks=[callbacks.TerminateOnNaN(), record])
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    assert not np.isfinite(seen[-1]) and np.isfinite(seen[:-1]).all()
    assert model.optimizer.iterations == len(seen) < 16  # no batch after the NaN one
