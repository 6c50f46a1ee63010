"""Tests of the int8 GEMM kernels (fastmlp/gemm_int8.h) through the test hooks: every kernel the
CPU (or the emulated build) has gives the exact integer product and the same float32 bits as the
portable kernel, the row quantizers are Keras's AbsMaxQuantizer byte for byte, the saturation
edges (-128 weights, 127 inputs, the longest exact K) are exact, one tdpbusd equals its emulation,
and the kernel choice (cpu_info, FASTMLP_INT8_KERNEL) is reported and checked."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp
from _core_helpers import hooks
from fastmlp.models._quantize import abs_max_quantize

KERNELS = fastmlp.cpu_info()["supported_int8_kernels"]
MAX_EXACT_K = 132104  # fastmlp::kInt8MaxExactK: K * 127 * 128 < 2^31
SHAPES = [(1, 1, 1), (1, 784, 128), (2, 3, 5), (3, 64, 17), (4, 65, 16), (5, 7, 33), (8, 128, 32),
          (9, 63, 31), (15, 129, 47), (16, 64, 16), (17, 130, 65), (32, 256, 32), (33, 784, 128),
          (64, 300, 100), (100, 784, 512), (257, 70, 10), (3, 0, 5)]


def _ints(rng, shape, lo=-127, hi=127):
    return rng.integers(lo, hi + 1, size=shape).astype(np.int8)


@pytest.mark.parametrize("kernel", KERNELS)
def test_integer_products_are_exact_on_every_kernel(kernel):
    rng = np.random.default_rng(0)
    for m, k, n in SHAPES:
        a, b = _ints(rng, (m, k)), _ints(rng, (k, n), -128)
        want = a.astype(np.int64) @ b.astype(np.int64)
        got = hooks().gemm_int8_into(a, b, kernel=kernel)
        assert got.dtype == np.int32 and np.array_equal(got, want), (kernel, m, k, n)


@pytest.mark.parametrize("kernel", KERNELS)
def test_saturation_edges_are_exact(kernel):
    """vpmaddubsw's int16 pair sums, vpdpbusd's unsigned inputs (q + 128 up to 255) and the
    128 * colsum correction at their extremes: products of 127 and -128, and the longest K whose
    sums fit int32 (-127 * 128 * K = -2^31 + 1024)."""
    rng = np.random.default_rng(1)
    a = np.full((3, 200), 127, np.int8)
    a[1] = -127
    a[2, ::2] = -127
    b = np.full((200, 40), -128, np.int8)
    b[:, 1::2] = 127
    b[::3, 5] = -127
    want = a.astype(np.int64) @ b.astype(np.int64)
    assert np.array_equal(hooks().gemm_int8_into(a, b, kernel=kernel), want)
    k = MAX_EXACT_K
    a = np.full((2, k), 127, np.int8)
    a[1, 1::2] = -127
    b = np.full((k, 33), -128, np.int8)
    b[:, 32] = rng.integers(-128, 128, k).astype(np.int8)
    want = a.astype(np.int64) @ b.astype(np.int64)
    assert want[0, 0] == -127 * 128 * k and want.min() >= -2 ** 31
    assert np.array_equal(hooks().gemm_int8_into(a, b, kernel=kernel), want)


@pytest.mark.parametrize("kernel", KERNELS)
def test_sums_beyond_the_exact_k_wrap_as_on_the_portable_kernel(kernel):
    a = np.full((2, MAX_EXACT_K + 4000), 127, np.int8)
    b = np.full((MAX_EXACT_K + 4000, 3), -128, np.int8)
    want = hooks().gemm_int8_into(a, b, kernel="generic")
    exact = a[:1].astype(np.int64) @ b[:, :1].astype(np.int64)
    assert want[0, 0] == ((int(exact[0, 0]) + 2 ** 31) % 2 ** 32) - 2 ** 31  # wrapped
    assert np.array_equal(hooks().gemm_int8_into(a, b, kernel=kernel), want)


@pytest.mark.parametrize("kernel", KERNELS)
def test_quantized_products_are_bitwise_the_portable_kernel(kernel):
    rng = np.random.default_rng(2)
    for m, k, n in SHAPES:
        x = rng.standard_normal((m, k)).astype(np.float32)
        q, s = abs_max_quantize(rng.standard_normal((k, n)), axis=0) if k else \
            (np.zeros((0, n), np.int8), np.ones((1, n), np.float32))
        bias = rng.standard_normal(n).astype(np.float32)
        for relu in (False, True):
            want = hooks().matmul_int8(x, q, s[0], bias, relu, "generic")
            got = hooks().matmul_int8(x, q, s[0], bias, relu, kernel)
            assert np.array_equal(got.view(np.int32), want.view(np.int32)), (kernel, m, k, n)
        if k == 0:  # NumPy's max has no identity; the kernels give 0 (then the bias)
            assert np.array_equal(want, np.broadcast_to(np.maximum(bias, 0), want.shape))
            continue
        got = hooks().matmul_int8(x, q, s[0], None, False, kernel)
        # Keras's arithmetic: sums / (row scale * column scale), in float32
        xq, xs = abs_max_quantize(x, axis=-1)
        sums = (xq.astype(np.int64) @ q.astype(np.int64)).astype(np.float32)
        keras = sums / (xs * s)
        assert np.allclose(got, keras, rtol=4e-7, atol=1e-30 + 4e-7 * np.abs(keras).max())


@pytest.mark.parametrize("kernel", KERNELS)
def test_threads_change_no_bit(kernel):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((700, 300)).astype(np.float32)
    q, s = abs_max_quantize(rng.standard_normal((300, 200)), axis=0)
    one = hooks().matmul_int8(x, q, s[0], None, True, kernel, threads=1)
    two = hooks().matmul_int8(x, q, s[0], None, True, kernel, threads=2)
    assert np.array_equal(one.view(np.int32), two.view(np.int32))


@pytest.mark.parametrize("kernel", ["cpp"] + KERNELS)
def test_row_quantizers_are_keras_abs_max_byte_for_byte(kernel):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 83)).astype(np.float32) * np.float32(3.0)
    x[1] = 0.0                                        # an all-zero row: scale 127 / 1e-7
    x[2, 5] = 1e30                                    # one huge value: the rest round to 0
    x[3] = np.arange(83, dtype=np.float32) - 41.0     # ties at q + 0.5 round to even
    x[4, :40] = np.float32(0.5) * 127 / 41            # many exact halves
    x[5] = -x[5]
    q, s = hooks().quantize_rows_int8(np.zeros((2, 0), np.float32), kernel)
    assert q.shape == (2, 0)
    assert np.all(s == (np.float32(127) / np.float32(1e-7) if kernel == "cpp" else
                        np.float32(1) / (np.float32(127) / np.float32(1e-7))))
    for k in (1, 7, 15, 16, 17, 64, 83):
        q, s = hooks().quantize_rows_int8(np.ascontiguousarray(x[:, :k]), kernel)
        want_q, want_s = abs_max_quantize(x[:, :k], axis=-1)
        assert np.array_equal(q, want_q), (kernel, k)
        want = want_s[:, 0] if kernel == "cpp" else np.float32(1) / want_s[:, 0]
        assert np.array_equal(s, want), (kernel, k)


def test_column_quantizer_is_keras_abs_max():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((100, 37)).astype(np.float32)
    w[:, 3] = 0.0
    q, s = hooks().quantize_columns_int8(w)
    want_q, want_s = abs_max_quantize(w, axis=0)
    assert np.array_equal(q, want_q) and np.array_equal(s, want_s[0])
    assert q.min() >= -127 and q.max() == 127


@pytest.mark.skipif("amx" not in KERNELS, reason="no AMX-INT8 kernel on this CPU or build")
def test_tdpbusd_equals_its_emulation():
    rng = np.random.default_rng(6)
    for _ in range(20):
        c = rng.integers(-2 ** 31, 2 ** 31, (16, 16)).astype(np.int32)
        a = rng.integers(0, 256, (16, 64)).astype(np.uint8)
        b = rng.integers(-128, 128, (16, 64)).astype(np.int8)
        a[0], b[0] = 255, -128  # the extremes, and a C that wraps
        c[0] = 2 ** 31 - 1
        hw = hooks().amx_int8_tile(c, a, b)
        assert np.array_equal(hw, hooks().amx_int8_tile(c, a, b, emulated=True))
    want = c.astype(np.int64)
    b4 = b.reshape(16, 16, 4).transpose(0, 2, 1).reshape(64, 16)
    want = (want + a.astype(np.int64) @ b4.astype(np.int64) + 2 ** 31) % 2 ** 32 - 2 ** 31
    assert np.array_equal(hw, want)


def _run(code, **env):
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full,
                          capture_output=True, text=True, timeout=120)


def test_cpu_info_reports_the_int8_kernels():
    info = fastmlp.cpu_info()
    assert info["supported_int8_kernels"][0] == "generic"
    assert info["int8_kernel"] in info["supported_int8_kernels"]
    if "FASTMLP_INT8_KERNEL" not in os.environ and "FASTMLP_ISA" not in os.environ:
        assert info["int8_kernel"] == info["supported_int8_kernels"][-1]


@pytest.mark.parametrize("kernel", KERNELS)
def test_fastmlp_int8_kernel_forces_the_kernel(kernel):
    r = _run("import fastmlp; print(fastmlp.cpu_info()['int8_kernel'])",
             FASTMLP_INT8_KERNEL=kernel)
    assert r.returncode == 0 and r.stdout.strip() == kernel, r.stderr


def test_bad_fastmlp_int8_kernel_is_a_clear_error():
    r = _run("import fastmlp; fastmlp.cpu_info()", FASTMLP_INT8_KERNEL="avx1024")
    assert r.returncode != 0 and "FASTMLP_INT8_KERNEL=avx1024 is not a known int8 kernel" in \
        r.stderr and "amx" in r.stderr


def test_fastmlp_isa_caps_the_int8_kernel():
    r = _run("import fastmlp; print(fastmlp.cpu_info()['int8_kernel'])", FASTMLP_ISA="generic",
             FASTMLP_INT8_KERNEL="")
    assert r.returncode == 0 and r.stdout.strip() == "generic", r.stderr
    if "avx2" in fastmlp.cpu_info()["supported_isas"]:
        r = _run("import fastmlp; print(fastmlp.cpu_info()['int8_kernel'])", FASTMLP_ISA="avx2",
                 FASTMLP_INT8_KERNEL="")
        assert r.stdout.strip() in ("avx2", "avx_vnni"), r.stderr


def test_unknown_kernel_name_in_the_hook_lists_the_supported_ones():
    with pytest.raises(ValueError, match="Received: kernel=sse9"):
        hooks().gemm_int8_into(np.zeros((1, 1), np.int8), np.zeros((1, 1), np.int8), "sse9")
