"""Loading any data set in the MNIST layout: four IDX files, 28x28 uint8 images, uint8 labels."""

from __future__ import annotations

import os
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from fastmlp.datasets import _sources
from fastmlp.datasets.idx import read_idx

Arrays = Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]

MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _check(files: Dict[str, "os.PathLike[str]"], arrays: Dict[str, np.ndarray],
           num_classes: int) -> None:
    """Check the four arrays fit together as images + labels, naming the offending file."""
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        for role, arr, ndim in (("x_" + split, x, 3), ("y_" + split, y, 1)):
            if arr.dtype != np.uint8 or arr.ndim != ndim:
                raise ValueError(f"{os.fspath(files[role])}: expected {ndim}-D uint8 IDX data, "
                                 f"got {arr.ndim}-D {arr.dtype}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{os.fspath(files['x_' + split])} has {x.shape[0]} images but "
                             f"{os.fspath(files['y_' + split])} has {y.shape[0]} labels")
        if y.size and int(y.max()) >= num_classes:
            raise ValueError(f"{os.fspath(files['y_' + split])}: label {int(y.max())} out of "
                             f"range 0..{num_classes - 1}")


def load_files(files: Dict[str, "os.PathLike[str]"], num_classes: int = 10) -> Arrays:
    """Read and cross-check the four IDX files (role -> path).

    Returns Keras's layout: ``(x_train, y_train), (x_test, y_test)``.
    """
    arrays = {role: read_idx(p) for role, p in files.items()}
    _check(files, arrays, num_classes)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])



def loaders(spec: Callable[[], "_sources.DatasetSpec"], title: str,
            module: str) -> Tuple[Callable, Callable]:
    """The `locate` and `load_data` functions of a data set module in the MNIST layout. `spec`
    returns the module's SPEC when called, so that replacing the module's SPEC (tests do, to
    point the search elsewhere) takes effect."""

    def locate(path: Optional["os.PathLike[str]"] = None, download: bool = True):
        return _sources.locate(spec(), path=path, download=download)

    def load_data(path: Optional["os.PathLike[str]"] = None, download: bool = True) -> Arrays:
        return load_files(locate(path, download))

    locate.__doc__ = """The four files' paths, by role ("x_train", "y_train", "x_test", "y_test"),
    searching and downloading as `load_data` does; raises DatasetNotFoundError saying how to get
    them."""
    load_data.__doc__ = f"""Load {title} as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays.

    `path`: a directory holding the four standard files (gzip or raw); when given, only it is
    searched. `download`: allow fetching from the canonical mirrors into the user cache.
    Raises DatasetNotFoundError (a FileNotFoundError) saying how to get the data, and ValueError
    on a corrupt file.
    """
    for fn in (locate, load_data):
        fn.__module__, fn.__qualname__ = module, fn.__name__
    return locate, load_data
