"""Process set-up that must happen before the C++ core (and its OpenMP runtime) loads."""

import os


def configure_openmp_wait_policy() -> None:
    """Idle OpenMP threads sleep at once instead of spinning (OMP_WAIT_POLICY=passive).

    Unless the user chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), this sets
    OMP_WAIT_POLICY=passive. Why passive and not a short spin: measured with
    bench/bench_threads.py (training 784-128-64-10 with Adam, 2,000 rows, on a shared 2-CPU machine
    at load average ~12, ms per epoch, 2 threads / 1 thread):

        policy                   hog       batch 32            batch 128
        GOMP_SPINCOUNT=10000     none      74 -> 381 (5.1x)    36 -> 141 (4.0x)
        passive                  none      68 ->  84 (1.23x)   43 ->  51 (1.19x)
        active (spin)            none     135 -> 671 (5.0x)    75 -> 270 (3.6x)
        GOMP_SPINCOUNT=10000     pinned    71 -> 372 (5.2x)    53 -> 191 (3.6x)
        passive                  pinned    82 -> 119 (1.45x)   70 ->  88 (1.26x)
        active (spin)            pinned   162 -> 1136 (7.0x)  129 -> 1883 (14.6x)

    Even a 10,000-iteration spin collapses the 2-thread run 4-5x when the other core is busy:
    training opens several short regions per batch, and each spin burns the time slice the
    descheduled sibling needs. Passive waits cost a futex wake-up per region (a few us), which
    the thread policy already pays for by threading only work that takes much longer than that.
    """
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "passive"
