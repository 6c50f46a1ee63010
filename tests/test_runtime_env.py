"""The default thread count read from the environment as OpenMP would, without an OpenMP runtime
in the process."""

import os
import subprocess
import sys

import pytest


def run_python(code, **env):
    full = dict(os.environ, **env)
    for name, value in env.items():
        if value is None:
            full.pop(name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_no_openmp_runtime_is_loaded():
    maps = run_python("import fastmlp, numpy as np\n"
                      "fastmlp.Sequential([fastmlp.Input(shape=(4,)), fastmlp.layers.Dense(2)])"
                      ".predict(np.ones((3000, 4), np.float32), verbose=0)\n"
                      "print(open('/proc/self/maps').read())")
    libs = {line.split()[-1] for line in maps.splitlines() if ".so" in line}
    assert not [lib for lib in libs if "gomp" in lib or "libomp" in lib or "iomp" in lib], libs


@pytest.mark.parametrize("value, expected", [("1", 1), ("3", 3), ("3,2", 3), ("5000", 4096)])
def test_omp_num_threads_sets_the_default(value, expected):
    assert run_python("import fastmlp; print(fastmlp.get_num_threads())",
                      OMP_NUM_THREADS=value) == str(expected)


@pytest.mark.parametrize("value", ["", "abc", "0", "-2", None])
def test_without_a_valid_omp_num_threads_the_affinity_mask_decides(value):
    expected = len(os.sched_getaffinity(0))
    assert run_python("import fastmlp; print(fastmlp.get_num_threads())",
                      OMP_NUM_THREADS=value) == str(expected)


def test_version_comes_from_pyproject():
    import re

    import fastmlp
    pyproject = os.path.join(os.path.dirname(__file__), "..", "pyproject.toml")
    if not os.path.exists(pyproject):
        pytest.skip("not run from a source checkout")
    with open(pyproject, encoding="utf-8") as f:
        declared = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
    assert fastmlp.__version__ == declared
