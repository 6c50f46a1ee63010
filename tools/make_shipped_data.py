"""Regenerate the small data sets shipped in python/fastmlp/datasets/data/ (run from the repo root).

- fashion_mnist_small/: a stratified, seeded subset of Fashion-MNIST (100 training images per
  class from the training split, 30 test images per class from the test split), as gzip IDX.
  Needs the full Fashion-MNIST files (e.g. `apt-get install dataset-fashion-mnist`).
- diabetes.npz: the diabetes regression data of Efron et al. (2004), 442 x 10, copied from the
  copy scikit-learn ships (raw, unstandardized features). Needs scikit-learn.
Both outputs are byte-reproducible (fixed seeds, gzip mtime 0).
"""

import gzip
import io
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from fastmlp.datasets import fashion_mnist  # noqa: E402
from fastmlp.datasets.idx import write_idx  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "python", "fastmlp", "datasets", "data")
TRAIN_PER_CLASS, TEST_PER_CLASS, SEED = 100, 30, 20170825


def stratified(y, per_class, rng):
    picks = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in range(10)]
    return rng.permutation(np.concatenate(picks))


def make_fashion_small():
    (x_tr, y_tr), (x_te, y_te) = fashion_mnist.load_data(download=False)
    rng = np.random.default_rng(SEED)
    itr, ite = stratified(y_tr, TRAIN_PER_CLASS, rng), stratified(y_te, TEST_PER_CLASS, rng)
    out = os.path.join(OUT, "fashion_mnist_small")
    os.makedirs(out, exist_ok=True)
    for stem, arr in (("train-images-idx3-ubyte", x_tr[itr]),
                      ("train-labels-idx1-ubyte", y_tr[itr]),
                      ("t10k-images-idx3-ubyte", x_te[ite]),
                      ("t10k-labels-idx1-ubyte", y_te[ite])):
        write_idx(os.path.join(out, stem + ".gz"), arr, compress=True)


def make_diabetes():
    import sklearn.datasets as skd

    base = os.path.join(os.path.dirname(skd.__file__), "data")
    x = np.loadtxt(os.path.join(base, "diabetes_data_raw.csv.gz")).astype(np.float32)
    y = np.loadtxt(os.path.join(base, "diabetes_target.csv.gz")).astype(np.float32)
    buf = io.BytesIO()
    np.savez_compressed(buf, x=x, y=y)
    with open(os.path.join(OUT, "diabetes.npz"), "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    make_fashion_small()
    make_diabetes()
    print("wrote", OUT)
