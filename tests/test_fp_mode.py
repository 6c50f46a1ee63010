"""Denormals flushed inside fastmlp's calls (FTZ + DAZ on the caller and the team's workers), the
caller's floating-point mode restored on return, and `config.set_flush_denormals(False)` giving
gradual underflow."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, layers
from _core_helpers import hooks

FTZ, DAZ = 1 << 15, 1 << 6
CONTROL = ~0x3F  # MXCSR without the sticky exception flags

pytestmark = pytest.mark.skipif(hooks().fp_mode() == 0, reason="no MXCSR on this CPU")


@pytest.fixture
def flush_restored(threads_restored):
    before = fastmlp.config.flush_denormals()
    yield
    fastmlp.config.set_flush_denormals(before)


def tiny_model(inputs=64, weight=1e-20, units=1):
    """Dense(units, linear) whose outputs are each the sum of `inputs` products x * weight."""
    model = fastmlp.Sequential([fastmlp.Input(shape=(inputs,)), layers.Dense(units)])
    model.set_weights([np.full((inputs, units), weight, np.float32), np.zeros(units, np.float32)])
    model.compile(optimizer=fastmlp.optimizers.SGD(0.0), loss="mse")
    return model


def worker_modes():
    """Modes of the workers that ran a share since the last call (0 entries dropped)."""
    return [m for m in hooks().team_worker_fp_modes(reset=True) if m]


def subnormal_survives():
    a = np.array([1e-39], np.float32)
    return bool((a * np.float32(1.0))[0] != 0) and bool((a + a)[0] != 0)


def test_default_is_on():
    assert fastmlp.config.flush_denormals() is True
    assert fastmlp.cpu_info()["flush_denormals"] is True


@pytest.mark.parametrize("call", ["fit", "evaluate", "predict", "call", "train_on_batch",
                                  "test_on_batch", "predict_on_batch"])
def test_caller_mode_restored(flush_restored, call):
    model = tiny_model()
    x = np.full((300, 64), 1e-20, np.float32)
    y = np.zeros((300, 1), np.float32)
    before = hooks().fp_mode() & CONTROL
    assert not before & (FTZ | DAZ)
    {"fit": lambda: model.fit(x, y, epochs=1, batch_size=32, verbose=0),
     "evaluate": lambda: model.evaluate(x, y, verbose=0),
     "predict": lambda: model.predict(x, verbose=0),
     "call": lambda: model(x),
     "train_on_batch": lambda: model.train_on_batch(x, y),
     "test_on_batch": lambda: model.test_on_batch(x, y),
     "predict_on_batch": lambda: model.predict_on_batch(x)}[call]()
    assert hooks().fp_mode() & CONTROL == before
    assert subnormal_survives()


@pytest.mark.parametrize("threads", [1, 2])
def test_flushed_on_caller_and_workers(flush_restored, threads):
    fastmlp.set_num_threads(threads)
    model = tiny_model(units=256)  # wide enough for predict to split rows across the team
    x = np.full((20000, 64), 1e-20, np.float32)  # each product 1e-40 and the sums are subnormal
    worker_modes()
    out = model.predict(x, batch_size=20000, verbose=0)
    assert np.all(out == 0.0)  # every row block, whichever thread ran it
    assert all(m & (FTZ | DAZ) == FTZ | DAZ for m in worker_modes())
    fastmlp.config.set_flush_denormals(False)
    out = model.predict(x, batch_size=20000, verbose=0)
    np.testing.assert_allclose(out, 64e-40, rtol=1e-3)
    assert all(not m & (FTZ | DAZ) for m in worker_modes())


def test_subnormal_inputs_read_as_zero(flush_restored):
    model = tiny_model(weight=1e10)
    x = np.full((4, 64), 1e-39, np.float32)  # subnormal inputs, normal products if not flushed
    assert np.all(model.predict_on_batch(x) == 0.0)
    fastmlp.config.set_flush_denormals(False)
    np.testing.assert_allclose(model.predict_on_batch(x), 64e-29, rtol=1e-3)


def test_callbacks_run_in_the_callers_mode(flush_restored):
    fastmlp.set_num_threads(2)
    seen = []

    class Probe(fastmlp.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((hooks().fp_mode() & CONTROL, subnormal_survives(), worker_modes()))

    rng = np.random.default_rng(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(784,)), layers.Dense(512, activation="relu"),
                                layers.Dense(10)])
    model.compile(optimizer="adam", loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = hooks().fp_mode() & CONTROL
    worker_modes()
    model.fit(rng.random((1024, 784), dtype=np.float32), rng.integers(0, 10, 1024), batch_size=256,
              epochs=1, verbose=0, callbacks=[Probe()])
    assert len(seen) == 4
    for mode, survives, workers in seen:
        assert mode == before and survives
        assert all(m & (FTZ | DAZ) == FTZ | DAZ for m in workers)


def test_set_flush_denormals_checks_its_argument():
    with pytest.raises(TypeError, match="enabled"):
        fastmlp.config.set_flush_denormals("yes")
