import os
import subprocess
import sys

import pytest

import fastmlp


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
