"""Tests of the GEMM engine (fastmlp.ops.matmul and the _core test hooks) against float64 NumPy."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, ops

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from _core_helpers import hooks

ISAS = fastmlp.cpu_info()["supported_isas"]
EPS32 = np.finfo(np.float32).eps


def _op(x, t):
    return x.T if t else x


def _reference(a, b, ta, tb, alpha=1.0, beta=0.0, c=None, bias=None, relu=False):
    """float64 result and an error bound: (k + 2) * eps32 * (|alpha| |A||B| + |beta C| + |bias|)."""
    a64, b64 = _op(a, ta).astype(np.float64), _op(b, tb).astype(np.float64)
    ref = alpha * (a64 @ b64)
    mag = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0.0:
        ref = ref + beta * c.astype(np.float64)
        mag = mag + np.abs(beta * c.astype(np.float64))
    if bias is not None:
        ref = ref + bias
        mag = mag + np.abs(bias)
    if relu:
        ref = np.maximum(ref, 0.0)
    k = a64.shape[1]
    return ref, (k + 2) * EPS32 * mag + 1e-30


def _rand(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def _operands(rng, m, k, n, ta, tb):
    a = _rand(rng, (k, m) if ta else (m, k))
    b = _rand(rng, (n, k) if tb else (k, n))
    return a, b


def _check(out, ref, tol):
    assert out.shape == ref.shape
    assert np.all(np.abs(out.astype(np.float64) - ref) <= tol), np.max(np.abs(out - ref) - tol)


# Sizes around each kernel's MR (4, 6, 12) and NR (16, 32), primes, and K around KC (256).
EDGE_SHAPES = [
    (0, 5, 3), (4, 0, 3), (3, 5, 0), (1, 1, 1), (1, 784, 128), (2, 3, 5), (5, 7, 11),
    (6, 16, 16), (7, 17, 17), (11, 13, 31), (12, 1, 33), (13, 257, 15), (31, 7, 47),
    (32, 784, 10), (64, 128, 10), (32, 10, 16), (97, 101, 103), (50, 513, 65), (3, 1000, 2),
    (40, 70, 300), (97, 263, 257),  # wide enough that A is packed too
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m,k,n", EDGE_SHAPES)
def test_every_isa_matches_float64_reference(isa, ta, tb, m, k, n):
    rng = np.random.default_rng(m * 10007 + k * 101 + n)
    a, b = _operands(rng, m, k, n, ta, tb)
    out = np.full((m, n), np.nan, np.float32)  # beta == 0 must ignore (not propagate) NaN in C
    hooks().gemm_into(a, b, out, ta, tb, 1.0, 0.0, None, False, isa, 0)
    ref, tol = _reference(a, b, ta, tb)
    _check(out, ref, tol)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("m,k,n", [(1, 9, 5), (7, 300, 33), (45, 64, 130), (13, 520, 17)])
def test_fused_bias_relu_alpha_beta_epilogue(isa, m, k, n):
    rng = np.random.default_rng(7)
    a, b = _operands(rng, m, k, n, False, True)
    c0 = _rand(rng, (m, n))
    bias = _rand(rng, n)
    for alpha, beta, relu in [(1.0, 0.0, True), (0.5, 2.0, True), (-1.5, 1.0, False),
                              (2.0, -0.5, True)]:
        out = c0.copy()
        hooks().gemm_into(a, b, out, False, True, alpha, beta, bias, relu, isa, 0)
        ref, tol = _reference(a, b, False, True, alpha, beta, c0, bias, relu)
        _check(out, ref, tol)


@pytest.mark.parametrize("isa", ISAS)
def test_k_zero_and_alpha_zero_scale_c_without_reading_a_b(isa):
    c0 = np.arange(12, dtype=np.float32).reshape(3, 4)
    bias = np.array([1, -100, 0, 2], np.float32)
    out = c0.copy()
    a, b = np.empty((3, 0), np.float32), np.empty((0, 4), np.float32)
    hooks().gemm_into(a, b, out, False, False, 1.0, 0.5, bias, True, isa, 0)
    np.testing.assert_array_equal(out, np.maximum(0.5 * c0 + bias, 0))
    a = np.full((3, 2), np.inf, np.float32)  # alpha == 0: A and B are not referenced (BLAS)
    b = np.full((2, 4), np.nan, np.float32)
    out = c0.copy()
    hooks().gemm_into(a, b, out, False, False, 0.0, 2.0, None, False, isa, 0)
    np.testing.assert_array_equal(out, 2.0 * c0)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(0, 40), k=st.integers(0, 300), n=st.integers(0, 70), ta=st.booleans(),
       tb=st.booleans(), alpha=st.sampled_from([1.0, -0.5, 3.0]),
       beta=st.sampled_from([0.0, 1.0, -2.0]), seed=st.integers(0, 2**32 - 1))
def test_random_shapes_matmul_with_out_and_beta(m, k, n, ta, tb, alpha, beta, seed):
    rng = np.random.default_rng(seed)
    a, b = _operands(rng, m, k, n, ta, tb)
    c0 = _rand(rng, (m, n))
    out = c0.copy()
    res = ops.matmul(a, b, transpose_a=ta, transpose_b=tb, alpha=alpha, beta=beta, out=out)
    assert res is out
    ref, tol = _reference(a, b, ta, tb, alpha, beta, c0)
    _check(out, ref, tol)


def test_strided_fortran_and_noncontiguous_inputs():
    rng = np.random.default_rng(3)
    big = _rand(rng, (90, 140))
    cases = [
        (big[:37, :53], big[10:63, 20:61]),            # row-strided views (ld > cols), no copy
        (np.asfortranarray(big[:37, :53]), big[:53, :41].T.copy().T),  # column-major
        (big[::2, ::3][:30, :40], big[1::2, ::2][:40, :25]),  # no unit stride: converted once
        (big[:20, :30].astype(np.float64), big[:30, :9].astype(np.int32)),  # other dtypes
    ]
    for a, b in cases:
        ref, tol = _reference(np.asarray(a, np.float32), np.asarray(b, np.float32), False, False)
        _check(ops.matmul(a, b), ref, tol)
        _check(ops.matmul(a.T, b, transpose_a=True), ref, tol)


def test_out_with_row_stride_is_written_in_place():
    rng = np.random.default_rng(4)
    a, b = _rand(rng, (9, 20)), _rand(rng, (20, 7))
    buf = np.zeros((9, 12), np.float32)
    out = buf[:, 2:9]
    ops.matmul(a, b, out=out)
    ref, tol = _reference(a, b, False, False)
    _check(buf[:, 2:9], ref, tol)
    assert np.all(buf[:, :2] == 0) and np.all(buf[:, 9:] == 0)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("m,k,n,ta,tb", [(32, 784, 128, False, False),
                                         (300, 784, 128, False, False),
                                         (784, 128, 128, True, False),
                                         (128, 128, 784, False, True),
                                         (200, 600, 200, False, False),
                                         (97, 301, 53, True, True),
                                         (5, 64, 700, False, True),
                                         (600, 1030, 40, True, False),
                                         (1, 784, 128, False, False)])
def test_thread_counts_one_to_four_are_bitwise_equal(isa, m, k, n, ta, tb):
    # The dynamic split hands units of C to whichever thread is free: the bits must not depend on
    # how many threads there are or which one computed a unit (beta and bias exercise every panel).
    rng = np.random.default_rng(7)
    a, b = _operands(rng, m, k, n, ta, tb)
    bias = _rand(rng, n)
    c0 = _rand(rng, (m, n))
    outs = []
    for threads in (1, 2, 3, 4, 2):
        out = c0.copy()
        hooks().gemm_into(a, b, out, ta, tb, 0.5, 0.75, bias, False, isa, threads)
        outs.append(out.tobytes())
    assert all(o == outs[0] for o in outs[1:])
    ref, tol = _reference(a, b, ta, tb, 0.5, 0.75, c0, bias)
    _check(np.frombuffer(outs[0], np.float32).reshape(m, n), ref, tol)
    relu_outs = []  # the fused ReLU epilogue too
    for threads in (1, 2, 3):
        out = np.empty((m, n), np.float32)
        hooks().gemm_into(a, b, out, ta, tb, 1.0, 0.0, bias, True, isa, threads)
        relu_outs.append(out.tobytes())
    assert relu_outs[0] == relu_outs[1] == relu_outs[2]
    assert np.array_equal(np.frombuffer(relu_outs[0], np.float32),
                          np.maximum(np.frombuffer(relu_outs[0], np.float32), 0))


def test_public_thread_setting_gives_bitwise_equal_results():
    rng = np.random.default_rng(6)
    a, b = _rand(rng, (256, 784)), _rand(rng, (784, 256))
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(1)
        one = ops.matmul(a, b)
        fastmlp.set_num_threads(2)
        two = ops.matmul(a, b)
    finally:
        fastmlp.set_num_threads(before)
    assert one.tobytes() == two.tobytes()


def test_no_buffer_growth_after_warm_up():
    rng = np.random.default_rng(8)
    shapes = [(128, 784, 128, False, False), (784, 128, 128, True, False),
              (128, 128, 784, False, True), (600, 600, 600, False, False)]
    ops_ = [(*_operands(rng, m, k, n, ta, tb), np.empty((m, n), np.float32), ta, tb)
            for m, k, n, ta, tb in shapes]
    # Warm up every thread the calls below may use: the public path may run on fewer threads
    # than asked while joins are slow, and a thread grows its own buffers the first time it works.
    isa = fastmlp.cpu_info()["isa"]
    for threads in (1, fastmlp.get_num_threads()):
        for a, b, out, ta, tb in ops_:
            hooks().gemm_into(a, b, out, ta, tb, 1.0, 0.0, None, False, isa, threads)
    warm = hooks().gemm_buffer_growths()
    for _ in range(3):
        for a, b, out, ta, tb in ops_:
            ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out)
    assert hooks().gemm_buffer_growths() == warm


def test_out_overlapping_an_operand_is_rejected_but_disjoint_views_are_fine():
    buf = np.arange(64, dtype=np.float32).reshape(8, 8)
    with pytest.raises(ValueError, match="overlap"):
        ops.matmul(buf[:4, :4], buf[:4, :4], out=buf[2:6, 2:6])
    a, b = buf[:4, :4].copy(), buf[4:, 4:].copy()
    out = ops.matmul(buf[:4, :4], buf[4:, 4:], out=buf[:4, 4:])  # same buffer, disjoint elements
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-6)


def test_shape_mismatch_names_both_shapes():
    a, b = np.ones((3, 4), np.float32), np.ones((5, 6), np.float32)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 6\)"):
        ops.matmul(a, b)
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(3, 4\).*\(4, 6\).*\(3, 6\)"):
        ops.matmul(a, np.ones((4, 6), np.float32), out=np.empty((2, 2), np.float32))
    with pytest.raises(ValueError, match="float32"):
        ops.matmul(a, np.ones((4, 6)), out=np.empty((3, 6), np.float64))
    with pytest.raises(ValueError, match="bias"):
        hooks().gemm_into(a, np.ones((4, 6), np.float32), np.empty((3, 6), np.float32),
                              bias=np.ones(5, np.float32))


@pytest.mark.parametrize("m,k,n,ta,tb", [(1, 784, 128, False, False), (37, 300, 45, True, False),
                                         (200, 600, 70, False, True), (5, 0, 3, False, False),
                                         (64, 513, 10, True, True)])
def test_prepacked_b_matches_reference(m, k, n, ta, tb):
    rng = np.random.default_rng(9)
    a, b = _operands(rng, m, k, n, ta, tb)
    bias = _rand(rng, n)
    c0 = _rand(rng, (m, n))
    out = c0.copy()
    hooks().gemm_into(a, b, out, ta, tb, 0.5, 1.5, bias, True, prepack=True)
    ref, tol = _reference(a, b, ta, tb, 0.5, 1.5, c0, bias, True)
    _check(out, ref, tol)
    plain = c0.copy()
    hooks().gemm_into(a, b, plain, ta, tb, 0.5, 1.5, bias, True)
    assert plain.tobytes() == out.tobytes()  # same kernel, same K panels: bitwise equal


def test_kernel_blocksizes_are_consistent():
    for isa in ISAS:
        info = hooks().gemm_kernel_info(isa)
        assert info["mc"] % info["mr"] == 0 and info["nc"] % info["nr"] == 0
        assert info["kc"] >= 64 and info["name"].startswith(isa)


@pytest.mark.parametrize("isa", ISAS)
def test_fastmlp_isa_environment_selects_the_kernel(isa):
    code = ("import numpy as np, fastmlp; from fastmlp import ops\n"
            "a = np.arange(60, dtype=np.float32).reshape(6, 10) / 7; b = a.T.copy()\n"
            "c = ops.matmul(a, b); assert np.allclose(c, a.astype(np.float64) @ b, rtol=1e-5)\n"
            "print(fastmlp.cpu_info()['isa'])")
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, FASTMLP_ISA=isa),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == isa


@pytest.mark.parametrize("isa", fastmlp.cpu_info()["supported_isas"])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("n", [37, 300])  # 300: A packed tile by tile; lone rows in 1x64 calls
def test_a_rows_bits_do_not_depend_on_its_position_or_the_row_count(isa, transpose_a, n):
    # Predictions must not change with how a batch is cut (nor with how the driver cuts the rows
    # into register tiles): every row of a block, every prefix of it and every single row give
    # bitwise the same output rows, on each ISA's kernel.
    # 29 rows: blocks of 25 rows and more pack B (the first tile of each strip packs it while it
    # computes), smaller ones read it in place.
    rng = np.random.default_rng(11)
    a = rng.standard_normal((29, 784), dtype=np.float32)
    b = rng.standard_normal((784, n), dtype=np.float32)
    a_op = np.ascontiguousarray(a.T) if transpose_a else a

    def run(rows):
        sub = np.ascontiguousarray(a_op[:, rows]) if transpose_a else a_op[rows]
        out = np.empty((sub.shape[1] if transpose_a else sub.shape[0], n), dtype=np.float32)
        hooks().gemm_into(sub, b, out, transpose_a, False, 1.0, 0.0, None, False, isa, 0)
        return out

    full = run(slice(0, 29))
    for m in range(1, 29):
        np.testing.assert_array_equal(run(slice(0, m)), full[:m])
    for i in range(29):
        np.testing.assert_array_equal(run(slice(i, i + 1)), full[i:i + 1])


@pytest.mark.skipif(not {"avx2", "avx512"} <= set(ISAS),
                    reason="needs the AVX2 and the AVX-512 kernels: an AVX-512 CPU, or a build with "
                           "FASTMLP_EMULATE_AVX512=ON (.ci/avx512-emulated runs one)")
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m,k,n", [(1, 100, 128), (1, 128, 300), (1, 64, 70), (13, 128, 1),
                                   (37, 77, 45), (128, 120, 128), (300, 128, 200)])
def test_avx512_kernel_equals_the_avx2_kernel_bitwise_within_one_k_panel(m, k, n, ta, tb):
    # With K <= 128 (one K panel for both: KC >= 128) every element is the same K-ordered FMA
    # chain in the 12 x 32 / 1 x 128 AVX-512 kernels as in the 6 x 16 / 1 x 64 AVX2 ones, so the
    # bits must match: full and edge tiles, lone rows (row kernels), transposes, bias and ReLU.
    rng = np.random.default_rng(m * 1000 + n)
    a, b = _operands(rng, m, k, n, ta, tb)
    bias = rng.standard_normal(n).astype(np.float32)
    outs = {}
    for isa in ("avx2", "avx512"):
        outs[isa] = np.full((m, n), np.nan, dtype=np.float32)
        hooks().gemm_into(a, b, outs[isa], ta, tb, 1.0, 0.0, bias, m % 2 == 1, isa, 1)
    np.testing.assert_array_equal(outs["avx512"], outs["avx2"])
    ref, tol = _reference(a, b, ta, tb, bias=bias, relu=m % 2 == 1)
    _check(outs["avx512"], ref, tol)


def test_plain_float32_fast_path_checks_like_the_general_path():
    # C-contiguous float32 operands take the C++ fast path; every case it declines (read-only or
    # aliasing `out`, bool or str alpha, beta without out, wrong shapes) must still get the
    # general path's exact errors.
    a, b = np.ones((2, 3), np.float32), np.ones((3, 5), np.float32)
    ro = np.zeros((2, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="`out` is read-only"):
        ops.matmul(a, b, out=ro)
    sq = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match="must not overlap"):
        ops.matmul(sq, sq, out=sq)
    with pytest.raises(TypeError, match="`alpha` must be a real number"):
        ops.matmul(a, b, alpha=True)
    with pytest.raises(ValueError, match="beta != 0 needs `out`"):
        ops.matmul(a, b, beta=0.5)
    with pytest.raises(ValueError, match=r"`out` has shape \(5, 2\)"):
        ops.matmul(a, b, out=np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        ops.matmul(a, a)


def test_plain_float32_fast_path_equals_the_general_path_bitwise():
    rng = np.random.default_rng(7)
    a, b = rng.random((37, 50), dtype=np.float32), rng.random((50, 29), dtype=np.float32)
    out = rng.random((37, 29), dtype=np.float32)
    fast = ops.matmul(a, b, alpha=0.5, beta=2.0, out=out.copy())
    # a Fortran-ordered copy of `a` is not "plain": it takes the Python path to the same kernel
    general = ops.matmul(np.asfortranarray(a), b, alpha=0.5, beta=2.0, out=out.copy())
    np.testing.assert_array_equal(fast, general)
    np.testing.assert_allclose(fast, 0.5 * (a.astype(np.float64) @ b) + 2.0 * out, rtol=1e-5)
    assert ops.matmul(a[:0], b).shape == (0, 29)
