"""fastmlp: fast multilayer perceptrons on the CPU with a Keras-like API.

    import fastmlp as keras
    from fastmlp import layers

    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(10, activation="softmax")])
"""

from fastmlp._runtime import configure_openmp_wait_policy as _configure_openmp_wait_policy

_configure_openmp_wait_policy()

from fastmlp import _core  # noqa: E402
from fastmlp import ops  # noqa: E402
from fastmlp._core import cpu_info, get_num_threads, set_num_threads  # noqa: E402
from fastmlp import (activations, callbacks, initializers, layers, losses, metrics,  # noqa: E402
                     models, optimizers, regularizers, saving, utils)
from fastmlp import datasets  # noqa: E402
from fastmlp.layers import Input  # noqa: E402
from fastmlp.models import Sequential, load_model  # noqa: E402

__version__ = _core.__version__

__all__ = ["Input", "Sequential", "__version__", "activations", "callbacks", "cpu_info", "datasets",
           "get_num_threads", "initializers", "layers", "load_model", "losses", "metrics",
           "models", "ops", "optimizers", "regularizers", "saving", "set_num_threads", "utils"]
