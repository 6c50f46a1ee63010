// The 16-lane zmm vector (tile_kernel.h's V) with k-masks for the edge columns: the fp32 AVX-512
// kernel's, and the store path of the bf16 AVX512-BF16 and AMX kernels. Include after the
// intrinsics (<immintrin.h>, or SIMDe's in the emulated test builds), from translation units built
// with AVX-512 flags only; internal linkage keeps each one's copy its own.
#pragma once

namespace fastmlp {
namespace gemm {
namespace {

// The 16-lane zmm vector (tile_kernel.h's V), with k-masks for the edge columns.
struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  // A 12-row tile has more rows than the general registers left free for row pointers.
  static constexpr bool kAdjacentA = true;
  static constexpr bool kCopiesB = false;

  static Mask mask_first(int valid) {
    if (valid <= 0) return 0;
    if (valid >= 16) return static_cast<Mask>(0xFFFF);
    return static_cast<Mask>((1u << valid) - 1u);
  }
  static Mask mask_all() { return static_cast<Mask>(0xFFFF); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec bcast(const float* p) { return _mm512_set1_ps(*p); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store_masked(float* p, Vec v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  // max(0, x) returns its second operand when x is NaN, so NaN propagates. The all-lanes masked
  // form avoids GCC 12's false "uninitialized" warning on _mm512_max_ps.
  static Vec max0(Vec x) {
    const Vec zero = _mm512_setzero_ps();
    return _mm512_mask_max_ps(zero, static_cast<Mask>(0xFFFF), zero, x);
  }
};

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
