"""The process-wide seed stream behind `fastmlp.utils.set_random_seed`.

Every random choice fastmlp makes (initializer seeds, dropout seeds, the shuffle seed of a model) is
drawn from one generator. After `set_random_seed(s)` that generator restarts from `s`, so building
and training the same model again gives the same bits; before any call it is seeded from the OS.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def reseed(seed: int) -> None:
    global _generator
    _generator = np.random.default_rng(seed)


def next_seed() -> int:
    """A fresh 63-bit seed from the global stream (fits int64 and uint64)."""
    return int(_generator.integers(0, 2**63 - 1))


def epoch_seed(base: int, epoch: int) -> int:
    """The shuffle seed of one epoch: a pure function of the model's base seed and the epoch."""
    ss = np.random.SeedSequence([int(base) & (2**64 - 1), int(epoch)])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
