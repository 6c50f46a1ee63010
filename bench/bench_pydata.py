"""Per-batch overhead of batches from Python (a generator, a `PyDataset`) against the same
batches in an in-memory array: one epoch of the seed network 784-128-64-10 (Adam, no shuffle,
one thread), interleaved best-of-N in one process.

For each batch size: the epoch's wall time and the calling thread's CPU time with the array
(anchor), a generator yielding slices of it, a PyDataset returning them (workers=1) and the same
with workers=2 threads; the per-batch overhead is (source - array) / batches. The last case
gives the PyDataset work to do (uint8 -> float32 scaling, as a decoder would) so that workers=2
can overlap it with the core's step, which releases the GIL.

    python bench/bench_pydata.py [--quick] [--batches 32,128,512]
"""

import argparse
import os
import time

import numpy as np

import fastmlp
from fastmlp import layers

ROWS = 12800


def data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (ROWS, 784), dtype=np.uint8)
    return images.astype(np.float32) / 255.0, images, rng.integers(0, 10, ROWS).astype(np.int64)


class Slices(fastmlp.utils.PyDataset):
    def __init__(self, x, y, batch, scale=False, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch, self.scale = x, y, batch, scale

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, i):
        x = self.x[i * self.batch:(i + 1) * self.batch]
        if self.scale:
            x = x.astype(np.float32) * np.float32(1 / 255)
        return x, self.y[i * self.batch:(i + 1) * self.batch]


def model():
    fastmlp.utils.set_random_seed(0)
    m = fastmlp.Sequential([fastmlp.Input(shape=(784,)), layers.Dense(128, activation="relu"),
                            layers.Dense(64, activation="relu"), layers.Dense(10)])
    m.compile("adam", fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


def cases(x, raw, y, batch):
    def generator():
        for i in range(0, ROWS, batch):
            yield x[i:i + batch], y[i:i + batch]
    return {
        "array": lambda m: m.fit(x, y, batch_size=batch, shuffle=False, verbose=0),
        "generator": lambda m: m.fit(generator(), shuffle=False, verbose=0),
        "PyDataset": lambda m: m.fit(Slices(x, y, batch), shuffle=False, verbose=0),
        "PyDataset 2 workers": lambda m: m.fit(Slices(x, y, batch, workers=2), shuffle=False,
                                               verbose=0),
        "uint8 PyDataset, scaled": lambda m: m.fit(Slices(raw, y, batch, scale=True),
                                                   shuffle=False, verbose=0),
        "  same, 2 workers": lambda m: m.fit(Slices(raw, y, batch, scale=True, workers=2),
                                             shuffle=False, verbose=0),
    }


def best_times(runs, rounds):
    """(wall, calling-thread CPU) seconds per epoch, best of `rounds`, the cases interleaved."""
    models = {name: model() for name in runs}
    best = {name: (float("inf"), float("inf")) for name in runs}
    for name, run in runs.items():
        run(models[name])  # warm: workspaces, first-batch checks
    for _ in range(rounds):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            run(models[name])
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--batches", default="32,128,512")
    args = parser.parse_args()
    rounds = 2 if args.quick else 5
    fastmlp.set_num_threads(1)
    x, raw, y = data()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; best of {rounds}; "
          f"one epoch of {ROWS} rows, 784-128-64-10, Adam, 1 core thread")
    print(f"{'batch':>5} {'case':<24} {'wall ms':>8} {'cpu ms':>7} {'array ms':>8} "
          f"{'ratio':>6} {'us/batch':>8}")
    for batch in [int(b) for b in args.batches.split(",")]:
        batches = -(-ROWS // batch)
        best = best_times(cases(x, raw, y, batch), rounds)
        anchor_wall, _ = best["array"]
        for name, (wall, cpu) in best.items():
            extra = (wall - anchor_wall) / batches * 1e6
            print(f"{batch:>5} {name:<24} {wall * 1e3:>8.1f} {cpu * 1e3:>7.1f} "
                  f"{anchor_wall * 1e3:>8.1f} {wall / anchor_wall:>6.2f} {extra:>8.1f}")


if __name__ == "__main__":
    main()
