"""The `fastmlp` command line."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional, Sequence

import numpy as np


def _cmd_info(_args: argparse.Namespace) -> int:
    import fastmlp

    info = fastmlp.cpu_info()
    print(f"fastmlp {fastmlp.__version__}")
    print(f"isa: {info['isa']} (supported: {', '.join(info['supported_isas'])})")
    print(f"threads: {info['num_threads']}")
    print(f"caches: L1d {info['l1d_cache'] // 1024} KiB, L2 {info['l2_cache'] // 1024} KiB, "
          f"L3 {info['l3_cache'] // 1024} KiB")
    return 0


def _cmd_selfcheck(args: argparse.Namespace) -> int:
    """Check the GEMM against NumPy in float64 and report its speed."""
    import fastmlp

    rng = np.random.default_rng(0)
    m = k = n = args.size
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = fastmlp.ops.matmul(a, b)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    err = float(np.max(np.abs(c - ref)) / (np.max(np.abs(ref)) + 1e-30))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        fastmlp.ops.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    ok = err < 1e-4
    print(f"gemm {m}x{k}x{n}: max relative error {err:.2e} ({'ok' if ok else 'FAILED'}), "
          f"{2.0 * m * n * k / best / 1e9:.1f} GFLOP/s on {fastmlp.get_num_threads()} threads")
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastmlp", description="Fast multilayer perceptrons.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print version, instruction set and threads").set_defaults(
        func=_cmd_info)
    p = sub.add_parser("selfcheck", help="check and time the matrix multiply")
    p.add_argument("--size", type=int, default=1024)
    p.set_defaults(func=_cmd_selfcheck)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
