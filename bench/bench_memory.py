"""Peak memory of training on Fashion-MNIST given as uint8 (60000 x 784): the peak RSS of a fresh
process (resource.getrusage) beside the sizes of the input arrays, the weights and the optimizer
state, and the interpreter + NumPy + fastmlp baseline measured before the data exists. Goal: peak
<= baseline + inputs + weights + optimizer state + 64 MB. The measurement runs in a subprocess so
that nothing this script imported counts.

    python bench/bench_memory.py [--epochs 1] [--batch 128]
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import gzip, json, os, resource, struct, sys
import numpy as np
import fastmlp
from fastmlp import layers

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux

epochs, batch = int(sys.argv[1]), int(sys.argv[2])
baseline = peak_mb()
d = "/usr/share/datasets/fashion-mnist"
try:
    with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz"), "rb") as f:
        _, n, r, c = struct.unpack(">IIII", f.read(16))
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, r * c)
    with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz"), "rb") as f:
        f.read(8)
        y = np.frombuffer(f.read(), dtype=np.uint8)
    source = "fashion-mnist"
except OSError:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60000, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 60000).astype(np.uint8)
    source = "synthetic"
after_load = peak_mb()  # the gzip reader's transient buffers count here, not in training

def current_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024.0

before_fit = current_mb()
model = fastmlp.Sequential([fastmlp.Input(shape=(784,)), layers.Rescaling(1.0 / 255),
                            layers.Dense(128, activation="relu"),
                            layers.Dense(64, activation="relu"), layers.Dense(10)])
model.compile(optimizer="adam",
              loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)
weights = sum(w.nbytes for w in model.get_weights())
print(json.dumps({"source": source, "baseline_mb": baseline, "after_load_mb": after_load, "before_fit_mb": before_fit,
                  "peak_mb": peak_mb(), "inputs": x.nbytes + y.nbytes, "weights": weights,
                  "optimizer_state": 2 * weights}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.epochs), str(args.batch)],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    mb = 1024.0 * 1024.0
    inputs, weights, state = r["inputs"] / mb, r["weights"] / mb, r["optimizer_state"] / mb
    budget = r["baseline_mb"] + inputs + weights + state + 64.0
    print(f"data: {r['source']} uint8, {args.epochs} epoch(s) of Adam at batch {args.batch}")
    print(f"  interpreter + numpy + fastmlp baseline  {r['baseline_mb']:8.1f} MB")
    print(f"  peak after loading the data             {r['after_load_mb']:8.1f} MB")
    print(f"  resident just before fit                {r['before_fit_mb']:8.1f} MB")
    print(f"  input arrays (x uint8 + y)              {inputs:8.1f} MB")
    print(f"  weights                                 {weights:8.2f} MB")
    print(f"  optimizer state (Adam m, v)             {state:8.2f} MB")
    print(f"  peak RSS                                {r['peak_mb']:8.1f} MB")
    print(f"  budget (baseline + the above + 64 MB)   {budget:8.1f} MB -> "
          f"{'within' if r['peak_mb'] <= budget else 'OVER'} "
          f"(peak - baseline - data - weights - state = "
          f"{r['peak_mb'] - r['baseline_mb'] - inputs - weights - state:.1f} MB)")
    if r["peak_mb"] <= r["after_load_mb"]:
        print("  training did not raise the peak: it was set while reading the gzip files")
    else:
        print(f"  training raised the peak by {r['peak_mb'] - r['before_fit_mb']:.1f} MB over the "
              f"resident size before fit")


if __name__ == "__main__":
    main()
