"""Tests of the bf16 GEMM (_core.matmul_bf16, and each kernel through the test hook
_core._testing.gemm_bf16_into) against float64 NumPy on bf16-rounded operands, and of the choice of
bf16 kernel (cpu_info, FASTMLP_BF16_KERNEL, FASTMLP_ISA, the AMX permission)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp
from fastmlp import _core
from _core_helpers import hooks

KERNELS = fastmlp.cpu_info()["supported_bf16_kernels"]
U = 2.0 ** -24  # float32's unit roundoff: the bound per addition


def _round_bf16(x):
    """x rounded to bf16 (nearest even; NaN stays NaN, subnormals become zero) as float64."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    sub = (u & 0x7F800000) == 0
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    r = np.where(nan, (u | 0x400000) >> 16 << 16, r)
    r = np.where(sub, u & 0x80000000, r)
    return r.astype(np.uint32).view(np.float32).astype(np.float64)


def _reference(a, b, ta, tb, alpha=1.0, beta=0.0, c=None, bias=None, relu=False):
    """float64 result on bf16 operands and the float32 accumulation bound (k + 8) u sum|terms|."""
    a64 = _round_bf16(a.T if ta else a)
    b64 = _round_bf16(b.T if tb else b)
    ref, mag = alpha * (a64 @ b64), abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0.0:
        ref, mag = ref + beta * c, mag + np.abs(beta * c.astype(np.float64))
    if bias is not None:
        ref, mag = ref + bias, mag + np.abs(bias)
    if relu:
        ref = np.maximum(ref, 0.0)
    return ref, (a64.shape[1] + 8) * U * mag + 1e-30


def _mm(a, b, **kwargs):
    """A bf16 product on the kernel (and threads, prepacking) kwargs name: the test hook."""
    return hooks().gemm_bf16_into(a, b, **kwargs)


