"""Process set-up that must happen before the C++ core (and its OpenMP runtime) loads."""

import os


def configure_openmp_wait_policy() -> None:
    """Keep idle OpenMP threads from spinning for long.

    These machines are shared: a thread that spin-waits on a core another process needs makes both
    slow. Unless the user chose a policy, idle threads spin only briefly, then sleep.
    """
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = "10000"
