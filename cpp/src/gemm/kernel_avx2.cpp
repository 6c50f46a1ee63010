// AVX2 + FMA micro-kernel, 6 x 16: twelve ymm accumulators, two B vectors and one broadcast of A
// per step (15 of 16 registers). Compiled alone with -mavx2 -mfma; only called when cpuid says so.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "gemm/kernels.h"
#include "gemm/row_sparsity.h"

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

// The lanes of a 16-wide row that exist: masks for loads, counts for stores.
struct RowMask {
  __m256i lo, hi;
  int nlo, nhi;  // valid lanes of each half, 0..8
};

template <bool kFullN>
inline __m256 load_row(const float* p, __m256i mask) {
  if (kFullN) return _mm256_loadu_ps(p);
  return _mm256_maskload_ps(p, mask);  // masked-off lanes are zero and never touch memory
}

// The first `valid` lanes of v (0..8) in 4-, 2- and 1-float pieces. VMASKMOVPS's store form is
// microcoded on AMD cores (~12 cycles each): with it, the 6 x 10 edge tiles of a 10-class output
// layer spent most of their time storing (128x32x10: 4.1 us, 20 GFLOP/s).
inline void store_first(float* p, __m256 v, int valid) {
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

template <bool kFullN>
inline void store_vec(float* p, int valid, __m256 v) {
  if (kFullN) {
    _mm256_storeu_ps(p, v);
  } else {
    store_first(p, v, valid);
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
  store_vec<kFullN>(c, m.nlo, x0);
  store_vec<kFullN>(c + 8, m.nhi, x1);
}

// One step of k: acc[i][:] += A(i, p) * B(p, :), then advance A and B by one step of k.
// kCopy: also store the B row to the packed panel at bc (TileStore::b_copy).
// Always inlined so that the caller's accumulator array lives in registers.
template <int M, bool kFullB, bool kCopy>
__attribute__((always_inline)) inline void fma_step(__m256 (&acc)[M][2],
                                                    const float* const (&ar)[M], index_t& ap,
                                                    index_t csa, const float*& b, index_t rsb,
                                                    const RowMask& m, float*& bc) {
  const __m256 b0 = load_row<kFullB>(b, m.lo);
  const __m256 b1 = load_row<kFullB>(b + 8, m.hi);
  if (kCopy) {
    _mm256_store_ps(bc, b0);
    _mm256_store_ps(bc + 8, b1);
    bc += kNR;
  }
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
// the FMA latency, but every element is still one FMA chain in K order: splitting K over several
// accumulators would make a row's bits depend on how many rows share its tile.
// kFullN: all NR columns of C are stored; kFullB: all NR columns of B may be read (a full tile,
// or a zero-padded packed panel: then only the stores of an edge tile are masked).
template <int M, bool kFullN, bool kFullB, bool kCopy>
void tile(index_t k, const float* a, index_t rsa, index_t csa, const float* b, index_t rsb,
          int nr, float* c, index_t ldc, const TileStore& st) {
  RowMask m{_mm256_set1_epi32(-1), _mm256_set1_epi32(-1), 8, 8};
  if (!kFullN) {
    m = {lane_mask(nr), lane_mask(nr - 8), std::min(nr, 8), std::max(0, std::min(nr - 8, 8))};
  }
  __m256 acc[M][2];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  // C is read (or written) only after the k loop: start fetching its rows now.
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  }
  const float* ar[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) ar[i] = a + i * rsa;
  index_t p = 0, ap = 0;
  float* bc = st.b_copy;
#pragma GCC unroll 4
  for (; p < k; ++p) fma_step<M, kFullB, kCopy>(acc, ar, ap, csa, b, rsb, m, bc);
  __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
  if (st.bias) {
    bias0 = load_row<kFullN>(st.bias, m.lo);
    bias1 = load_row<kFullN>(st.bias + 8, m.hi);
  }
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    store_row<kFullN>(c + i * ldc, acc[i][0], acc[i][1], m, st, bias0, bias1);
  }
}

template <int M>
void tile_rows(index_t k, const float* a, index_t rsa, index_t csa, const float* b, index_t rsb,
               int nr, float* c, index_t ldc, const TileStore& st) {
  if (st.b_copy) {  // B read in place (masked in an edge tile: the copy gets zero padding)
    if (nr == kNR) {
      tile<M, true, true, true>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    } else {
      tile<M, false, false, true>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    }
  } else if (nr == kNR) {
    tile<M, true, true, false>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  } else if (st.b_padded) {
    tile<M, false, true, false>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  } else {
    tile<M, false, false, false>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  }
}

// In-register transpose of eight 8-float rows (the classic unpack / shuffle / permute sequence).
inline void transpose8(__m256 (&r)[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// Eight columns of op(B) (each contiguous in memory, `cs` apart) into 8 lanes of each packed row.
void pack_b_trans_group(const float* src, index_t cs, index_t kc, int nr, float* dst) {
  index_t p = 0;
  for (; p + 8 <= kc; p += 8) {
    __m256 r[8];
    for (int t = 0; t < 8; ++t) r[t] = _mm256_loadu_ps(src + t * cs + p);
    transpose8(r);
    for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * nr, r[q]);
  }
  for (; p < kc; ++p) {
    for (int t = 0; t < 8; ++t) dst[p * nr + t] = src[t * cs + p];
  }
}

}  // namespace

// op(B) stored transposed (column j of op(B) at src + j * cs, contiguous along k) into NR-wide
// zero-padded panels, 8 x 8 blocks at a time: the scalar loop cost ~15% of a dX = dY W^T product.
void pack_b_trans_avx2(const float* src, index_t cs, index_t kc, index_t cols, int nr,
                       float* dst) {
  for (index_t j0 = 0; j0 < cols; j0 += nr, dst += kc * nr) {
    const index_t w = std::min<index_t>(nr, cols - j0);
    for (index_t jj = 0; jj < nr; jj += 8) {
      if (w - jj >= 8) {
        pack_b_trans_group(src + (j0 + jj) * cs, cs, kc, nr, dst + jj);
        continue;
      }
      for (index_t p = 0; p < kc; ++p) {
        for (index_t t = 0; t < 8; ++t) {
          dst[p * nr + jj + t] = jj + t < w ? src[(j0 + jj + t) * cs + p] : 0.0f;
        }
      }
    }
  }
}

// Row-major op(B) (row p at src + p * rs) into NR-wide zero-padded panels. Each source row is
// read in one sweep across all panels, so B streams through memory in address order; the masked
// loads of the last, partial panel read nothing past `cols` and give the zero padding. The
// portable pack (no AVX in its TU) ran at ~3 bytes per cycle, a third of a small product's time.
void pack_b_rows_avx2(const float* src, index_t rs, index_t kc, index_t cols, int nr,
                      float* dst) {
  const index_t full = cols / nr, w = cols - full * nr, panel = kc * nr;
  for (index_t p = 0; p < kc; ++p) {
    const float* s = src + p * rs;
    float* d = dst + p * nr;
    for (index_t q = 0; q < full; ++q, s += nr, d += panel) {
      for (int v = 0; v < nr; v += 8) _mm256_storeu_ps(d + v, _mm256_loadu_ps(s + v));
    }
    if (w == 0) continue;
    for (int v = 0; v < nr; v += 8) {
      const __m256i m = lane_mask(static_cast<int>(w) - v);
      _mm256_storeu_ps(d + v, _mm256_maskload_ps(s + v, m));
    }
  }
}

// Row-major op(A) (row i at src + i * rs, contiguous along k) into one zero-padded kc x 6 panel.
// Two duplicate rows make an 8 x 8 transpose; each 8-float store spills 2 floats into the next
// k step, which the next store overwrites (the caller leaves 8 floats of slack after the buffer).
void pack_a_rows_avx2(const float* src, index_t rs, index_t kc, int rows, float* dst) {
  if (rows != kMR) {
    for (index_t p = 0; p < kc; ++p) {
      for (int i = 0; i < kMR; ++i) dst[p * kMR + i] = i < rows ? src[i * rs + p] : 0.0f;
    }
    return;
  }
  const float* row[8];
  for (int i = 0; i < 8; ++i) row[i] = src + std::min(i, kMR - 1) * rs;
  index_t p = 0;
  for (; p + 8 <= kc; p += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(row[i] + p);
    transpose8(r);
    for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * kMR, r[q]);
  }
  for (; p < kc; ++p) {
    for (int i = 0; i < kMR; ++i) dst[p * kMR + i] = row[i][p];
  }
}

