"""Epochs 1-4 of the seed network (784-128-64-10 ReLU, Fashion-MNIST, batch 32) in a row, with
SGD(0.05, momentum 0.9) and with Adam, on 1 and 2 threads: each epoch's time and the ratio
epoch 4 / epoch 1. Weights whose gradient is always zero (the images' border pixels) have their
optimizer state decay into subnormal floats, which cost a microcode assist per operation on Intel
cores unless denormals are flushed (fastmlp.config.set_flush_denormals, on by default). Both
settings run in this process, so the ratio of their epoch times is measured in one run.

    python bench/bench_denormals.py            # 60,000 images
    python bench/bench_denormals.py --quick    # 12,000 images
"""

import argparse
import os
import sys
import time

import fastmlp
from fastmlp import layers

sys.path.insert(0, os.path.dirname(__file__))
from bench_train import load_fashion_mnist  # noqa: E402


def build(optimizer):
    fastmlp.utils.set_random_seed(0)
    model = fastmlp.Sequential([fastmlp.Input(shape=(784,)), layers.Dense(128, activation="relu"),
                                layers.Dense(64, activation="relu"), layers.Dense(10)])
    opt = (fastmlp.optimizers.SGD(0.05, momentum=0.9) if optimizer == "sgd"
           else fastmlp.optimizers.Adam(1e-3))
    model.compile(optimizer=opt, loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def epoch_times(x, y, optimizer, threads, flush, epochs):
    fastmlp.config.set_flush_denormals(flush)
    fastmlp.set_num_threads(threads)
    model = build(optimizer)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12,000 images")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    x, y, source = load_fashion_mnist()
    if args.quick:
        x, y = x[:12000], y[:12000]
    print(f"data: {source} {x.shape}, batch 32, seconds per epoch; cpu: {fastmlp.cpu_info()['isa']}")
    print(f"{'optimizer':>9} {'thr':>3} {'flush':>5}  " + " ".join(f"{'ep' + str(i + 1):>6}" for i in range(args.epochs))
          + f" {'last/first':>10} {'off/on (last)':>13}")
    for optimizer in ("sgd", "adam"):
        for threads in (1, 2):
            rows = {}
            for flush in (True, False):
                rows[flush] = epoch_times(x, y, optimizer, threads, flush, args.epochs)
            for flush in (True, False):
                t = rows[flush]
                line = f"{optimizer:>9} {threads:>3} {'on' if flush else 'off':>5}  "
                line += " ".join(f"{v:>6.3f}" for v in t) + f" {t[-1] / t[0]:>10.2f}"
                if not flush:
                    line += f" {t[-1] / rows[True][-1]:>12.2f}x"
                print(line, flush=True)
    fastmlp.config.set_flush_denormals(True)


if __name__ == "__main__":
    main()