def _operands(rng, m, k, n, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    return a, b


SHAPES = [(1, 1, 1), (1, 784, 128), (2, 3, 5), (5, 7, 11), (12, 31, 13), (16, 32, 16),
          (17, 33, 17), (32, 64, 32), (33, 65, 33), (31, 1, 47), (64, 300, 100), (128, 784, 10),
          (100, 513, 129), (300, 1025, 70)]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matches_float64_on_bf16_operands(kernel, m, k, n, ta, tb):
    rng = np.random.default_rng(m * 1000 + k + n)
    a, b = _operands(rng, m, k, n, ta, tb)
    out = _mm(a, b, trans_a=ta, trans_b=tb, kernel=kernel)
    ref, tol = _reference(a, b, ta, tb)
    assert out.shape == (m, n) and out.dtype == np.float32
    assert np.all(np.abs(out - ref) <= tol), np.max(np.abs(out - ref) - tol)


@pytest.mark.parametrize("kernel", KERNELS)
def test_alpha_beta_bias_relu_and_nan_in_c(kernel):
    rng = np.random.default_rng(3)
    a, b = _operands(rng, 37, 70, 45, False, False)
    c = rng.standard_normal((37, 45), dtype=np.float32)
    bias = rng.standard_normal(45, dtype=np.float32)
    out = c.copy()
    _mm(a, b, out=out, alpha=-0.75, beta=0.5, bias=bias, relu=True, kernel=kernel)
    ref, tol = _reference(a, b, False, False, -0.75, 0.5, c, bias, relu=True)
    assert np.all(np.abs(out - ref) <= tol)
    out = np.full((37, 45), np.nan, dtype=np.float32)  # beta == 0 never reads C
    _mm(a, b, out=out, alpha=2.0, beta=0.0, kernel=kernel)
    ref, tol = _reference(a, b, False, False, 2.0)
    assert np.all(np.abs(out - ref) <= tol)


@pytest.mark.parametrize("kernel", KERNELS)
def test_transposed_views_equal_the_flags(kernel):
    # a.T (Fortran order) is read as the transpose in place, bitwise what trans_a gives
    rng = np.random.default_rng(4)
    a, b = _operands(rng, 40, 90, 50, True, True)
    flags = _mm(a, b, trans_a=True, trans_b=True, kernel=kernel)
    views = _mm(a.T, b.T, kernel=kernel)
    np.testing.assert_array_equal(flags, views)


@pytest.mark.parametrize("kernel", KERNELS)
def test_one_and_two_threads_and_prepacked_b_are_bitwise_equal(kernel, threads_restored):
    rng = np.random.default_rng(5)
    a, b = _operands(rng, 257, 600, 129, False, True)
    one = _mm(a, b, trans_b=True, kernel=kernel, threads=1)
    np.testing.assert_array_equal(_mm(a, b, trans_b=True, kernel=kernel, threads=2), one)
    if kernel == fastmlp.cpu_info()["bf16_kernel"]:  # PackedBBf16 packs for the active kernel
        np.testing.assert_array_equal(_mm(a, b, trans_b=True, prepack=True), one)
        np.testing.assert_array_equal(_core.matmul_bf16(a, b, trans_b=True), one)


@pytest.mark.parametrize("kernel", KERNELS)
def test_a_rows_bits_do_not_depend_on_the_row_count(kernel):
    # predictions must not change with how a batch is cut into rows
    rng = np.random.default_rng(6)
    a, b = _operands(rng, 40, 300, 70, False, False)
    full = _mm(a, b, kernel=kernel)
    for rows in [slice(0, 1), slice(3, 4), slice(0, 17), slice(5, 38)]:
        np.testing.assert_array_equal(_mm(a[rows], b, kernel=kernel), full[rows])


@pytest.mark.skipif("avx512_bf16" not in KERNELS, reason="no AVX512-BF16 kernel here")
def test_avx512_bf16_equals_the_portable_kernel_bitwise():
    rng = np.random.default_rng(7)
    for m, k, n in [(13, 901, 45), (70, 64, 33)]:
        a, b = _operands(rng, m, k, n, False, False)
        np.testing.assert_array_equal(_mm(a, b, kernel="avx512_bf16"), _mm(a, b, kernel="generic"))


def test_special_values():
    a = np.array([[np.inf, 1.0], [np.nan, 1.0], [3.4e38, 3.4e38], [1e-40, 1.0]], dtype=np.float32)
    b = np.array([[1.0], [1.0]], dtype=np.float32)
    for kernel in KERNELS:
        out = _mm(a, b, kernel=kernel)[:, 0]
        assert out[0] == np.inf and np.isnan(out[1])
        assert out[2] == np.inf  # 3.4e38 rounds past the largest bf16
        assert out[3] == 1.0  # the subnormal is read as zero


def test_agrees_with_torch_bfloat16_matmul():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    a, b = _operands(rng, 64, 300, 48, False, False)
    theirs = torch.matmul(torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16())
    theirs = theirs.float().numpy().astype(np.float64)  # their result is rounded to bf16
    ref, tol = _reference(a, b, False, False)
    # ours is within the float32 bound of ref; theirs within half a bf16 ulp more (2^-9)
    assert np.all(np.abs(_core.matmul_bf16(a, b) - theirs) <= 2 * tol + 2.0 ** -8 * np.abs(ref))


def test_cpu_info_reports_the_bf16_kernel():
    info = fastmlp.cpu_info()
    assert info["supported_bf16_kernels"][0] == "generic"
    assert info["bf16_kernel"] in info["supported_bf16_kernels"]
    assert set(info["supported_bf16_kernels"]) <= {"generic", "avx512_bf16", "amx"}


def _run(code, **env):
    """Runs code in a new interpreter, which chooses its kernels itself unless env forces them."""
    full = {k: v for k, v in os.environ.items() if k not in ("FASTMLP_BF16_KERNEL", "FASTMLP_ISA")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=dict(full, **env),
                          capture_output=True, text=True, timeout=60)


CHECK_ACTIVE = """
    import numpy as np, fastmlp
    from fastmlp import _core
    a = np.arange(60, dtype=np.float32).reshape(6, 10) / 8; b = a.T.copy()
    assert np.allclose(_core.matmul_bf16(a, b), a.astype(np.float64) @ b, rtol=1e-2)
    print(fastmlp.cpu_info()['bf16_kernel'])
"""


@pytest.mark.parametrize("kernel", KERNELS)
def test_fastmlp_bf16_kernel_forces_each_kernel(kernel):
    proc = _run(CHECK_ACTIVE, FASTMLP_BF16_KERNEL=kernel)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == kernel


def _refused(value):
    proc = _run("import fastmlp; fastmlp.cpu_info()", FASTMLP_BF16_KERNEL=value)
    assert proc.returncode != 0 and "ValueError" in proc.stderr
    assert "FASTMLP_BF16_KERNEL=" + value in proc.stderr
    return proc.stderr


def test_fastmlp_bf16_kernel_refuses_an_unknown_kernel():
    assert "valid values: generic, avx512_bf16, amx" in _refused("sse")


@pytest.mark.skipif(len(KERNELS) == 3, reason="every bf16 kernel is supported here")
def test_fastmlp_bf16_kernel_refuses_an_unsupported_kernel():
    assert "supported here: " + ", ".join(KERNELS) in _refused("amx")


def test_fastmlp_isa_below_avx512_forces_the_portable_kernel():
    proc = _run(CHECK_ACTIVE, FASTMLP_ISA="generic")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "generic"


def test_a_refused_amx_permission_falls_back_to_the_next_kernel():
    if "amx" not in KERNELS or hooks().amx_emulated():
        pytest.skip("needs the real AMX kernel (Linux's permission is what is tested)")
    # Linux refuses the tile state (ENOSPC) while a thread's signal stack is too small for it:
    # fastmlp must then report and use the AVX512-BF16 kernel, not fail.
    code = textwrap.dedent("""
        import ctypes
        class Stack(ctypes.Structure):
            _fields_ = [("sp", ctypes.c_void_p), ("flags", ctypes.c_int), ("size", ctypes.c_size_t)]
        buf = ctypes.create_string_buffer(8192)
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.sigaltstack(ctypes.byref(Stack(ctypes.addressof(buf), 0, 8192)), None) == 0
    """) + textwrap.dedent(CHECK_ACTIVE) + "print(fastmlp.cpu_info()['supported_bf16_kernels'])\n"
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    active, supported = proc.stdout.split("\n")[:2]
    assert active == "avx512_bf16" and "amx" not in supported


def test_bad_arguments_name_the_argument():
    a = np.ones((3, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="`kernel`"):
        _mm(a, a.T, kernel="nope")
    with pytest.raises(ValueError, match="inner dimensions"):
        _core.matmul_bf16(a, a)
    with pytest.raises(ValueError, match="float32"):
        _core.matmul_bf16(a.astype(np.float64), a.T)
