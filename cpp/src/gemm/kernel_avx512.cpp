// AVX-512 micro-kernel, 12 x 32: 24 zmm accumulators, two B vectors and one broadcast of A per
// step (27 of 32 registers). Same structure as the AVX2 6 x 16 kernel, with k-masks for the edge
// columns. Compiled alone with -mavx512f/bw/dq/vl; only called when cpuid and XCR0 say so.
#if !defined(FASTMLP_EMULATE_AVX512)  // test builds get the intrinsics from SIMDe instead:
#include <immintrin.h>                  // cpp/tests/emulated/kernel_avx512_simde.cpp
#endif

#include "gemm/kernels.h"
#include "gemm/row_sparsity.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 12;
constexpr int kNR = 32;

// The first `valid` of 16 lanes (valid clamped to 0..16).
inline __mmask16 lane_mask(int valid) {
  if (valid <= 0) return 0;
  if (valid >= 16) return static_cast<__mmask16>(0xFFFF);
  return static_cast<__mmask16>((1u << valid) - 1u);
}

struct RowMask {
  __mmask16 lo, hi;
};

template <bool kFullN>
inline __m512 load_row(const float* p, __mmask16 mask) {
  if (kFullN) return _mm512_loadu_ps(p);
  return _mm512_maskz_loadu_ps(mask, p);  // masked-off lanes are zero and never touch memory
}

template <bool kFullN>
inline void store_vec(float* p, __mmask16 mask, __m512 v) {
  if (kFullN) {
    _mm512_storeu_ps(p, v);
  } else {
    _mm512_mask_storeu_ps(p, mask, v);
  }
}

// The fused epilogue: alpha * acc (+ beta * C) (+ bias) (ReLU), then one store per vector.
template <bool kFullN>
inline void store_row(float* c, __m512 x0, __m512 x1, const RowMask& m, const TileStore& st,
                      __m512 bias0, __m512 bias1) {
  const __m512 va = _mm512_set1_ps(st.alpha);
  x0 = _mm512_mul_ps(x0, va);
  x1 = _mm512_mul_ps(x1, va);
  if (st.load_c) {
    const __m512 vb = _mm512_set1_ps(st.beta);
    x0 = _mm512_fmadd_ps(vb, load_row<kFullN>(c, m.lo), x0);
    x1 = _mm512_fmadd_ps(vb, load_row<kFullN>(c + 16, m.hi), x1);
  }
  if (st.bias) {
    x0 = _mm512_add_ps(x0, bias0);
    x1 = _mm512_add_ps(x1, bias1);
  }
  if (st.relu) {
    // max(0, x) returns its second operand when x is NaN, so NaN propagates as in the reference.
    // The all-lanes masked form avoids GCC 12's false "uninitialized" warning on _mm512_max_ps.
    const __m512 zero = _mm512_setzero_ps();
    x0 = _mm512_mask_max_ps(zero, static_cast<__mmask16>(0xFFFF), zero, x0);
    x1 = _mm512_mask_max_ps(zero, static_cast<__mmask16>(0xFFFF), zero, x1);
  }
  store_vec<kFullN>(c, m.lo, x0);
  store_vec<kFullN>(c + 16, m.hi, x1);
}

// One step of k: acc[i][:] += A(i, p) * B(p, :), then advance A and B by one step of k.
// Always inlined so that the caller's accumulator array lives in registers.
template <int M, bool kFullB>
__attribute__((always_inline)) inline void fma_step(__m512 (&acc)[M][2],
                                                    const float* const (&ar)[M], index_t& ap,
                                                    index_t csa, const float*& b, index_t rsb,
                                                    const RowMask& m) {
  const __m512 b0 = load_row<kFullB>(b, m.lo);
  const __m512 b1 = load_row<kFullB>(b + 16, m.hi);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    const __m512 av = _mm512_set1_ps(ar[i][ap]);
    acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
    acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
  }
  ap += csa;  // one offset shared by all rows: one add per step, not one per row
  b += rsb;
}

// M rows (M <= 12) by 32 (or nr masked) columns; every element is one FMA chain in K order, as in
// kernel_avx2.cpp, so a row's bits do not depend on its tile.
// kFullN: all NR columns of C are stored; kFullB: all NR columns of B may be read (a full tile,
// or a zero-padded packed panel: then only the stores of an edge tile are masked).
// One step of k where A's rows are adjacent floats (rsa = 1: a packed panel, or a transposed A
// read in place): one pointer plus constant offsets, where rows apart need M pointers, more than
// the 16 general registers leave free.
template <int M, bool kFullB>
__attribute__((always_inline)) inline void fma_step_adjacent(__m512 (&acc)[M][2], const float*& a,
                                                             index_t csa, const float*& b,
                                                             index_t rsb, const RowMask& m) {
  const __m512 b0 = load_row<kFullB>(b, m.lo);
  const __m512 b1 = load_row<kFullB>(b + 16, m.hi);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    const __m512 av = _mm512_set1_ps(a[i]);
    acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
    acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
  }
  a += csa;
  b += rsb;
}

