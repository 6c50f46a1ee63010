// The 256-bit int8 kernels, 4 rows x 16 columns (2 ymm accumulators per row), on one of two dot
// products of 4 input bytes with a 4 x 16 group of the B strip:
// - AvxVnniDot: vpdpbusd (AVX-VNNI), inputs unsigned (q + 128), corrected at the store;
// - Avx2Dot: vpmaddubsw + vpmaddwd. vpmaddubsw saturates its int16 pair sums, so it is fed
//   |b| (unsigned, up to 128) and the input with b's sign (vpsignb; the inputs are in [-127, 127],
//   so negating one never overflows): each pair sum is at most 2 * 128 * 127 = 32512 < 32767,
//   never saturated, and the sums are exact for every int8 weight, -128 included.
// Few rows split K into independent chains (exact sums: no bit changes). Also the AVX2 row
// quantizer. Included by kernel_int8_avx2.cpp and kernel_int8_avxvnni.cpp, each with its flags.
#pragma once
#include <cstring>

#include "gemm/kernels_int8.h"

namespace fastmlp {
namespace gemm {
namespace {  // each including source compiles its own copy with its own flags

constexpr int kMR = 4, kNR = 16;
constexpr index_t kGroup = kNR * 4;

struct Avx2Dot {
  static constexpr int offset = 0;
  const __m256i ones = _mm256_set1_epi16(1);
  struct B {
    __m256i sign, mag;
  };
  B load(const std::int8_t* p) const {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {b, _mm256_abs_epi8(b)};
  }
  __m256i dot(__m256i acc, __m256i x, const B& b) const {
    const __m256i pairs = _mm256_maddubs_epi16(b.mag, _mm256_sign_epi8(x, b.sign));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
  }
};

#if defined(FASTMLP_INT8_AVXVNNI)
struct AvxVnniDot {
  static constexpr int offset = 128;
  using B = __m256i;
  B load(const std::int8_t* p) const {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  __m256i dot(__m256i acc, __m256i x, const B& b) const {
    return _mm256_dpbusd_avx_epi32(acc, x, b);
  }
};
#endif

template <class Dot, int R, int S>
inline void rows_256(index_t kp, const std::uint8_t* a, index_t lda, const std::int8_t* b,
                     int nr, const Int8Tile& t) {
  const Dot dot;
  __m256i acc[S][R][2];
  for (int s = 0; s < S; ++s) {
    for (int r = 0; r < R; ++r) acc[s][r][0] = acc[s][r][1] = _mm256_setzero_si256();
  }
  const index_t groups = kp / 4;
  auto step = [&](int s, index_t g) {
    const typename Dot::B b0 = dot.load(b + g * kGroup), b1 = dot.load(b + g * kGroup + 32);
    for (int r = 0; r < R; ++r) {
      std::int32_t word;
      std::memcpy(&word, a + r * lda + 4 * g, sizeof word);
      const __m256i x = _mm256_set1_epi32(word);
      acc[s][r][0] = dot.dot(acc[s][r][0], x, b0);
      acc[s][r][1] = dot.dot(acc[s][r][1], x, b1);
    }
  };
  index_t g = 0;
  for (; g + S <= groups; g += S) {
    for (int s = 0; s < S; ++s) step(s, g + s);
  }
  for (; g < groups; ++g) step(0, g);
  // the store: the portable store's operations, 8 lanes at a time, edges through a buffer
  alignas(32) std::int32_t sum[kNR];
  alignas(32) float out[kNR];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < 2; ++v) {
      __m256i s = acc[0][r][v];
      for (int c = 1; c < S; ++c) s = _mm256_add_epi32(s, acc[c][r][v]);
      s = _mm256_sub_epi32(s, _mm256_loadu_si256(
                                  reinterpret_cast<const __m256i*>(t.col_comp + 8 * v)));
      if (t.c32) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(sum + 8 * v), s);
        continue;
      }
      const __m256 rd = _mm256_set1_ps(t.row_deq[r]);
      __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(s),
                               _mm256_mul_ps(rd, _mm256_loadu_ps(t.col_deq + 8 * v)));
      _mm256_store_ps(out + 8 * v, y);
    }
    const int cols = nr < kNR ? nr : kNR;
    if (t.c32) {
      std::memcpy(t.c32 + r * t.ldc, sum, sizeof(std::int32_t) * static_cast<std::size_t>(cols));
      continue;
    }
    float* c = t.c + r * t.ldc;
    for (int j = 0; j < cols; ++j) {
      float y = out[j];
      if (t.bias) y = y + t.bias[j];
      if (t.relu) y = y > 0.0f ? y : 0.0f;
      c[j] = y;
    }
  }
}

template <class Dot>
void kernel_256_4x16(index_t kp, const std::uint8_t* a, index_t lda, const std::int8_t* b,
                     int mr, int nr, const Int8Tile& t) {
  switch (mr) {
    case 1: rows_256<Dot, 1, 4>(kp, a, lda, b, nr, t); break;
    case 2: rows_256<Dot, 2, 2>(kp, a, lda, b, nr, t); break;
    case 3: rows_256<Dot, 3, 1>(kp, a, lda, b, nr, t); break;
    default: rows_256<Dot, 4, 1>(kp, a, lda, b, nr, t); break;
  }
}

// The portable quantizer's arithmetic, 8 floats at a time (tails one by one).
void quantize_rows_256(const float* x, index_t ldx, int rows, index_t k, index_t kp,
                       int offset, std::uint8_t* dst, index_t ldd, float* row_deq) {
  const __m256 hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i off = _mm256_set1_epi32(offset);
  for (int i = 0; i < rows; ++i) {
    const float* xi = x + i * ldx;
    std::uint8_t* d = dst + i * ldd;
    __m256 m = _mm256_setzero_ps();
    index_t p = 0;
    for (; p + 8 <= k; p += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(xi + p), abs_mask), m);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, m);
    float amax = 0.0f;
    for (float v : lanes) amax = v > amax ? v : amax;
    for (; p < k; ++p) {
      const float ax = xi[p] < 0.0f ? -xi[p] : xi[p];
      amax = ax > amax ? ax : amax;
    }
    const float scale = 127.0f / (amax + 1e-7f);
    const __m256 vs = _mm256_set1_ps(scale);
    alignas(32) std::int32_t q[8];
    for (p = 0; p + 8 <= k; p += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xi + p), vs);
      v = _mm256_max_ps(_mm256_min_ps(v, hi), lo);
      _mm256_store_si256(reinterpret_cast<__m256i*>(q),
                         _mm256_add_epi32(_mm256_cvtps_epi32(v), off));
      for (int j = 0; j < 8; ++j) d[p + j] = static_cast<std::uint8_t>(q[j]);
    }
    for (; p < k; ++p) {
      float v = xi[p] * scale;
      v = v < 127.0f ? v : 127.0f;
      v = v > -127.0f ? v : -127.0f;
      d[p] = static_cast<std::uint8_t>(_mm_cvtss_si32(_mm_set_ss(v)) + offset);
    }
    std::memset(d + k, offset, static_cast<std::size_t>(kp - k));
    row_deq[i] = 1.0f / scale;
  }
}

template <class Dot>
Int8KernelInfo info_256(Int8Kernel id, const char* name) {
  Int8KernelInfo k;
  k.id = id;
  k.name = name;
  k.mr = kMR;
  k.nr = kNR;
  k.kb = 4;
  k.a_offset = Dot::offset;
  k.mc = 64;
  k.kernel = kernel_256_4x16<Dot>;
  k.quantize_rows = quantize_rows_256;
  return k;
}

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
