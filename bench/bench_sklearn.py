"""fastmlp.sklearn.MLPClassifier vs scikit-learn's MLPClassifier on Fashion-MNIST, same run.

Same configuration for both (hidden (128, 64), relu, adam, batch 200, a fixed number of epochs
with tol disabled, same random_state): prints fit time, test accuracy and the fit-time ratio.

    python bench/bench_sklearn.py [--epochs 10] [--n-train 60000] [--threads 2]
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import time
import warnings

import numpy as np

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(path: str) -> np.ndarray:
    """Reads a gzipped IDX file (big-endian header: magic, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(n_train: int):
    def part(prefix):
        x = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
        return (x.reshape(len(x), -1).astype(np.float32) / 255.0), y.astype(np.int64)

    x_train, y_train = part("train")
    x_test, y_test = part("t10k")
    return x_train[:n_train], y_train[:n_train], x_test, y_test


def timed_fit(est, x, y):
    with warnings.catch_warnings():
        # tol is disabled, so both stop at max_iter by design.
        warnings.simplefilter("ignore")
        start, cpu = time.perf_counter(), time.process_time()
        est.fit(x, y)
        return time.perf_counter() - start, time.process_time() - cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--n-train", type=int, default=60000)
    ap.add_argument("--threads", type=int, default=2, help="threads for both (BLAS and fastmlp)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from sklearn.neural_network import MLPClassifier as SkMLP
    from threadpoolctl import threadpool_limits

    import fastmlp
    from fastmlp.sklearn import MLPClassifier

    x_train, y_train, x_test, y_test = load(args.n_train)
    config = dict(hidden_layer_sizes=(128, 64), activation="relu", solver="adam", alpha=1e-4,
                  batch_size=200, learning_rate_init=1e-3, max_iter=args.epochs, tol=0.0,
                  n_iter_no_change=args.epochs + 1, shuffle=True, random_state=args.seed)
    fastmlp.set_num_threads(args.threads)
    print(f"Fashion-MNIST {len(x_train)} train / {len(x_test)} test, {args.epochs} epochs, "
          f"hidden (128, 64), adam, batch 200, {args.threads} thread(s)")
    results = {}
    with threadpool_limits(limits=args.threads):
        for name, est in (("fastmlp", MLPClassifier(**config)), ("sklearn", SkMLP(**config))):
            seconds, cpu = timed_fit(est, x_train, y_train)
            acc = float(np.mean(est.predict(x_test) == y_test))
            results[name] = (seconds, cpu, acc)
            print(f"{name:8s} fit {seconds:8.2f} s (CPU {cpu:8.2f} s)   test accuracy {acc:.4f}"
                  f"   final training loss {est.loss_:.4f}")
    (t_ours, c_ours, a_ours), (t_sk, c_sk, a_sk) = results["fastmlp"], results["sklearn"]
    # CPU time is reported too: on a shared machine wall time includes waiting for a core.
    print(f"fit-time ratio sklearn/fastmlp = {t_sk / t_ours:.2f}x wall, {c_sk / c_ours:.2f}x CPU"
          f"   accuracy difference fastmlp - sklearn = {a_ours - a_sk:+.4f}")


if __name__ == "__main__":
    main()
