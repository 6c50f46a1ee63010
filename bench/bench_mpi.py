"""Data-parallel training on MPI (fastmlp.distribution): 1 rank against 2 ranks on this machine,
one thread each, for the seed network (784-128-64-10 ReLU, SGD, batch 128) and a wide one
(784-1024-1024-10 ReLU, Adam, batch 256); then a model of the epoch time on N nodes.

Measured per case: the time per step (wall, over whole epochs after a warm-up one), the time a
step spends in the gradient allreduce inside the C++ loop (which includes waiting for the slower
rank), the same allreduce alone (mpi4py's Allreduce of the gradient buffer, after a barrier), and
the bytes each rank sends per step (a ring allreduce sends 2 (N-1)/N of the gradient; the status
exchange adds 512 bytes).

The model: epoch(N) = steps * (compute(B / N) + allreduce(N)), with compute(b) the 1-rank step
time at local batch b measured here (per-thread CPU time of the training thread), and a ring
allreduce of S bytes over N nodes taking 2 (N-1) latency + 2 (N-1)/N S / bandwidth, plus the
status exchange's 2 log2(N) latencies. Latencies (defaults 20 us at 10 Gb/s, 3 us at 100 Gb/s)
are parameters: they dominate for the seed network.

    python bench/bench_mpi.py            # launches mpirun -n 1 and -n 2 itself
    python bench/bench_mpi.py --quick    # fewer rows and epochs (a smoke run)
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np

NETWORKS = [("784-128-64-10", (128, 64), 128, "sgd"), ("784-1024-1024-10", (1024, 1024), 256,
                                                        "adam")]
ROWS_PER_EPOCH = 60000  # Fashion-MNIST's training set, for the model
LINKS = [("10 Gb/s", 10e9, 20e-6), ("100 Gb/s", 100e9, 3e-6)]
NODES = [1, 2, 4, 8, 16, 32, 64]


def build(widths, optimizer):
    import fastmlp
    from fastmlp import layers
    fastmlp.utils.set_random_seed(0)
    stack = [fastmlp.Input((784,))] + [layers.Dense(w, activation="relu") for w in widths]
    m = fastmlp.Sequential(stack + [layers.Dense(10)])
    opt = fastmlp.optimizers.SGD(0.05, momentum=0.9) if optimizer == "sgd" else \
        fastmlp.optimizers.Adam(0.001)
    m.compile(opt, fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.build((None, 784))
    return m


def data(rows):
    from fastmlp import datasets
    try:
        (x, y), _ = datasets.fashion_mnist.load_data()
        x = x.reshape(len(x), -1)
    except Exception:  # noqa: BLE001 - synthetic data of the same shape
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (60000, 784), dtype=np.uint8), rng.integers(0, 10, 60000)
    x = (x[:rows].astype(np.float32) / 255.0)
    return x, y[:rows].astype(np.int64)


def compute_times(x, y, widths, optimizer, batch):
    """1-thread CPU seconds per step at local batches batch, batch/2, ... (one process)."""
    out = {}
    b = batch
    while b >= 2:
        m = build(widths, optimizer)
        rows = min(len(x), b * 40)
        m.fit(x[:rows], y[:rows], batch_size=b, epochs=1, verbose=0)
        start = time.thread_time()
        m.fit(x[:rows], y[:rows], batch_size=b, epochs=1, verbose=0)
        out[b] = (time.thread_time() - start) / math.ceil(rows / b)
        b //= 2
    return out


def worker(args):
    import fastmlp
    from mpi4py import MPI
    from fastmlp import distribution as D
    fastmlp.set_num_threads(1)
    dist = D.DataParallel()
    x, y = data(args.rows)
    report = []
    for name, widths, batch, optimizer in NETWORKS:
        m = build(widths, optimizer)
        params = sum(w.size for w in m.get_weights())
        D.set_distribution(dist)
        m.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # warm-up
        r = dist._reducer
        seconds, calls = r.gradient_seconds, r.gradient_calls
        dist.comm.Barrier()
        start = time.perf_counter()
        m.fit(x, y, batch_size=batch, epochs=args.epochs, verbose=0)
        wall = time.perf_counter() - start
        D.set_distribution(None)
        steps = args.epochs * math.ceil(len(x) / batch)
        in_loop = (r.gradient_seconds - seconds) / max(r.gradient_calls - calls, 1)
        buf = np.zeros(params, dtype=np.float32)
        dist.comm.Barrier()
        start = time.perf_counter()
        for _ in range(20):
            dist.comm.Allreduce(MPI.IN_PLACE, buf)
        alone = (time.perf_counter() - start) / 20
        n = dist.size
        case = {"name": name, "batch": batch, "ranks": n, "params": params,
                "step": wall / steps, "in_loop": in_loop if n > 1 else 0.0,
                "alone": alone if n > 1 else 0.0,
                "bytes": int(2 * (n - 1) / n * 4 * params) + (512 if n > 1 else 0)}
        if n == 1 and not args.no_model:
            case["compute"] = compute_times(x, y, widths, optimizer, batch)
        report.append(case)
    if dist.rank == 0:
        print("REPORT " + json.dumps(report), flush=True)


def launch(n, args):
    cmd = ["mpirun", "-n", str(n), "--bind-to", "core"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [sys.executable, os.path.abspath(__file__), "--worker", "--rows", str(args.rows),
            "--epochs", str(args.epochs)] + (["--no-model"] if n > 1 else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("REPORT "))
    return json.loads(line[len("REPORT "):])


def allreduce_model(nbytes, nodes, bandwidth, latency):
    if nodes == 1:
        return 0.0
    ring = 2 * (nodes - 1) * latency + 2 * (nodes - 1) / nodes * nbytes * 8 / bandwidth
    return ring + 2 * math.log2(nodes) * latency  # the status exchange


def print_tables(one, two):
    print(f"{'network':18} {'batch':>5} {'step 1 rank':>12} {'step 2 ranks':>13} {'ratio':>6} "
          f"{'allreduce in loop':>18} {'alone':>9} {'bytes/step':>11}")
    for a, b in zip(one, two):
        print(f"{a['name']:18} {a['batch']:5d} {a['step'] * 1e3:9.3f} ms "
              f"{b['step'] * 1e3:10.3f} ms {a['step'] / b['step']:6.2f} {b['in_loop'] * 1e3:15.3f} ms "
              f"{b['alone'] * 1e3:6.3f} ms {b['bytes']:11,d}")
    print(f"\nModel: epoch of {ROWS_PER_EPOCH:,} rows on N nodes (1 thread each; compute measured "
          "here at batch B/N, ring allreduce)")
    print(f"{'network':18} {'link':9} " + " ".join(f"{'N=' + str(n):>8}" for n in NODES))
    for case in one:
        compute = {int(k): v for k, v in case["compute"].items()}
        steps = math.ceil(ROWS_PER_EPOCH / case["batch"])
        for label, bandwidth, latency in LINKS:
            cells = []
            for n in NODES:
                local = max(case["batch"] // n, 1)
                near = min(compute, key=lambda b: abs(b - local))
                t = compute[near] * local / near  # linear below the smallest measured batch
                t += allreduce_model(4 * case["params"], n, bandwidth, latency)
                cells.append(f"{steps * t:7.2f}s")
            print(f"{case['name']:18} {label:9} " + " ".join(cells))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-model", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rows", type=int, default=12000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.rows, args.epochs = 2560, 1
    if args.worker:
        return worker(args)
    if shutil.which("mpirun") is None:
        sys.exit("bench_mpi: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)")
    print_tables(launch(1, args), launch(2, args))


if __name__ == "__main__":
    main()
