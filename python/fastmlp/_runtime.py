"""Process set-up that must happen before the C++ core (and its OpenMP runtime) loads."""

import os


def configure_openmp_wait_policy() -> None:
    """Idle OpenMP threads sleep at once instead of spinning (OMP_WAIT_POLICY=passive).

    Unless the user chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), this sets
    OMP_WAIT_POLICY=passive. Why passive and not the short spin (GOMP_SPINCOUNT=10000) used
    before: bench/bench_threads.py, training 784-128-64-10 with Adam on 4,000 rows on a shared
    2-CPU machine (load average ~7 from other processes), ms per epoch, 1 thread -> 2 threads:

        policy                        hog       batch 32             batch 128
        passive + idle-CPU cap        none      113 ->  113 (1.00x)   74 ->   84 (1.14x)
        passive, fixed threads        none       94 ->  113 (1.21x)   61 ->   70 (1.15x)
        GOMP_SPINCOUNT=10000, fixed   none       91 ->  582 (6.40x)   49 ->  166 (3.37x)
        active (spin), fixed          none      171 ->  485 (2.84x)   65 ->  347 (5.34x)
        passive + idle-CPU cap        pinned    139 ->  132 (0.94x)   97 ->  102 (1.05x)
        passive, fixed threads        pinned    139 ->  155 (1.12x)   90 ->   93 (1.03x)
        GOMP_SPINCOUNT=10000, fixed   pinned    153 ->  563 (3.68x)   87 ->  283 (3.24x)
        active (spin), fixed          pinned    239 -> 1007 (4.21x)  177 ->  554 (3.13x)

    Even a 10,000-iteration spin collapses the 2-thread run 2-6x when the other core is busy:
    training opens several short regions per batch, and every spin burns the time slice the
    descheduled sibling needs before the barrier can complete. A passive wait costs a futex
    wake-up per region (a few us), which the thread policy already pays for by threading only
    work that takes much longer than that. What passive waits cannot fix, a second thread that
    queues behind other processes at every barrier, the core's idle-CPU cap handles
    (fastmlp::threads_available, off with FASTMLP_ADAPTIVE_THREADS=0).
    """
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "passive"
