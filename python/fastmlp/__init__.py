"""fastmlp: fast multilayer perceptrons on the CPU with a Keras-like API.

    import fastmlp as keras
    from fastmlp import layers

    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(10, activation="softmax")])
"""

from fastmlp import _core
from fastmlp import ops
from fastmlp._core import cpu_info, get_num_threads
from fastmlp import (activations, callbacks, config, dtype_policies, initializers, layers, losses,
                     metrics, mixed_precision, models, optimizers, regularizers, saving, utils)
from fastmlp.dtype_policies import DTypePolicy
from fastmlp import datasets
from fastmlp.layers import Input
from fastmlp.models import Sequential, load_model

__version__ = _core.__version__


def set_num_threads(n: int) -> None:
    """Sets the number of threads fastmlp computes with (1 to 4096)."""
    import numbers
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"Received an invalid value for `n` of set_num_threads, expected an "
                        f"integer from 1 to 4096. Received: n={n!r}")
    _core.set_num_threads(int(n))



__all__ = ["__version__", "activations", "callbacks", "config", "cpu_info", "datasets",
           "dtype_policies", "DTypePolicy", "get_num_threads", "initializers", "Input", "layers",
           "load_model", "losses", "metrics", "mixed_precision", "models", "ops", "optimizers",
           "regularizers", "saving", "Sequential", "set_num_threads", "utils"]
