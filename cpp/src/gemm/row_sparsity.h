// Zero elements of a lone row of A (an image's background pixels, ReLU outputs) add exactly zero
// to every FMA chain when B is finite: a row kernel may multiply only the others, in K order, and
// get bitwise the same sums. Header for the x86 kernel translation units (AVX2 intrinsics); the
// anonymous namespace gives each its own copy, compiled with its own flags.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr index_t kMaxSparseK = 1024;  // longest row the position buffer takes

// pos[m]: the positions of the set bits of the 8-bit mask m, packed into the low lanes.
struct LeftPackTable {
  alignas(32) std::int32_t pos[256][8];
  constexpr LeftPackTable() : pos{} {
    for (int m = 0; m < 256; ++m) {
      int n = 0;
      for (int b = 0; b < 8; ++b) {
        if (m & (1 << b)) pos[m][n++] = b;
      }
    }
  }
};
constexpr LeftPackTable kLeftPack{};

// The positions p < k where a[p] != 0, in increasing order, written to pos (room for k rounded
// up to 8); returns how many. Branch-free, 8 at a time.
inline index_t nonzero_positions(const float* a, index_t k, std::int32_t* pos) {
  index_t n = 0, p = 0;
  const __m256 zero = _mm256_setzero_ps();
  for (; p + 8 <= k; p += 8) {
    const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(a + p), zero, _CMP_NEQ_UQ));
    const __m256i at = _mm256_load_si256(reinterpret_cast<const __m256i*>(kLeftPack.pos[m]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(pos + n),
                        _mm256_add_epi32(at, _mm256_set1_epi32(static_cast<int>(p))));
    n += __builtin_popcount(static_cast<unsigned>(m));
  }
  for (; p < k; ++p) {
    pos[n] = static_cast<std::int32_t>(p);
    n += a[p] != 0.0f;
  }
  return n;
}

// How many elements of the row (a, stride csa, length k) a row kernel must multiply, with their
// positions in pos (kMaxSparseK + 8 entries) when that is fewer than k: only when skipping is
// exact (B finite), the row contiguous, and at least 1/8 of it zero (else the plain loop is
// cheaper than the indirection).
inline index_t sparse_row_positions(index_t k, const float* a, index_t csa, const TileStore& st,
                                    std::int32_t* pos) {
  if (!st.b_finite || csa != 1 || k > kMaxSparseK) return k;
  const index_t n = nonzero_positions(a, k, pos);
  return n < k - k / 8 ? n : k;
}

// Feeds a lone row (a, stride csa, length k) to a row kernel's accumulators, Row::step(a_p,
// offset of B row p): only its nonzero elements where sparse_row_positions allows, else all of
// them, in K order either way.
template <class Row>
inline void accumulate_row(Row& r, index_t k, const float* a, index_t csa, index_t rsb,
                           const TileStore& st) {
  alignas(32) std::int32_t pos[kMaxSparseK + 8];
  const index_t n = sparse_row_positions(k, a, csa, st, pos);
  if (n < k) {
    for (index_t i = 0; i < n; ++i) r.step(a[pos[i]], pos[i] * rsb);
  } else {
    for (index_t p = 0; p < k; ++p) r.step(a[p * csa], p * rsb);
  }
}

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
