"""fastmlp.sklearn.MLPClassifier vs scikit-learn's MLPClassifier, same run.

speed: Fashion-MNIST, the same configuration for both (hidden (128, 64), relu, adam, batch 200,
a fixed number of epochs with tol disabled, same random_state): fit time, test accuracy and the
fit-time ratio.

imbalanced: what scikit-learn's MLP cannot run. A two-class make_classification with 5% positives
(20,000 rows, half for testing): balanced accuracy of scikit-learn's MLP and of fastmlp's with
the same configuration, then fastmlp with class_weight="balanced", and with dropout besides.

    python bench/bench_sklearn.py [--case all|speed|imbalanced] [--epochs 10] [--n-train 60000]
                                  [--imbalanced-epochs 30] [--threads 2]
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


def speed(args):
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


def imbalanced(args):
    from sklearn.datasets import make_classification
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    import fastmlp
    from fastmlp.sklearn import MLPClassifier

    x, y = make_classification(n_samples=20000, n_features=20, n_informative=8,
                               weights=[0.95], flip_y=0.01, random_state=args.seed)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, stratify=y,
                                                        random_state=args.seed)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    config = dict(hidden_layer_sizes=(64, 32), solver="adam", batch_size=200,
                  learning_rate_init=1e-3, max_iter=args.imbalanced_epochs, tol=0.0,
                  n_iter_no_change=args.imbalanced_epochs + 1, random_state=args.seed)
    fastmlp.set_num_threads(args.threads)
    print(f"\nImbalanced make_classification: {len(x_train)} train / {len(x_test)} test, "
          f"{y.mean():.1%} positives, hidden (64, 32), adam, {args.imbalanced_epochs} epochs")
    cases = (("sklearn", SkMLP(**config)),
             ("fastmlp", MLPClassifier(**config)),
             ("fastmlp class_weight='balanced'", MLPClassifier(class_weight="balanced", **config)),
             ("fastmlp class_weight='balanced' dropout=0.2",
              MLPClassifier(class_weight="balanced", dropout=0.2, **config)))
    with threadpool_limits(limits=args.threads):
        for name, est in cases:
            seconds, _ = timed_fit(est, x_train, y_train)
            pred = est.predict(x_test)
            print(f"{name:44s} fit {seconds:6.2f} s   balanced accuracy "
                  f"{balanced_accuracy_score(y_test, pred):.4f}   accuracy "
                  f"{np.mean(pred == y_test):.4f}")
    print("(scikit-learn's MLPClassifier has neither class_weight nor dropout)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=("all", "speed", "imbalanced"), default="all")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--n-train", type=int, default=60000)
    ap.add_argument("--imbalanced-epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2, help="threads for both (BLAS and fastmlp)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.case in ("all", "speed"):
        speed(args)
    if args.case in ("all", "imbalanced"):
        imbalanced(args)


if __name__ == "__main__":
    main()
