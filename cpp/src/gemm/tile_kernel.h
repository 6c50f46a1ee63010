// The MR x NR micro-kernel, written once over a vector type V and instantiated by each SIMD ISA's
// translation unit (kernel_avx2.cpp, kernel_avx512.cpp) with its own target flags. A register
// tile is MR rows of two V vectors each (NR = 2 * V::kLanes columns): per step of k, two loads of
// B, one broadcast of A per row and 2 * MR FMAs.
//
// V provides (all static, inline):
//   Vec, Mask; kLanes; kAdjacentA (step A with one pointer when its rows are adjacent floats);
//   kCopiesB (the kernel honours TileStore::b_copy; then store_aligned is needed);
//   mask_first(valid) (the first valid lanes, valid clamped to 0..kLanes), mask_all();
//   zero(), set1(x), bcast(const float*), load(p), load_masked(p, m) (masked-off lanes are zero
//   and never touch memory), store(p, v), store_masked(p, v, m), store_aligned(p, v);
//   fmadd(a, b, c) = a * b + c, mul, add, max0(x) = max(0, x) returning x when x is NaN.
//
// Everything here has internal linkage (the anonymous namespace), so each ISA's build keeps its
// own copy; no std:: helper is called, whose shared inline copy could carry another ISA's code.
#pragma once
#include <type_traits>

#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {
namespace {

template <class V>
struct RowMask {
  typename V::Mask lo, hi;  // the two vectors of a tile row
};

template <class V, bool kFull>
inline typename V::Vec load_vec(const float* p, const typename V::Mask& m) {
  if (kFull) return V::load(p);
  return V::load_masked(p, m);
}

template <class V, bool kFull>
inline void store_vec(float* p, const typename V::Mask& m, typename V::Vec v) {
  if (kFull) {
    V::store(p, v);
  } else {
    V::store_masked(p, v, m);
  }
}

// The fused epilogue: alpha * acc (+ beta * C) (+ bias) (ReLU), then one store per vector.
template <class V, bool kFullN>
inline void store_row(float* c, typename V::Vec x0, typename V::Vec x1, const RowMask<V>& m,
                      const TileStore& st, typename V::Vec bias0, typename V::Vec bias1) {
  constexpr int W = V::kLanes;
  const typename V::Vec va = V::set1(st.alpha);
  x0 = V::mul(x0, va);
  x1 = V::mul(x1, va);
  if (st.load_c) {
    const typename V::Vec vb = V::set1(st.beta);
    x0 = V::fmadd(vb, load_vec<V, kFullN>(c, m.lo), x0);
    x1 = V::fmadd(vb, load_vec<V, kFullN>(c + W, m.hi), x1);
  }
  if (st.bias) {
    x0 = V::add(x0, bias0);
    x1 = V::add(x1, bias1);
  }
  if (st.relu) {  // NaN propagates, as in the reference
    x0 = V::max0(x0);
    x1 = V::max0(x1);
  }
  store_vec<V, kFullN>(c, m.lo, x0);
  store_vec<V, kFullN>(c + W, m.hi, x1);
}

// One step of k: acc[i][:] += A(i, p) * B(p, :) with A(i, p) at a_row(i), then B advances by one
// step of k. kCopy: also store the B row to the packed panel at bc (TileStore::b_copy).
// Always inlined (as a_row must be) so that the caller's accumulator array lives in registers.
template <class V, int M, bool kFullB, bool kCopy, class ARow>
__attribute__((always_inline)) inline void fma_rows(typename V::Vec (&acc)[M][2], ARow a_row,
                                                    const float*& b, index_t rsb,
                                                    const RowMask<V>& m, float*& bc) {
  const typename V::Vec b0 = load_vec<V, kFullB>(b, m.lo);
  const typename V::Vec b1 = load_vec<V, kFullB>(b + V::kLanes, m.hi);
  if constexpr (kCopy) {
    V::store_aligned(bc, b0);
    V::store_aligned(bc + V::kLanes, b1);
    bc += 2 * V::kLanes;
  }
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    const typename V::Vec av = V::bcast(a_row(i));
    acc[i][0] = V::fmadd(av, b0, acc[i][0]);
    acc[i][1] = V::fmadd(av, b1, acc[i][1]);
  }
  b += rsb;
}

// A's rows at the M pointers ar plus the shared offset ap (one add per step, not one per row).
template <class V, int M, bool kFullB, bool kCopy>
__attribute__((always_inline)) inline void fma_step(typename V::Vec (&acc)[M][2],
                                                    const float* const (&ar)[M], index_t& ap,
                                                    index_t csa, const float*& b, index_t rsb,
                                                    const RowMask<V>& m, float*& bc) {
  fma_rows<V, M, kFullB, kCopy>(
      acc, [&](int i) __attribute__((always_inline)) { return ar[i] + ap; }, b, rsb, m, bc);
  ap += csa;
}

// A's rows adjacent floats (rsa = 1: a packed panel, or a transposed A read in place): one
// pointer plus constant offsets, where rows apart need M pointers, more than the 16 general
// registers leave free for a 12-row tile.
template <class V, int M, bool kFullB, bool kCopy>
__attribute__((always_inline)) inline void fma_step_adjacent(typename V::Vec (&acc)[M][2],
                                                             const float*& a, index_t csa,
                                                             const float*& b, index_t rsb,
                                                             const RowMask<V>& m, float*& bc) {
  fma_rows<V, M, kFullB, kCopy>(
      acc, [&](int i) __attribute__((always_inline)) { return a + i; }, b, rsb, m, bc);
  a += csa;
}

