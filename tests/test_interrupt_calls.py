"""Ctrl-C during a long predict, evaluate or ops.matmul (issue 16): SIGINT raises
KeyboardInterrupt within a fraction of a second (these calls used to finish first, 10+ s later),
and the model and the library stay usable afterwards. See test_interrupt.py for fit."""

import sys
import textwrap

import numpy as np
import pytest
from _sigint_helpers import interrupt_child

import fastmlp
from fastmlp import _core
from _core_helpers import hooks

_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import fastmlp
    from fastmlp import layers

    call, threads = sys.argv[1], int(sys.argv[2])
    fastmlp.set_num_threads(threads)
    fastmlp.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(512,)),
                                layers.Dense(2048, activation="relu"),
                                layers.Dense(2048, activation="relu"), layers.Dense(10)])
    model.compile("sgd", "mse")
    x = rng.random((40_000, 512), dtype=np.float32)  # 4-8 s per call on this machine
    y = np.zeros((40_000, 10), np.float32)
    a = rng.random((6144, 6144), dtype=np.float32)
    small = model.predict(x[:300], verbose=0)
    run = {"predict": lambda: model.predict(x, verbose=0),
           "evaluate": lambda: model.evaluate(x, y, batch_size=256, verbose=0),
           "core_predict": lambda: model._core.predict(x),
           "matmul": lambda: fastmlp.ops.matmul(a, a)}[call]
    print("READY", flush=True)
    started = time.monotonic()
    try:
        run()
        print(json.dumps({"error": "the call finished", "took": time.monotonic() - started}))
    except KeyboardInterrupt:
        caught = time.monotonic()
        again = model.predict(x[:300], verbose=0)
        loss = model.evaluate(x[:512], y[:512], verbose=0)
        model.fit(x[:512], y[:512], epochs=1, verbose=0)
        print(json.dumps({"caught": caught, "same": bool(np.array_equal(again, small)),
                          "finite": bool(np.isfinite(loss)),
                          "matmul": bool(np.allclose(fastmlp.ops.matmul(a[:3], a[:, :2]),
                                                     a[:3] @ a[:, :2], rtol=1e-4))}))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("call,threads", [("predict", 1), ("predict", 2), ("evaluate", 1),
                                          ("evaluate", 2), ("core_predict", 2), ("matmul", 2)])
def test_sigint_stops_a_long_call_quickly(call, threads):
    # 0.4 s: well inside the call
    result, latency = interrupt_child(_CHILD, [call, str(threads)], delay=0.4, timeout=120)
    assert 0 <= latency < 1.0, latency
    assert result["same"] and result["finite"] and result["matmul"], result


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True),
                                             (True, True)])
def test_a_long_product_run_in_row_panels_is_bitwise_the_whole_product(trans_a, trans_b):
    """ops.matmul runs products over 2^32 multiply-adds in row panels (signal checks between
    them); _gemm_test_into runs the same product in one call."""
    m, k, n = 2300, 2048, 1024  # 4.8e9 multiply-adds
    rng = np.random.default_rng(1)
    a = rng.normal(size=(k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(np.float32)
    c0 = rng.normal(size=(m, n)).astype(np.float32)
    got = fastmlp.ops.matmul(a, b, transpose_a=trans_a, transpose_b=trans_b, alpha=0.5,
                             beta=0.25, out=c0.copy())
    want = c0.copy()
    hooks().gemm_into(a, b, want, trans_a, trans_b, 0.5, 0.25)
    assert got.tobytes() == want.tobytes()

