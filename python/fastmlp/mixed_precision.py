"""Keras 3's legacy `keras.mixed_precision` names for the dtype policy (see `fastmlp.config`)."""

from fastmlp.config import dtype_policy as global_policy
from fastmlp.config import set_dtype_policy as set_global_policy
from fastmlp.dtype_policies import DTypePolicy

Policy = DTypePolicy

__all__ = ["DTypePolicy", "Policy", "global_policy", "set_global_policy"]
