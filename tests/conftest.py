"""Fixtures shared by several test modules."""

import pytest

import fastmlp
from fastmlp import _core


@pytest.fixture
def threads_restored():
    """Restores the thread setting afterwards; adaptation to machine load is off meanwhile, so
    that 2 threads really run 2 (and wide layers really split) even on a busy machine."""
    before, adapt = fastmlp.get_num_threads(), _core.thread_adaptation()
    _core.set_thread_adaptation(False)
    yield
    fastmlp.set_num_threads(before)
    _core.set_thread_adaptation(adapt)
