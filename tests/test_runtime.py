import os
import subprocess
import sys
import time

import pytest

import fastmlp
from _core_helpers import hooks


def test_set_and_get_num_threads_round_trip():
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(1)
        assert fastmlp.get_num_threads() == 1
        fastmlp.set_num_threads(2)
        assert fastmlp.get_num_threads() == 2
    finally:
        fastmlp.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 100000])
def test_absurd_thread_counts_are_value_errors(bad):
    with pytest.raises(ValueError, match="thread count"):
        fastmlp.set_num_threads(bad)


def test_default_threads_are_the_cpus_available():
    assert fastmlp.get_num_threads() == len(os.sched_getaffinity(0))


def test_cpu_info_reports_isa_and_caches():
    info = fastmlp.cpu_info()
    assert info["isa"] in info["supported_isas"]
    assert info["supported_isas"][0] == "generic"
    assert info["l2_cache"] > 0 and info["l1d_cache"] > 0
    assert info["num_threads"] == fastmlp.get_num_threads()


def _isa_in_subprocess(value):
    env = dict(os.environ, FASTMLP_ISA=value)
    return subprocess.run([sys.executable, "-c", "import fastmlp; print(fastmlp.cpu_info()['isa'])"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_fastmlp_isa_forces_the_generic_path():
    proc = _isa_in_subprocess("generic")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "generic"


def test_fastmlp_isa_nonsense_is_a_clear_error():
    proc = _isa_in_subprocess("sse9000")
    assert proc.returncode != 0
    assert "FASTMLP_ISA=sse9000" in proc.stderr and "valid values" in proc.stderr


_IDLE_CHILD = r"""
import resource, sys, time
import numpy as np
import fastmlp
from fastmlp import ops
fastmlp.set_num_threads(2)
a = np.ones((512, 512), np.float32)
out = np.empty_like(a)
for _ in range(5):
    ops.matmul(a, a, out=out)   # regions that use the worker team
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0 = cpu()
time.sleep(0.5)                 # the workers spin ~100 us, then must sleep
print(cpu() - c0)
"""


def test_idle_workers_sleep_instead_of_spinning():
    # A worker that kept spinning would burn ~0.5 s of CPU during the caller's 0.5 s sleep.
    env = dict(os.environ, FASTMLP_ADAPTIVE_THREADS="0")
    out = subprocess.run([sys.executable, "-c", _IDLE_CHILD], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert float(out) < 0.1


_FORK_CHILD = r"""
import os
import numpy as np
import fastmlp
fastmlp.set_num_threads(2)
a = np.arange(256 * 256, dtype=np.float32).reshape(256, 256) / 65536
expect = fastmlp.ops.matmul(a, a)  # the parent's workers exist before the fork
pid = os.fork()
if pid == 0:
    os._exit(0 if np.array_equal(fastmlp.ops.matmul(a, a), expect) else 1)
_, status = os.waitpid(pid, 0)
print(os.WIFEXITED(status) and os.WEXITSTATUS(status))
"""


def test_forked_child_runs_parallel_regions():
    # In a fresh interpreter: forking pytest itself would fork whatever threads other test
    # modules started (JAX warns about exactly that).
    env = dict(os.environ, FASTMLP_ADAPTIVE_THREADS="0")
    out = subprocess.run([sys.executable, "-c", _FORK_CHILD], env=env, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert out.strip() == "0"


_SPINNER = "while True: pass"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_a_busy_core_caps_the_threads_unless_deterministic(threads_restored):
    from fastmlp import _core
    cpus = len(os.sched_getaffinity(0))
    fastmlp.set_num_threads(cpus)
    spinner = subprocess.Popen([sys.executable, "-c", _SPINNER])
    try:
        _core.set_thread_adaptation(True)
        deadline = time.monotonic() + 5.0  # the load is sampled every 50 ms
        while hooks().threads_available() > cpus - 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hooks().threads_available() <= cpus - 1
        _core.set_thread_adaptation(False)  # deterministic: the setting, whatever the load
        assert hooks().threads_available() == cpus
    finally:
        spinner.kill()
        spinner.wait()


def test_adaptation_is_off_when_the_environment_says_so():
    code = "from fastmlp import _core; print(_core.thread_adaptation())"
    env = dict(os.environ, FASTMLP_ADAPTIVE_THREADS="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
    env.pop("FASTMLP_ADAPTIVE_THREADS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "True"
