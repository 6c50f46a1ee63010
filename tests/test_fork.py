"""fork() while other threads are inside the core (issue 16). A parallel predict holds the model's
block lock throughout; a child forked meanwhile inherited it locked and hung in its first
parallel predict (every time with 2 threads, about one time in ten with the load adaptation on).
The child must predict and train correctly, whatever the parent's threads were doing."""

import multiprocessing
import os
import sys
import threading
import time

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, layers

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                       reason="fork() without exec: POSIX, and unsupported by many macOS libraries"),
    # Python 3.12+ warns about fork() in a multi-threaded process: that is the point here.
    pytest.mark.filterwarnings(
        "ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning"),
    # JAX, once an earlier test module imported it (the Keras comparisons), warns from its
    # at-fork hook for the same reason.
    pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning"),
]

X = np.random.default_rng(0).random((20000, 64), dtype=np.float32)
Y = np.random.default_rng(1).random((20000, 10), dtype=np.float32)


def _model():
    fastmlp.utils.set_random_seed(0)
    m = fastmlp.Sequential([fastmlp.Input(shape=(64,)), layers.Dense(256, activation="relu"),
                            layers.Dense(10)])
    m.compile("sgd", "mse")
    return m


@pytest.fixture
def two_threads(threads_restored):
    fastmlp.set_num_threads(2)  # and no load adaptation (the fixture): predict really splits


class _Busy:
    """Another thread calling `work` in a loop until stopped."""

    def __init__(self, work):
        self.stop = False
        self.calls = 0
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self.thread.start()
        while self.calls == 0:
            time.sleep(0.001)

    def _run(self, work):
        while not self.stop:
            work()
            self.calls += 1

    def end(self):
        self.stop = True
        self.thread.join(30)


def _child_checks(m, ref):
    """In the child: parallel and small predict bitwise as in the parent, then training."""
    ok = np.array_equal(m.predict(X, verbose=0), ref)
    ok = ok and np.array_equal(m.predict(X[:100], verbose=0), ref[:100])
    h = m.fit(X[:2048], Y[:2048], epochs=1, batch_size=256, verbose=0)
    ok = ok and np.isfinite(h.history["loss"][0]) and np.isfinite(m.evaluate(X[:512], Y[:512],
                                                                            verbose=0))
    return ok


def _wait(pid, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.002)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "hung"


@pytest.mark.parametrize("busy", ["parallel_predict", "serial_predict", "fit", "evaluate"])
def test_os_fork_while_another_thread_is_inside_the_core(two_threads, busy):
    m = _model()
    ref = m.predict(X, verbose=0)
    work = {"parallel_predict": lambda: m.predict(X, verbose=0),
            "serial_predict": lambda: m.predict(X[:1000], verbose=0),
            "fit": lambda: m.fit(X[:4096], Y[:4096], epochs=1, verbose=0),
            "evaluate": lambda: m.evaluate(X, Y, verbose=0)}[busy]
    if busy == "fit":  # the weights move in the parent: the child compares with its own copy
        ref = None
    other = _Busy(work)
    results = []
    try:
        for i in range(30 if busy == "parallel_predict" else 10):
            time.sleep(0.002 * (i % 7))  # land at different points of the other thread's call
            pid = os.fork()
            if pid == 0:
                try:
                    mine = ref if ref is not None else m.predict(X, verbose=0)
                    code = 0 if _child_checks(m, mine) else 3
                except BaseException:
                    code = 4
                os._exit(code)
            results.append(_wait(pid, 10))
    finally:
        other.end()
    assert results == [0] * len(results), results


def _mp_child(queue, weights):
    m = _model()
    m.set_weights(weights)
    queue.put(bool(_child_checks(m, m.predict(X, verbose=0))))


def _mp_child_inherited(queue):
    queue.put(bool(_child_checks(_INHERITED[0], _INHERITED[1])))


_INHERITED = []


def test_multiprocessing_fork_children_work_while_the_parent_predicts(two_threads):
    m = _model()
    _INHERITED[:] = [m, m.predict(X, verbose=0)]
    ctx = multiprocessing.get_context("fork")
    other = _Busy(lambda: m.predict(X, verbose=0))
    try:
        for target, args in [(_mp_child_inherited, ()), (_mp_child, (m.get_weights(),))] * 3:
            queue = ctx.Queue()
            p = ctx.Process(target=target, args=(queue,) + args)
            p.start()
            p.join(20)
            if p.is_alive():
                p.kill()
                pytest.fail("the child hung")
            assert p.exitcode == 0 and queue.get(timeout=5) is True
    finally:
        other.end()
        _INHERITED.clear()


def test_the_parent_keeps_working_after_forks(two_threads):
    m = _model()
    ref = m.predict(X, verbose=0)
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            os._exit(0 if np.array_equal(m.predict(X, verbose=0), ref) else 3)
        assert _wait(pid, 10) == 0
    assert np.array_equal(m.predict(X, verbose=0), ref)
    m.fit(X[:1024], Y[:1024], verbose=0)
    assert _core.get_num_threads() == 2

