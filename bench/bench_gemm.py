"""SGEMM throughput of fastmlp against NumPy (OpenBLAS) and PyTorch, measured in the same run.

Usage: python bench/bench_gemm.py [--quick] [--threads 1,2] [--rounds N]

Each case is M x K x N with op(A) M x K and op(B) K x N ("NN", "TN" = A stored transposed as a
dense layer's dW = X^T dY uses, "NT" = B transposed as dX = dY W^T uses). Libraries are timed
interleaved, best of N rounds, so a noisy shared machine hurts them alike. The ratio is fastmlp's
GFLOP/s over the best anchor's.
"""

import argparse
import os
import sys

# These machines set both variables, which slow OpenBLAS; drop them for this process only, before
# NumPy loads OpenBLAS.
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import numpy as np  # noqa: E402

import fastmlp  # noqa: E402
from fastmlp import ops  # noqa: E402
from _timing import time_interleaved  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - optional
    threadpool_info = threadpool_limits = None
try:
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None

MLP = [(32, 784, 128, "NN"), (128, 784, 128, "NN"), (256, 784, 256, "NN"), (128, 128, 784, "NN"),
       (784, 128, 128, "NN")]
# dW = X^T dY (TN: M = fan-in, K = batch) and dX = dY W^T (NT: K = fan-out) of 784-128-64-10.
BACKWARD = [(784, 128, 128, "TN"), (128, 128, 784, "NT"), (784, 32, 128, "TN"),
            (32, 128, 784, "NT"), (128, 128, 64, "TN"), (128, 64, 128, "NT"), (64, 128, 10, "TN"),
            (128, 10, 64, "NT")]
SQUARES = [(512, 512, 512, "NN"), (1024, 1024, 1024, "NN"), (2048, 2048, 2048, "NN")]


def _operands(m, k, n, layout, rng):
    a = rng.standard_normal((k, m) if layout[0] == "T" else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if layout[1] == "T" else (k, n)).astype(np.float32)
    return a, b


def _runners(m, k, n, layout, rng):
    a, b = _operands(m, k, n, layout, rng)
    ta, tb = layout[0] == "T", layout[1] == "T"
    out = np.empty((m, n), np.float32)
    run = {"fastmlp": lambda: ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out)}
    an, bn = (a.T if ta else a), (b.T if tb else b)
    out_np = np.empty((m, n), np.float32)
    run["numpy"] = lambda: np.matmul(an, bn, out=out_np)
    if torch is not None:
        at, bt = torch.from_numpy(a), torch.from_numpy(b)
        at, bt = (at.T if ta else at), (bt.T if tb else bt)
        out_t = torch.empty((m, n), dtype=torch.float32)
        run["torch"] = lambda: torch.matmul(at, bt, out=out_t)
    return run


def _set_threads(n):
    fastmlp.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def _blas_description():
    if threadpool_info is None:
        return "threadpoolctl not installed: OpenBLAS kernel unknown"
    for lib in threadpool_info():
        if lib.get("internal_api") == "openblas":
            return (f"OpenBLAS {lib.get('version')} kernel={lib.get('architecture')} "
                    f"threads={lib.get('num_threads')}")
    return "NumPy BLAS is not OpenBLAS"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer shapes and rounds, no 2048^3")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds per case")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    cases = MLP + BACKWARD + SQUARES
    if args.quick:
        cases = MLP[:2] + BACKWARD[:2] + SQUARES[:1]
    info = fastmlp.cpu_info()
    print(f"fastmlp {fastmlp.__version__} isa={info['isa']} ({info['supported_isas']}); "
          f"{_blas_description()}; torch={'absent' if torch is None else torch.__version__}")
    anchors = ["numpy"] + ([] if torch is None else ["torch"])
    header = f"{'case':>22} {'thr':>3} {'fastmlp':>8} " + " ".join(f"{a:>8}" for a in anchors)
    print(header + "   ratio (GFLOP/s; ratio = fastmlp / best anchor)")
    rng = np.random.default_rng(0)
    for threads in [int(t) for t in args.threads.split(",")]:
        _set_threads(threads)
        limit = threadpool_limits(threads, user_api="blas") if threadpool_limits else None
        try:
            for m, k, n, layout in cases:
                res = time_interleaved(_runners(m, k, n, layout, rng), rounds, 2.0 * m * n * k)
                best_anchor = max(res[a] for a in anchors)
                cells = " ".join(f"{res[a]:8.1f}" for a in anchors)
                print(f"{f'{m}x{k}x{n} {layout}':>22} {threads:>3} {res['fastmlp']:8.1f} {cells} "
                      f"{res['fastmlp'] / best_anchor:7.2f}", flush=True)
        finally:
            if limit is not None:
                limit.restore_original_limits()
    return 0


if __name__ == "__main__":
    sys.exit(main())