template <int M, bool kFullN, bool kFullB>
void tile(index_t k, const float* a, index_t rsa, index_t csa, const float* b, index_t rsb,
          int nr, float* c, index_t ldc, const TileStore& st) {
  RowMask m{static_cast<__mmask16>(0xFFFF), static_cast<__mmask16>(0xFFFF)};
  if (!kFullN) m = {lane_mask(nr), lane_mask(nr - 16)};
  __m512 acc[M][2];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  // C is read (or written) only after the k loop: start fetching its rows now.
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 31), _MM_HINT_T0);  // its 2nd line
  }
  if (rsa == 1) {
#pragma GCC unroll 4
    for (index_t p = 0; p < k; ++p) fma_step_adjacent<M, kFullB>(acc, a, csa, b, rsb, m);
  } else {
    const float* ar[M];
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) ar[i] = a + i * rsa;
    index_t ap = 0;
#pragma GCC unroll 4
    for (index_t p = 0; p < k; ++p) fma_step<M, kFullB>(acc, ar, ap, csa, b, rsb, m);
  }
  __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
  if (st.bias) {
    bias0 = load_row<kFullN>(st.bias, m.lo);
    bias1 = load_row<kFullN>(st.bias + 16, m.hi);
  }
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    store_row<kFullN>(c + i * ldc, acc[i][0], acc[i][1], m, st, bias0, bias1);
  }
}

template <int M>
void tile_rows(index_t k, const float* a, index_t rsa, index_t csa, const float* b, index_t rsb,
               int nr, float* c, index_t ldc, const TileStore& st) {
  if (nr == kNR) {
    tile<M, true, true>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  } else if (st.b_padded) {
    tile<M, false, true>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  } else {
    tile<M, false, false>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  }
}

// A lone row times four 32-wide panels: eight named accumulators (an array would be spilled to
// the stack on every step), each element one K-ordered chain as in the 12 x 32 tiles.
struct Row128 {
  __m512 c0, c1, c2, c3, c4, c5, c6, c7;
  const float *b0, *b1, *b2, *b3;
  Row128(const float* b, index_t panel_step)
      : b0(b), b1(b + panel_step), b2(b + 2 * panel_step), b3(b + 3 * panel_step) {
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = _mm512_setzero_ps();
  }
  void step(float a, index_t o) {
    const __m512 av = _mm512_set1_ps(a);
    c0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b0 + o), c0);
    c1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b0 + o + 16), c1);
    c2 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b1 + o), c2);
    c3 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b1 + o + 16), c3);
    c4 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b2 + o), c4);
    c5 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b2 + o + 16), c5);
    c6 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b3 + o), c6);
    c7 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b3 + o + 16), c7);
  }
};

}  // namespace

void kernel_avx512_row_1x128(index_t k, const float* a, index_t csa, const float* b, index_t rsb,
                             index_t panel_step, float* c, const TileStore& st) {
  Row128 r(b, panel_step);
  accumulate_row(r, k, a, csa, rsb, st);
  const RowMask all{static_cast<__mmask16>(0xFFFF), static_cast<__mmask16>(0xFFFF)};
  const __m512 acc[4][2] = {{r.c0, r.c1}, {r.c2, r.c3}, {r.c4, r.c5}, {r.c6, r.c7}};
  for (int q = 0; q < 4; ++q) {
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (st.bias) {
      bias0 = _mm512_loadu_ps(st.bias + q * kNR);
      bias1 = _mm512_loadu_ps(st.bias + q * kNR + 16);
    }
    store_row<true>(c + q * kNR, acc[q][0], acc[q][1], all, st, bias0, bias1);
  }
}

void kernel_avx512_12x32(index_t k, const float* a, index_t rsa, index_t csa, const float* b,
                         index_t rsb, int mr, int nr, float* c, index_t ldc,
                         const TileStore& st) {
  static_assert(kMR == 12, "the switch below covers 1..12 rows");
  switch (mr) {
    case 12: return tile_rows<12>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 11: return tile_rows<11>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 10: return tile_rows<10>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 9: return tile_rows<9>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 8: return tile_rows<8>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
    case 7: return tile_rows<7>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
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
