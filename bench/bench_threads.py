"""Threads and the wait policy: training of 784-128-64-10 (ReLU, Adam, sparse cross-entropy from
logits) on 4,000 synthetic rows at batch 32 and 128, on 1 and 2 threads, with the worker team's
spin time (FASTMLP_SPIN_US: 100 us by default, 0 = sleep at once, 5000 = long spin), with and
without fastmlp's cap of threads to the idle CPUs, alone and beside a CPU hog (a busy-loop
process, pinned to the last CPU or free to move). Each policy runs in a fresh subprocess, because
the spin time is read once at start-up.

What to look for: 2 threads never slower than 1 by more than ~5% without a hog, and no collapse
(2 threads many times slower than 1) beside the hog, which spinning waits would cause.

    python bench/bench_threads.py [--quick]
"""

import argparse
import json
import os
import subprocess
import sys
import time

# fastmlp's default is the first: 100 us spins and threads capped by the idle CPUs. The others
# turn the load adaptation off (FASTMLP_ADAPTIVE_THREADS=0) to show each wait policy alone.
FIXED = {"FASTMLP_ADAPTIVE_THREADS": "0"}
POLICIES = {"default (spin 100us+adaptive)": {},
            "spin 100us, fixed threads": {"FASTMLP_SPIN_US": "100", **FIXED},
            "sleep at once, fixed": {"FASTMLP_SPIN_US": "0", **FIXED},
            "spin 5ms, fixed": {"FASTMLP_SPIN_US": "5000", **FIXED}}
HOGS = ("none", "pinned", "unpinned")

CHILD = r"""
import json, sys, time
import numpy as np
import fastmlp
from fastmlp import _core
rows, rounds = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.random((rows, 784), dtype=np.float32)
y = rng.integers(0, 10, rows).astype(np.int32)
def dense(units, act, seed):
    return {"type": "dense", "units": units, "activation": act,
            "kernel_initializer": {"name": "glorot_uniform", "seed": seed}}
result = {}
for batch in (32, 128):
    models = {}
    for threads in (1, 2):
        m = _core.Model(784, [dense(128, "relu", 1), dense(64, "relu", 2), dense(10, "linear", 3)])
        m.compile({"name": "sparse_categorical_crossentropy", "from_logits": True},
                  {"name": "adam"}, [])
        models[threads] = m
    data = _core.Dataset(x, y, outputs=10, loss="sparse_categorical_crossentropy")  # as fit
    best = {1: 1e9, 2: 1e9}
    for r in range(rounds):
        for threads, m in models.items():
            fastmlp.set_num_threads(threads)
            t0 = time.perf_counter()
            m.train_epoch(data, batch_size=batch, seed=r)
            best[threads] = min(best[threads], time.perf_counter() - t0)
    result[str(batch)] = {str(t): v * 1e3 for t, v in best.items()}
print(json.dumps(result))
"""


def start_hog(mode):
    if mode == "none":
        return None
    code = "import os, sys\n"
    if mode == "pinned":
        code += "os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})\n"
    code += "while True: pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def run_child(env_extra, rows, rounds):
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTMLP_SPIN_US", "FASTMLP_ADAPTIVE_THREADS")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", CHILD, str(rows), str(rounds)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 2 rounds (4,000, 3)")
    args = parser.parse_args()
    rows, rounds = (2000, 2) if args.quick else (4000, 3)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; ms per epoch of "
          f"{rows} rows, best of {rounds}; ratio = 2 threads / 1 thread (< 1 is a gain)")
    print(f"{'policy':<30} {'hog':<9} {'b32 1T':>8} {'b32 2T':>8} {'ratio':>6} "
          f"{'b128 1T':>8} {'b128 2T':>8} {'ratio':>6}")
    for hog_mode in HOGS:
        for name, env in POLICIES.items():
            hog = start_hog(hog_mode)
            try:
                time.sleep(0.2 if hog else 0)
                r = run_child(env, rows, rounds)
            finally:
                if hog:
                    hog.kill()
                    hog.wait()
            cells = []
            for b in ("32", "128"):
                one, two = r[b]["1"], r[b]["2"]
                cells.append(f"{one:>8.1f} {two:>8.1f} {two / one:>6.2f}")
            print(f"{name:<30} {hog_mode:<9} {' '.join(cells)}", flush=True)


if __name__ == "__main__":
    main()
