"""Tiny networks, where framework overhead dominates: 10 -> w -> w -> 10 (ReLU), Adam, batch 32,
one epoch of 20,000 rows, w in {16, 46, 128}. fastmlp's `fit` against a plain PyTorch loop
(zero_grad / forward / loss / backward / step, one thread), and fastmlp on 1 vs 2 threads (2 must
never be more than 5% slower than 1). Interleaved best-of-N in one process.

    python bench/bench_tiny.py [--quick] [--widths 16,46,128]
"""

import argparse
import os
import time

import numpy as np

import fastmlp
from fastmlp import layers

try:
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None

ROWS, BATCH = 20000, 32


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, 10)).astype(np.float32)
    y = rng.integers(0, 10, ROWS).astype(np.int32)
    return x, y


def fastmlp_runner(x, y, width, threads):
    model = fastmlp.Sequential([fastmlp.Input(shape=(10,)),
                                layers.Dense(width, activation="relu"),
                                layers.Dense(width, activation="relu"), layers.Dense(10)])
    model.compile(optimizer="adam",
                  loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))

    def run():
        fastmlp.set_num_threads(threads)
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return run


def torch_runner(x, y, width):
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, width), torch.nn.ReLU(),
                              torch.nn.Linear(width, width), torch.nn.ReLU(),
                              torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        torch.set_num_threads(1)
        perm = torch.randperm(ROWS)
        for i in range(0, ROWS, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--widths", default="16,46,128")
    args = parser.parse_args()
    rounds = 2 if args.quick else 5
    x, y = data()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; best of {rounds}, "
          f"ms per epoch of {ROWS} rows, batch {BATCH}")
    print(f"{'w':>4} {'fm 1T':>8} {'fm 2T':>8} {'2T/1T':>6} {'torch 1T':>9} {'torch/fm':>9}")
    for width in [int(w) for w in args.widths.split(",")]:
        runners = {"fm1": fastmlp_runner(x, y, width, 1), "fm2": fastmlp_runner(x, y, width, 2)}
        if torch is not None:
            runners["torch"] = torch_runner(x, y, width)
        best = {name: float("inf") for name in runners}
        for _ in range(rounds):
            for name, run in runners.items():  # interleaved: load drifts hit all alike
                time.sleep(0.3)  # the previous library's pool threads stop spinning first
                t0 = time.perf_counter()
                run()
                best[name] = min(best[name], (time.perf_counter() - t0) * 1e3)
        line = f"{width:>4} {best['fm1']:>8.2f} {best['fm2']:>8.2f} {best['fm2'] / best['fm1']:>6.2f}"
        if "torch" in best:
            fm = min(best["fm1"], best["fm2"])
            line += f" {best['torch']:>9.1f} {best['torch'] / fm:>8.1f}x"
        print(line, flush=True)
    fastmlp.set_num_threads(os.cpu_count() or 1)


if __name__ == "__main__":
    main()
