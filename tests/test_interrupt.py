"""Ctrl-C during fit (issue 7): SIGINT sent to a process in a long fit raises KeyboardInterrupt
at the next batch boundary within a fraction of a second; the weights are finite and usable,
training can continue, and ``model.history`` holds exactly the epochs completed."""

import os
import signal
import sys
import textwrap

import pytest
from _sigint_helpers import interrupt_child

_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import fastmlp
    from fastmlp import layers

    batch_hook = sys.argv[1] == "hook"
    fastmlp.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((2048, 128), dtype=np.float32)
    y = rng.integers(0, 10, 2048)
    model = fastmlp.Sequential([fastmlp.Input(shape=(128,)), layers.Dense(256, activation="relu"),
                                layers.Dense(256, activation="relu"),
                                layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    epochs_done = []

    class Record(fastmlp.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs_done.append(epoch)
            if epoch == 1:
                print("READY", flush=True)  # the parent interrupts from now on

        if batch_hook:
            def on_train_batch_end(self, batch, logs=None):
                pass

    try:
        model.fit(x, y, epochs=10_000, batch_size=64, verbose=0, callbacks=[Record()])
        print(json.dumps({"error": "fit finished"}))
    except KeyboardInterrupt:
        caught = time.monotonic()
        history = len(model.history.history["loss"])
        out = model.predict(x[:256], verbose=0)
        finite = bool(np.isfinite(out).all()) and all(
            np.isfinite(w).all() for w in model.get_weights())
        before = model.evaluate(x[:512], y[:512], verbose=0)[0]
        model.fit(x[:512], y[:512], epochs=1, verbose=0)  # still trainable
        print(json.dumps({"caught": caught, "history": history,
                          "epochs_done": len(epochs_done), "finite": finite,
                          "checksum": float(np.abs(out).sum()), "loss": before,
                          "trained": bool(np.isfinite(model.evaluate(x[:512], y[:512],
                                                                     verbose=0)[0]))}))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("mode", ["plain", "hook"])  # no Python per batch / a batch callback
def test_sigint_stops_fit_quickly_and_leaves_a_usable_model(mode):
    # 0.15 s: land in the middle of an epoch
    result, latency = interrupt_child(_CHILD, [mode], delay=0.15, timeout=60)
    assert 0 <= latency < 1.5, latency
    assert result["finite"] and result["trained"]
    assert result["history"] == result["epochs_done"] >= 2
    assert result["checksum"] > 0 and result["loss"] == result["loss"]


def test_an_interrupted_core_epoch_leaves_consistent_weights():
    """In process: an interrupt raised by the batch check keeps every applied step whole."""
    import numpy as np
    import fastmlp
    from fastmlp import layers

    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                                layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((400, 8), dtype=np.float32)
    y = np.arange(400) % 3
    model.fit(x[:8], y[:8], verbose=0)
    core, start = model._core, model._core.iterations

    def interrupt(batch, logs):
        if batch == 4:
            os.kill(os.getpid(), signal.SIGINT)  # handled at the next batch boundary
    with pytest.raises(KeyboardInterrupt):
        core.train_epoch(x, y.astype(np.int32), batch_size=8, shuffle=False,
                         batch_callback=interrupt)
    steps = core.iterations - start
    assert 5 <= steps < 50  # stopped soon after the signal, not at the end of the epoch
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(x)).all()
