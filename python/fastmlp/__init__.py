"""fastmlp: fast multilayer perceptrons on the CPU with a Keras-like API."""

from fastmlp._runtime import configure_openmp_wait_policy as _configure_openmp_wait_policy

_configure_openmp_wait_policy()

from fastmlp import _core  # noqa: E402
from fastmlp import ops  # noqa: E402
from fastmlp._core import cpu_info, get_num_threads, set_num_threads  # noqa: E402

__version__ = _core.__version__

__all__ = ["__version__", "cpu_info", "get_num_threads", "ops", "set_num_threads"]
