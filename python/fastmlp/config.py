"""Global settings, as in `keras.config`.

`set_flush_denormals(True)` (the default) runs fastmlp's kernels with denormals flushed to zero:
results and inputs smaller in magnitude than 1.18e-38 (the smallest normal float32) are treated
as 0 inside `fit`, `evaluate`, `predict`, `train_on_batch` and the other model calls, on the
calling thread and on fastmlp's worker threads. Subnormal floats cost ~100 cycles per operation
on Intel cores, and optimizer state that decays (SGD momentum, Adam's and RMSprop's moments of
weights whose gradient stays zero) reaches them: training got 2-5x slower per epoch without the
flush. The caller's floating-point mode is restored when each call returns, and callbacks run in
it, so NumPy code around fastmlp keeps IEEE gradual underflow. `set_flush_denormals(False)` gives
gradual underflow inside fastmlp too (as PyTorch does unless `torch.set_flush_denormal(True)`).
"""

from . import _core
from . import dtype_policies as _dtype_policies

__all__ = ["dtype_policy", "epsilon", "flush_denormals", "floatx", "set_dtype_policy",
           "set_flush_denormals"]

_global_policy = _dtype_policies.DTypePolicy("float32")


def set_dtype_policy(policy):
    """Sets the default dtype policy of the layers created afterwards (Keras 3's
    `keras.config.set_dtype_policy`): "float32" or "mixed_bfloat16" (see
    `fastmlp.dtype_policies`), or a `DTypePolicy`.

    Args:
        policy: a policy name or a `DTypePolicy`.
    """
    global _global_policy
    if not isinstance(policy, (str, _dtype_policies.DTypePolicy)):
        raise ValueError("Invalid `policy` argument. Expected the string name of a policy (such "
                         "as 'mixed_bfloat16') or a `DTypePolicy` instance. Received: "
                         f"policy={policy!r} (of type {type(policy)})")
    _global_policy = _dtype_policies.get(policy, "policy")


def dtype_policy():
    """The default dtype policy of new layers (a `DTypePolicy`; "float32" unless set)."""
    return _global_policy


def set_flush_denormals(enabled):
    """Whether fastmlp's kernels flush denormals to zero (FTZ + DAZ). Defaults to True.

    Args:
        enabled: bool.
    """
    if not isinstance(enabled, bool):
        raise TypeError("Received an invalid value for `enabled`: expected a bool. "
                        f"Received: enabled={enabled!r}")
    _core.set_flush_denormals(enabled)


def flush_denormals():
    """True when fastmlp's kernels flush denormals to zero (see `set_flush_denormals`)."""
    return _core.flush_denormals()


def floatx():
    """The default float type of weights and computations: always "float32" here."""
    return "float32"


def epsilon():
    """The fuzz factor Keras's numeric code uses: 1e-7."""
    return 1e-7
