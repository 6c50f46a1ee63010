"""One training epoch of the seed network (784-128-64-10 ReLU, SGD(0.05, momentum 0.9), sparse
categorical cross-entropy from logits) on Fashion-MNIST: fastmlp vs PyTorch vs scikit-learn's
MLPClassifier, batch 32/128/512 on 1 and 2 threads, interleaved best-of-N in one process; then a
wide network (784-1024-1024-10 ReLU, Adam, batch 256), which is GEMM-bound, against PyTorch.

Each epoch is also given as a fraction of the FMA floor: the epoch's multiply-adds (forward,
and backward without the first layer's dX) divided by the fp32 FMA peak of the cores used, read
from ../shared/tools/cpu_peaks.sh when it is there (or $FASTMLP_CPU_PEAKS), else estimated from
the best 2048^3 GEMM fastmlp runs here (a lower bound of the peak: the fractions then read high).

    python bench/bench_train.py            # full table (60,000 images)
    python bench/bench_train.py --quick    # smoke run: 6,000 images, one repetition
"""

import argparse
import gzip
import os
import re
import struct
import subprocess
import time
import warnings

import numpy as np

import fastmlp
from fastmlp import _core

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load_fashion_mnist():
    """The training images (uint8 -> float32 in [0, 1]) and labels, read from the gz IDX files;
    synthetic data of the same shape if they are absent."""
    images = os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz")
    labels = os.path.join(DATA_DIR, "train-labels-idx1-ubyte.gz")
    if not (os.path.exists(images) and os.path.exists(labels)):
        rng = np.random.default_rng(0)
        return rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000).astype(np.int32), "synthetic"
    with gzip.open(images, "rb") as f:
        _, n, rows, cols = struct.unpack(">IIII", f.read(16))
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, rows * cols)
    with gzip.open(labels, "rb") as f:
        _, n = struct.unpack(">II", f.read(8))
        y = np.frombuffer(f.read(), dtype=np.uint8).astype(np.int32)
    return (x.astype(np.float32) / np.float32(255.0)), y, "fashion-mnist"


SEED = (128, 64)
WIDE = (1024, 1024)
SGD = {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9}
ADAM = {"name": "adam", "learning_rate": 0.001}


def epoch_flops(rows, widths, inputs=784, classes=10):
    """Flops of one epoch: forward, dW of every layer and dX of all but the first."""
    dims = [inputs, *widths, classes]
    macs = [a * b for a, b in zip(dims, dims[1:])]
    return 2.0 * rows * (3 * sum(macs) - macs[0])


def fma_peaks():
    """(one core, all cores) fp32 FMA GFLOP/s for the ISA in use, and where they came from."""
    here = os.path.dirname(os.path.abspath(__file__))
    script = os.environ.get("FASTMLP_CPU_PEAKS",
                            os.path.join(here, "..", "..", "shared", "tools", "cpu_peaks.sh"))
    isa = fastmlp.cpu_info()["isa"]
    label = "AVX-512" if isa == "avx512" else "AVX2"
    if os.path.exists(script):
        try:
            out = subprocess.run(["bash", script], capture_output=True, text=True, timeout=300).stdout
            m = re.search(rf"fp32 FMA {label}\s*:\s*([\d.]+) GFLOP/s one core,\s*([\d.]+) all", out)
            if m:
                return float(m.group(1)), float(m.group(2)), f"cpu_peaks.sh ({label})"
        except (OSError, subprocess.SubprocessError):
            pass
    from fastmlp import ops
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    out = np.empty_like(a)
    best = {}
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        ops.matmul(a, a, out=out)
        t0 = time.perf_counter()
        for _ in range(3):
            ops.matmul(a, a, out=out)
        best[threads] = 3 * 2 * 2048 ** 3 / (time.perf_counter() - t0) / 1e9
    return best[1], max(best[1], best[2]), "2048^3 GEMM probe (a lower bound of the peak)"


def fastmlp_runner(x, y, batch, threads, widths=SEED, optimizer=SGD):
    def dense(units, act, seed):
        return {"type": "dense", "units": units, "activation": act,
                "kernel_initializer": {"name": "glorot_uniform", "seed": seed}}
    hidden = [dense(w, "relu", i + 1) for i, w in enumerate(widths)]
    model = _core.Model(784, hidden + [dense(10, "linear", len(widths) + 1)])
    loss = {"name": "sparse_categorical_crossentropy", "from_logits": True}
    model.compile(loss, optimizer, [])
    data = _core.Dataset(x, y, outputs=10, loss=loss)  # checked once, as fit does
    epoch = [0]

    def run():
        fastmlp.set_num_threads(threads)
        epoch[0] += 1
        return model.train_epoch(data, batch_size=batch, seed=epoch[0])["loss"]
    return run


