"""Interpreter exit while daemon threads are inside the core (issue 16). CPython ends such a
thread when it retakes the GIL after finalization began (pthread_exit, a forced unwind); through
the core's frames that used to abort the process ("terminate called without an active exception",
SIGABRT). Every case must exit with status 0 and nothing on stderr."""

import subprocess
import sys
import textwrap

import pytest

_CHILD = textwrap.dedent("""
    import sys, threading, time
    import numpy as np
    import fastmlp
    from fastmlp import layers

    case = sys.argv[1]
    fastmlp.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.random((20000, 256), dtype=np.float32)
    y = rng.integers(0, 10, 20000)

    def model():
        m = fastmlp.Sequential([fastmlp.Input(shape=(256,)), layers.Dense(512, activation="relu"),
                                layers.Dense(10, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    class Hook(fastmlp.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            sum(range(200))  # Python code: the thread drops and retakes the GIL in here

    def loop(call):
        while True:
            call()

    m = model()
    a = rng.random((3000, 3000), dtype=np.float32)
    calls = {
        "fit": [lambda: m.fit(x, y, epochs=100, verbose=0)],
        "fit_callback": [lambda: m.fit(x, y, epochs=100, verbose=0, callbacks=[Hook()])],
        "fit_progress_bar": [lambda: m.fit(x, y, epochs=100, verbose=1)],
        "train_on_batch": [lambda: m.train_on_batch(x[:2000], y[:2000])],
        "evaluate": [lambda: m.evaluate(x, y, verbose=0)],
        "predict": [lambda: m.predict(x, verbose=0)],
        "predict_1_thread": [lambda: (fastmlp.set_num_threads(1), m.predict(x, verbose=0))],
        "predict_callback": [lambda: m.predict(x, verbose=0, callbacks=[Hook()])],
        "predict_small": [lambda: m.predict(x[:500], verbose=0)],
        "two_threads_one_model": [lambda: m.predict(x, verbose=0), lambda: m.predict(x, verbose=0)],
        # one thread holds the team's workers in a parallel predict, another trains meanwhile
        "team_busy": [lambda: m.predict(x, verbose=0),
                      (lambda m2: lambda: m2.fit(x, y, epochs=100, verbose=0))(model())],
        "matmul": [lambda: fastmlp.ops.matmul(a, a)],
    }[case]
    for call in calls:
        threading.Thread(target=loop, args=(call,), daemon=True).start()
    time.sleep(0.3)
    sys.stdout.flush()
""")

CASES = ["fit", "fit_callback", "fit_progress_bar", "train_on_batch", "evaluate", "predict",
         "predict_1_thread", "predict_callback", "predict_small", "two_threads_one_model",
         "team_busy", "matmul"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX thread exit")
def test_exit_while_daemon_threads_are_inside_the_core_is_clean():
    # All cases at once, two at a time (the machine has two cores): each takes ~1-2 s.
    results = {}
    for i in range(0, len(CASES), 2):
        procs = {c: subprocess.Popen([sys.executable, "-c", _CHILD, c], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True) for c in CASES[i:i + 2]}
        for case, proc in procs.items():
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
                err = "hung at exit\n" + err
            results[case] = (proc.returncode, err)
    bad = {c: r for c, r in results.items() if r[0] != 0 or r[1].strip()}
    assert not bad, bad


_LATE_ATEXIT = textwrap.dedent("""
    import atexit, threading, time
    import numpy as np
    import fastmlp
    from fastmlp import layers
    m = fastmlp.Sequential([fastmlp.Input(shape=(64,)), layers.Dense(256), layers.Dense(2)])
    m.compile("sgd", "mse")
    x = np.random.default_rng(0).random((50000, 64), dtype=np.float32)
    def after_exit_began():  # registered after fastmlp's hook, so it runs before it
        print("late", m.predict(x[:2000], verbose=0).shape, flush=True)
    atexit.register(after_exit_began)
    threading.Thread(target=lambda: [m.predict(x, verbose=0) for _ in iter(int, 1)],
                     daemon=True).start()
    time.sleep(0.3)
""")

_EARLY_ATEXIT = textwrap.dedent("""
    import atexit, threading, time
    import numpy as np
    def before_import_registered():  # registered before fastmlp's hook, so it runs after it
        print("early", m.predict(x[:2000], verbose=0).shape, flush=True)
    atexit.register(before_import_registered)
    import fastmlp
    from fastmlp import layers
    m = fastmlp.Sequential([fastmlp.Input(shape=(64,)), layers.Dense(256), layers.Dense(2)])
    m.compile("sgd", "mse")
    x = np.random.default_rng(0).random((50000, 64), dtype=np.float32)
    threading.Thread(target=lambda: [m.predict(x, verbose=0) for _ in iter(int, 1)],
                     daemon=True).start()
    time.sleep(0.3)
""")


@pytest.mark.parametrize("script,expected", [(_LATE_ATEXIT, "late (2000, 2)"),
                                             (_EARLY_ATEXIT, "early (2000, 2)")])
def test_the_exiting_thread_itself_can_still_use_fastmlp_in_atexit_handlers(script, expected):
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    assert proc.stdout.strip() == expected
