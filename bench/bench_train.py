"""One training epoch of the seed network (784-128-64-10 ReLU, SGD(0.05, momentum 0.9), sparse
categorical cross-entropy from logits) on Fashion-MNIST: fastmlp vs PyTorch vs scikit-learn's
MLPClassifier, batch 32/128/512 on 1 and 2 threads, interleaved best-of-N in one process.

    python bench/bench_train.py            # full table (60,000 images)
    python bench/bench_train.py --quick    # smoke run: 6,000 images, one repetition
"""

import argparse
import gzip
import os
import struct
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


def fastmlp_runner(x, y, batch, threads):
    def dense(units, act, seed):
        return {"type": "dense", "units": units, "activation": act,
                "kernel_initializer": {"name": "glorot_uniform", "seed": seed}}
    model = _core.Model(784, [dense(128, "relu", 1), dense(64, "relu", 2), dense(10, "linear", 3)])
    model.compile({"name": "sparse_categorical_crossentropy", "from_logits": True},
                  {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9}, [])
    epoch = [0]

    def run():
        fastmlp.set_num_threads(threads)
        epoch[0] += 1
        return model.train_epoch(x, y, batch_size=batch, seed=epoch[0])["loss"]
    return run


def torch_runner(x, y, batch, threads):
    import torch
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
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


def sklearn_runner(x, y, batch, threads):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    def run():
        clf = MLPClassifier(hidden_layer_sizes=(128, 64), solver="sgd", learning_rate_init=0.05,
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 images, one repetition")
    parser.add_argument("--repeats", type=int, default=3, help="best of N epochs (default 3)")
    parser.add_argument("--batches", default="32,128,512")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--anchors", default="torch,sklearn", help="comma-separated anchors to run")
    args = parser.parse_args()
    x, y, source = load_fashion_mnist()
    repeats = args.repeats
    if args.quick:
        x, y, repeats = x[:6000], y[:6000], 1
    libs = [("fastmlp", fastmlp_runner)]
    anchors = args.anchors.split(",")
    if "torch" in anchors and available("torch"):
        libs.append(("torch", torch_runner))
    if "sklearn" in anchors and available("sklearn") and available("threadpoolctl"):
        libs.append(("sklearn", sklearn_runner))
    print(f"data: {source} {x.shape}, best of {repeats}, seconds per epoch; ratio = anchor / fastmlp")
    header = f"{'batch':>5} {'thr':>3} " + " ".join(f"{name:>9}" for name, _ in libs)
    header += "".join(f" {name + '/fm':>11}" for name, _ in libs[1:])
    print(header)
    for batch in [int(b) for b in args.batches.split(",")]:
        for threads in [int(t) for t in args.threads.split(",")]:
            runners = [(name, make(x, y, batch, threads)) for name, make in libs]
            best = {name: float("inf") for name, _ in runners}
            for _ in range(repeats):
                for name, run in runners:  # interleaved, so drifts in machine load hit all alike
                    t0 = time.perf_counter()
                    run()
                    best[name] = min(best[name], time.perf_counter() - t0)
            line = f"{batch:>5} {threads:>3} " + " ".join(f"{best[n]:>9.3f}" for n, _ in libs)
            line += "".join(f" {best[n] / best['fastmlp']:>10.2f}x" for n, _ in libs[1:])
            print(line, flush=True)


if __name__ == "__main__":
    main()
