// AVX2 + FMA micro-kernel, 6 x 16: twelve ymm accumulators, two B vectors and one broadcast of A
// per step (15 of 16 registers). Compiled alone with -mavx2 -mfma; only called when cpuid says so.
#include <immintrin.h>

#include <cstdint>

#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

// Eight -1 lanes then eight 0 lanes: the window of 8 starting at 8 - v enables the first v lanes.
alignas(64) const std::int32_t kMaskWindow[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                  0,  0,  0,  0,  0,  0,  0,  0};

// The first `valid` of 8 lanes (valid clamped to 0..8).
inline __m256i lane_mask(int valid) {
  valid = valid < 0 ? 0 : (valid > 8 ? 8 : valid);
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskWindow + 8 - valid));
}

struct RowMask {
  __m256i lo, hi;
};

template <bool kFullN>
inline __m256 load_row(const float* p, __m256i mask) {
  if (kFullN) return _mm256_loadu_ps(p);
  return _mm256_maskload_ps(p, mask);  // masked-off lanes are zero and never touch memory
}

template <bool kFullN>
inline void store_vec(float* p, __m256i mask, __m256 v) {
  if (kFullN) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, mask, v);
  }
}

// The fused epilogue: alpha * acc (+ beta * C) (+ bias) (ReLU), then one store per vector.
template <bool kFullN>
inline void store_row(float* c, __m256 x0, __m256 x1, const RowMask& m, const TileStore& st,
                      __m256 bias0, __m256 bias1) {
  const __m256 va = _mm256_set1_ps(st.alpha);
  x0 = _mm256_mul_ps(x0, va);
  x1 = _mm256_mul_ps(x1, va);
  if (st.load_c) {
    const __m256 vb = _mm256_set1_ps(st.beta);
    x0 = _mm256_fmadd_ps(vb, load_row<kFullN>(c, m.lo), x0);
    x1 = _mm256_fmadd_ps(vb, load_row<kFullN>(c + 8, m.hi), x1);
  }
  if (st.bias) {
    x0 = _mm256_add_ps(x0, bias0);
    x1 = _mm256_add_ps(x1, bias1);
  }
  if (st.relu) {
    // max(0, x) returns its second operand when x is NaN, so NaN propagates as in the reference.
    x0 = _mm256_max_ps(_mm256_setzero_ps(), x0);
    x1 = _mm256_max_ps(_mm256_setzero_ps(), x1);
  }
  store_vec<kFullN>(c, m.lo, x0);
  store_vec<kFullN>(c + 8, m.hi, x1);
}

// One step of k: acc[i][:] += A(i, p) * B(p, :), then advance A and B by one step of k.
// Always inlined so that the caller's accumulator array lives in registers.
template <int M, bool kFullN>
__attribute__((always_inline)) inline void fma_step(__m256 (&acc)[M][2],
                                                    const float* const (&ar)[M], index_t& ap,
                                                    index_t csa, const float*& b, index_t rsb,
                                                    const RowMask& m) {
  const __m256 b0 = load_row<kFullN>(b, m.lo);
  const __m256 b1 = load_row<kFullN>(b + 8, m.hi);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    const __m256 av = _mm256_broadcast_ss(ar[i] + ap);
    acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
    acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
  }
  ap += csa;  // one offset shared by all rows: one add per step, not one per row
  b += rsb;
}

// M rows (M <= 6) by 16 (or nr masked) columns. With few rows the FMA chains are too few to hide
// the FMA latency, so S independent accumulator sets take every S-th k and are summed at the end
// (a fixed order: results do not depend on threads or on where the tile sits).
template <int M, int S, bool kFullN>
void tile(index_t k, const float* a, index_t rsa, index_t csa, const float* b, index_t rsb,
          int nr, float* c, index_t ldc, const TileStore& st) {
  RowMask m{_mm256_set1_epi32(-1), _mm256_set1_epi32(-1)};
  if (!kFullN) m = {lane_mask(nr), lane_mask(nr - 8)};
  __m256 acc[S][M][2];
#pragma GCC unroll 16
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) acc[s][i][0] = acc[s][i][1] = _mm256_setzero_ps();
  // C is read (or written) only after the k loop: start fetching its rows now.
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  }
  const float* ar[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) ar[i] = a + i * rsa;
  index_t p = 0, ap = 0;
#pragma GCC unroll 4
  for (; p + S <= k; p += S) {
#pragma GCC unroll 16
    for (int s = 0; s < S; ++s) fma_step<M, kFullN>(acc[s], ar, ap, csa, b, rsb, m);
  }
  for (; p < k; ++p) fma_step<M, kFullN>(acc[0], ar, ap, csa, b, rsb, m);
#pragma GCC unroll 16
  for (int s = 1; s < S; ++s) {
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      acc[0][i][0] = _mm256_add_ps(acc[0][i][0], acc[s][i][0]);
      acc[0][i][1] = _mm256_add_ps(acc[0][i][1], acc[s][i][1]);
    }
  }
  __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
  if (st.bias) {
    bias0 = load_row<kFullN>(st.bias, m.lo);
    bias1 = load_row<kFullN>(st.bias + 8, m.hi);
  }
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    store_row<kFullN>(c + i * ldc, acc[0][i][0], acc[0][i][1], m, st, bias0, bias1);
  }
}

template <int M>
void tile_rows(index_t k, const float* a, index_t rsa, index_t csa, const float* b, index_t rsb,
               int nr, float* c, index_t ldc, const TileStore& st) {
  constexpr int S = M == 1 ? 4 : (M == 2 ? 2 : 1);
  if (nr == kNR) {
    tile<M, S, true>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  } else {
    tile<M, S, false>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  }
}

}  // namespace

void kernel_avx2_6x16(index_t k, const float* a, index_t rsa, index_t csa, const float* b,
                      index_t rsb, int mr, int nr, float* c, index_t ldc, const TileStore& st) {
  static_assert(kMR == 6, "the switch below covers 1..6 rows");
  switch (mr) {
    case 6: return tile_rows<6>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 5: return tile_rows<5>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 4: return tile_rows<4>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 3: return tile_rows<3>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 2: return tile_rows<2>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    default: return tile_rows<1>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  }
}

}  // namespace gemm
}  // namespace fastmlp
