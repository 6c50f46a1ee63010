"""Interleaved best-of-N timing shared by the GEMM benches (bench_gemm.py, bench_bf16.py)."""

import time

# OpenBLAS's idle workers (and PyTorch's pool threads) keep spinning (sched_yield) for ~0.1 s after
# a call, and would steal the second core from whichever library is timed next; each sample starts
# after they have gone idle.
QUIESCE_S = 0.15


def time_interleaved(run, rounds, flops):
    """GFLOP/s of each runner (name -> callable), best of `rounds`; calls are repeated so one
    sample lasts >= ~20 ms, and the libraries take turns so a noisy machine hurts them alike."""
    reps = {}
    for name, f in run.items():
        f()
        t0 = time.perf_counter()
        f()
        reps[name] = max(1, int(2e-2 / max(time.perf_counter() - t0, 1e-7)))
    best = {name: float("inf") for name in run}
    for _ in range(rounds):
        for name, f in run.items():
            time.sleep(QUIESCE_S)
            f()  # wakes this library's threads and caches after the pause
            t0 = time.perf_counter()
            for _ in range(reps[name]):
                f()
            best[name] = min(best[name], (time.perf_counter() - t0) / reps[name])
    return {name: flops / t / 1e9 for name, t in best.items()}