namespace {

// Eight accumulators as named variables: in an array GCC stored all eight to the stack on every
// step, which made the loop store-bound at half its speed.
struct Row64 {
  __m256 c0, c1, c2, c3, c4, c5, c6, c7;
  const float *b0, *b1, *b2, *b3;
  Row64(const float* b, index_t panel_step)
      : b0(b), b1(b + panel_step), b2(b + 2 * panel_step), b3(b + 3 * panel_step) {
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = _mm256_setzero_ps();
  }
  void step(float a, index_t o) {
    const __m256 av = _mm256_set1_ps(a);
    c0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b0 + o), c0);
    c1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b0 + o + 8), c1);
    c2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b1 + o), c2);
    c3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b1 + o + 8), c3);
    c4 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b2 + o), c4);
    c5 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b2 + o + 8), c5);
    c6 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b3 + o), c6);
    c7 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b3 + o + 8), c7);
  }
};

}  // namespace

void kernel_avx2_row_1x64(index_t k, const float* a, index_t csa, const float* b, index_t rsb,
                          index_t panel_step, float* c, const TileStore& st) {
  Row64 r(b, panel_step);
  accumulate_row(r, k, a, csa, rsb, st);
  const RowMask all{_mm256_set1_epi32(-1), _mm256_set1_epi32(-1), 8, 8};
  const __m256 acc[4][2] = {{r.c0, r.c1}, {r.c2, r.c3}, {r.c4, r.c5}, {r.c6, r.c7}};
  for (int q = 0; q < 4; ++q) {
    __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
    if (st.bias) {
      bias0 = _mm256_loadu_ps(st.bias + q * kNR);
      bias1 = _mm256_loadu_ps(st.bias + q * kNR + 8);
    }
    store_row<true>(c + q * kNR, acc[q][0], acc[q][1], all, st, bias0, bias1);
  }
}

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