def torch_runner(x, y, batch, threads, widths=SEED, optimizer=SGD):
    import torch
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    torch.manual_seed(0)
    dims, mods = [784, *widths], []
    for a, b in zip(dims, dims[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*mods, torch.nn.Linear(dims[-1], 10))
    if optimizer["name"] == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=optimizer["learning_rate"],
                              momentum=optimizer["momentum"])
    else:
        opt = torch.optim.Adam(net.parameters(), lr=optimizer["learning_rate"])
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        torch.set_num_threads(threads)
        perm = torch.randperm(len(xt))
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / len(xt)
    return run


def sklearn_runner(x, y, batch, threads, widths=SEED, optimizer=SGD):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    def run():
        clf = MLPClassifier(hidden_layer_sizes=widths, solver="sgd", learning_rate_init=0.05,
                            momentum=0.9, nesterovs_momentum=False, batch_size=batch, max_iter=1,
                            alpha=0.0, shuffle=True, random_state=0)
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x, y)
        return clf.loss_
    return run


def available(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def table(title, x, y, libs, batches, threads_list, repeats, widths, optimizer, peaks):
    flops = epoch_flops(len(x), widths)
    print(f"{title}: {flops / 1e9:.1f} GFLOP per epoch, best of {repeats}, seconds per epoch; "
          "ratio = anchor / fastmlp; floor% = FMA floor / fastmlp's epoch")
    header = f"{'batch':>5} {'thr':>3} " + " ".join(f"{name:>9}" for name, _ in libs)
    header += "".join(f" {name + '/fm':>11}" for name, _ in libs[1:]) + f" {'floor%':>7}"
    print(header)
    for batch in batches:
        for threads in threads_list:
            runners = [(name, make(x, y, batch, threads, widths, optimizer)) for name, make in libs]
            best = {name: float("inf") for name, _ in runners}
            for _ in range(repeats):
                for name, run in runners:  # interleaved, so drifts in machine load hit all alike
                    # after the previous library's pool threads stop spinning on the other core
                    time.sleep(0.3)
                    t0 = time.perf_counter()
                    run()
                    best[name] = min(best[name], time.perf_counter() - t0)
            peak = peaks[0] if threads == 1 else peaks[1]
            line = f"{batch:>5} {threads:>3} " + " ".join(f"{best[n]:>9.3f}" for n, _ in libs)
            line += "".join(f" {best[n] / best['fastmlp']:>10.2f}x" for n, _ in libs[1:])
            line += f" {100 * flops / (peak * 1e9) / best['fastmlp']:>6.0f}%"
            print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 images, one repetition")
    parser.add_argument("--repeats", type=int, default=3, help="best of N epochs (default 3)")
    parser.add_argument("--batches", default="32,128,512")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--anchors", default="torch,sklearn", help="comma-separated anchors to run")
    parser.add_argument("--no-wide", action="store_true", help="skip the 784-1024-1024-10 network")
    args = parser.parse_args()
    x, y, source = load_fashion_mnist()
    repeats = args.repeats
    if args.quick:
        x, y, repeats = x[:6000], y[:6000], 1
    peaks = fma_peaks()
    print(f"cpu: {fastmlp.cpu_info()['isa']}; fp32 FMA peak {peaks[0]:.0f} GFLOP/s on one core, "
          f"{peaks[1]:.0f} on all ({peaks[2]})")
    libs = [("fastmlp", fastmlp_runner)]
    anchors = args.anchors.split(",")
    if "torch" in anchors and available("torch"):
        libs.append(("torch", torch_runner))
    if "sklearn" in anchors and available("sklearn") and available("threadpoolctl"):
        libs.append(("sklearn", sklearn_runner))
    threads_list = [int(t) for t in args.threads.split(",")]
    print(f"data: {source} {x.shape}")
    table("seed network 784-128-64-10, SGD momentum", x, y, libs,
          [int(b) for b in args.batches.split(",")], threads_list, repeats, SEED, SGD, peaks)
    if not args.no_wide:
        wide_libs = [lib for lib in libs if lib[0] != "sklearn"]
        table("wide network 784-1024-1024-10, Adam", x, y, wide_libs, [256], threads_list,
              max(1, min(repeats, 2)), WIDE, ADAM, peaks)


if __name__ == "__main__":
    main()
