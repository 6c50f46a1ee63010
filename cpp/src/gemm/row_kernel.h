// The row kernel (kernels.h RowKernel): one row of A times four NR-wide packed or in-place B
// panels, written once over the vector type V of tile_kernel.h and instantiated by the x86 kernel
// translation units. Zero elements of a lone row of A (an image's background pixels, ReLU
// outputs) add exactly zero to every FMA chain when B is finite: the row kernel may multiply only
// the others, in K order, and get bitwise the same sums. The zero scan uses AVX2 intrinsics, so
// this header is for the x86 kernels only; the anonymous namespace gives each its own copy,
// compiled with its own flags.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "gemm/kernels.h"
#include "gemm/tile_kernel.h"

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

// Eight accumulators as named variables: in an array GCC stored all eight to the stack on every
// step, which made the loop store-bound at half its speed.
template <class V>
struct Row4 {
  typename V::Vec c0, c1, c2, c3, c4, c5, c6, c7;
  const float *b0, *b1, *b2, *b3;
  Row4(const float* b, index_t panel_step)
      : b0(b), b1(b + panel_step), b2(b + 2 * panel_step), b3(b + 3 * panel_step) {
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = V::zero();
  }
  void step(float a, index_t o) {
    constexpr int W = V::kLanes;
    const typename V::Vec av = V::set1(a);
    c0 = V::fmadd(av, V::load(b0 + o), c0);
    c1 = V::fmadd(av, V::load(b0 + o + W), c1);
    c2 = V::fmadd(av, V::load(b1 + o), c2);
    c3 = V::fmadd(av, V::load(b1 + o + W), c3);
    c4 = V::fmadd(av, V::load(b2 + o), c4);
    c5 = V::fmadd(av, V::load(b2 + o + W), c5);
    c6 = V::fmadd(av, V::load(b3 + o), c6);
    c7 = V::fmadd(av, V::load(b3 + o + W), c7);
  }
};

// One row of A times four full panels, stored as four 1 x NR tiles would be.
template <class V>
void row_kernel(index_t k, const float* a, index_t csa, const float* b, index_t rsb,
                index_t panel_step, float* c, const TileStore& st) {
  constexpr int W = V::kLanes, NR = 2 * W;
  Row4<V> r(b, panel_step);
  accumulate_row(r, k, a, csa, rsb, st);
  const RowMask<V> all{V::mask_all(), V::mask_all()};
  const typename V::Vec acc[4][2] = {{r.c0, r.c1}, {r.c2, r.c3}, {r.c4, r.c5}, {r.c6, r.c7}};
  for (int q = 0; q < 4; ++q) {
    typename V::Vec bias0 = V::zero(), bias1 = V::zero();
    if (st.bias) {
      bias0 = V::load(st.bias + q * NR);
      bias1 = V::load(st.bias + q * NR + W);
    }
    store_row<V, true>(c + q * NR, acc[q][0], acc[q][1], all, st, bias0, bias1);
  }
}

// The kernel table entry of an x86 ISA with vector type V: tile_kernel<V, MR> and row_kernel<V>.
// Every such CPU has AVX2, so the AVX2 B packs serve them all.
template <class V, int MR>
KernelInfo x86_kernel_info(Isa isa, const char* name) {
  KernelInfo k;
  k.isa = isa;
  k.name = name;
  k.mr = MR;
  k.nr = 2 * V::kLanes;
  k.kernel = tile_kernel<V, MR>;
  k.row4 = row_kernel<V>;
  k.copies_b = V::kCopiesB;
  k.pack_b_rows = pack_b_rows_avx2;
  k.pack_b_trans = pack_b_trans_avx2;
  return k;
}

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