// M rows by NR (or nr masked) columns. With few rows the FMA chains are too few to hide the FMA
// latency, but every element is still one FMA chain in K order: splitting K over several
// accumulators would make a row's bits depend on how many rows share its tile.
// kFullN: all NR columns of C are stored; kFullB: all NR columns of B may be read (a full tile,
// or a zero-padded packed panel: then only the stores of an edge tile are masked).
// Never inlined into tile_kernel's switch: the short tiles' spill slots would make every call of
// it realign the stack, and each tile is one call anyway.
template <class V, int M, bool kFullN, bool kFullB, bool kCopy>
__attribute__((noinline)) void tile(index_t k, const float* a, index_t rsa, index_t csa,
                                    const float* b, index_t rsb, int nr, float* c, index_t ldc,
                                    const TileStore& st) {
  using Vec = typename V::Vec;
  constexpr int W = V::kLanes;
  RowMask<V> m{V::mask_all(), V::mask_all()};
  if (!kFullN) m = {V::mask_first(nr), V::mask_first(nr - W)};
  Vec acc[M][2];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = V::zero();
  // C is read (or written) only after the k loop: start fetching its rows now (both lines of a
  // row wider than one).
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    __builtin_prefetch(c + i * ldc, 0, 3);
    if (2 * W > 16) __builtin_prefetch(c + i * ldc + 2 * W - 1, 0, 3);
  }
  float* bc = st.b_copy;
  if (V::kAdjacentA && rsa == 1) {
#pragma GCC unroll 4
    for (index_t p = 0; p < k; ++p) {
      fma_step_adjacent<V, M, kFullB, kCopy>(acc, a, csa, b, rsb, m, bc);
    }
  } else {
    const float* ar[M];
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) ar[i] = a + i * rsa;
    index_t ap = 0;
#pragma GCC unroll 4
    for (index_t p = 0; p < k; ++p) fma_step<V, M, kFullB, kCopy>(acc, ar, ap, csa, b, rsb, m, bc);
  }
  Vec bias0 = V::zero(), bias1 = V::zero();
  if (st.bias) {
    bias0 = load_vec<V, kFullN>(st.bias, m.lo);
    bias1 = load_vec<V, kFullN>(st.bias + W, m.hi);
  }
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    store_row<V, kFullN>(c + i * ldc, acc[i][0], acc[i][1], m, st, bias0, bias1);
  }
}

template <class V, int M>
void tile_rows(index_t k, const float* a, index_t rsa, index_t csa, const float* b, index_t rsb,
               int nr, float* c, index_t ldc, const TileStore& st) {
  constexpr int NR = 2 * V::kLanes;
  if constexpr (V::kCopiesB) {
    if (st.b_copy) {  // B read in place (masked in an edge tile: the copy gets zero padding)
      if (nr == NR) {
        tile<V, M, true, true, true>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
      } else {
        tile<V, M, false, false, true>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
      }
      return;
    }
  }
  if (nr == NR) {
    tile<V, M, true, true, false>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  } else if (st.b_padded) {
    tile<V, M, false, true, false>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  } else {
    tile<V, M, false, false, false>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  }
}

// The MicroKernel (kernels.h) of an MR-row tile: one instantiation per tile height, chosen by a
// switch (a jump table) on the rows the tile really has.
template <class V, int MR>
void tile_kernel(index_t k, const float* a, index_t rsa, index_t csa, const float* b,
                 index_t rsb, int mr, int nr, float* c, index_t ldc, const TileStore& st) {
  static_assert(MR >= 1 && MR <= 12, "the switch below covers 1..12 rows");
  auto rows = [&](auto m) {
    tile_rows<V, decltype(m)::value>(k, a, rsa, csa, b, rsb, nr, c, ldc, st);
  };
  using std::integral_constant;
  switch (mr) {
    case 12: if constexpr (MR >= 12) return rows(integral_constant<int, 12>{}); break;
    case 11: if constexpr (MR >= 11) return rows(integral_constant<int, 11>{}); break;
    case 10: if constexpr (MR >= 10) return rows(integral_constant<int, 10>{}); break;
    case 9: if constexpr (MR >= 9) return rows(integral_constant<int, 9>{}); break;
    case 8: if constexpr (MR >= 8) return rows(integral_constant<int, 8>{}); break;
    case 7: if constexpr (MR >= 7) return rows(integral_constant<int, 7>{}); break;
    case 6: if constexpr (MR >= 6) return rows(integral_constant<int, 6>{}); break;
    case 5: if constexpr (MR >= 5) return rows(integral_constant<int, 5>{}); break;
    case 4: if constexpr (MR >= 4) return rows(integral_constant<int, 4>{}); break;
    case 3: if constexpr (MR >= 3) return rows(integral_constant<int, 3>{}); break;
    case 2: if constexpr (MR >= 2) return rows(integral_constant<int, 2>{}); break;
    default: break;
  }
  rows(integral_constant<int, 1>{});
}

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
