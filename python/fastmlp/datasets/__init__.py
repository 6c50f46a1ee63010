"""Data sets: MNIST and Fashion-MNIST (found on disk or downloaded and verified), small real data
sets shipped inside the package, and synthetic problem generators.

    (x_train, y_train), (x_test, y_test) = fastmlp.datasets.fashion_mnist.load_data()
    (x_train, y_train), (x_test, y_test) = fastmlp.datasets.fashion_mnist_small.load_data()
    x, y = fastmlp.datasets.make_spirals(1000, noise=0.1, seed=0)
"""

from fastmlp.datasets import diabetes, fashion_mnist, fashion_mnist_small, mnist
from fastmlp.datasets._sources import DatasetNotFoundError
from fastmlp.datasets.idx import read_idx, write_idx
from fastmlp.datasets.synthetic import make_moons, make_regression, make_spirals

__all__ = ["DatasetNotFoundError", "diabetes", "fashion_mnist", "fashion_mnist_small",
           "make_moons", "make_regression", "make_spirals", "mnist", "read_idx", "write_idx"]
