// The 8-lane ymm vector of the AVX2 builds (tile_kernel.h's V), for kernel_avx2.cpp and
// pack_avx2.cpp, both compiled with -mavx2 -mfma.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace fastmlp {
namespace gemm {
namespace {

// Eight -1 lanes then eight 0 lanes: the window of 8 starting at 8 - v enables the first v lanes.
alignas(64) const std::int32_t kMaskWindow[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                  0,  0,  0,  0,  0,  0,  0,  0};

struct Avx2 {
  using Vec = __m256;
  struct Mask {
    __m256i lanes;  // for masked loads
    int valid;      // for stores, in pieces
  };
  static constexpr int kLanes = 8;
  // A 6-row tile keeps its six row pointers in registers, so the one-pointer step buys nothing.
  static constexpr bool kAdjacentA = false;
  static constexpr bool kCopiesB = true;

  static Mask mask_first(int valid) {
    valid = valid < 0 ? 0 : (valid > 8 ? 8 : valid);
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskWindow + 8 - valid)), valid};
  }
  static Mask mask_all() { return {_mm256_set1_epi32(-1), 8}; }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load_masked(const float* p, const Mask& m) { return _mm256_maskload_ps(p, m.lanes); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store_aligned(float* p, Vec v) { _mm256_store_ps(p, v); }
  // The first m.valid lanes in 4-, 2- and 1-float pieces. VMASKMOVPS's store form is microcoded
  // on AMD cores (~12 cycles each): with it, the 6 x 10 edge tiles of a 10-class output layer
  // spent most of their time storing (128x32x10: 4.1 us, 20 GFLOP/s).
  static void store_masked(float* p, Vec v, const Mask& m) {
    int valid = m.valid;
    if (valid >= 8) {
      _mm256_storeu_ps(p, v);
      return;
    }
    __m128 q = _mm256_castps256_ps128(v);
    if (valid >= 4) {
      _mm_storeu_ps(p, q);
      q = _mm256_extractf128_ps(v, 1);
      p += 4;
      valid -= 4;
    }
    if (valid >= 2) {
      _mm_storel_pi(reinterpret_cast<__m64*>(p), q);
      q = _mm_movehl_ps(q, q);
      p += 2;
      valid -= 2;
    }
    if (valid >= 1) _mm_store_ss(p, q);
  }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  // max(0, x) returns its second operand when x is NaN, so NaN propagates.
  static Vec max0(Vec x) { return _mm256_max_ps(_mm256_setzero_ps(), x); }
};

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
