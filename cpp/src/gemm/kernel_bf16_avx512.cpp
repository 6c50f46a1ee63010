// The AVX512-BF16 kernel, for CPUs that have vdpbf16ps but no AMX (Zen 4/5, Cooper Lake): a
// 12 x 32 tile of C in 24 zmm accumulators; per bf16 pair of k, two loads of a B pair row (32
// columns x 2) and one 32-bit broadcast of A's pair per row, 24 vdpbf16ps (2 x 16 x 2 products
// each). Each element is one chain over K in pair order (odd product, then even, as the
// instruction adds them), which kernel_bf16_generic.cpp reproduces bit for bit. The store path is
// the fp32 AVX-512 kernel's. Compiled with AVX-512 and AVX512-BF16 flags, or against SIMDe
// (cpp/tests/emulated/kernel_bf16_avx512_simde.cpp).
#if !defined(FASTMLP_EMULATE_AVX512)
#include <immintrin.h>
#endif

#include <cstdint>
#include <cstring>

#include "gemm/kernels_bf16.h"
#include "gemm/tile_kernel.h"
#include "gemm/vec_avx512.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 12, kNR = 32;

// 64 bytes as bf16 pairs (SIMDe's __m512bh is a struct a cast cannot produce).
inline __m512bh as_pairs(__m512i x) {
#if defined(FASTMLP_EMULATE_AVX512)
  __m512bh v;
  std::memcpy(&v, &x, sizeof v);
  return v;
#else
  return (__m512bh)x;
#endif
}

inline __m512bh load_pairs(const bf16_t* p) { return as_pairs(_mm512_loadu_si512(p)); }

inline __m512bh broadcast_pair(const bf16_t* p) {
  std::int32_t w;
  std::memcpy(&w, p, sizeof w);
  return as_pairs(_mm512_set1_epi32(w));
}

template <int M, bool kFullN>
void tile(index_t kp, const bf16_t* a, const bf16_t* b, float* partial, bool first, bool last,
          int nr, float* c, index_t ldc, const TileStore& st) {
  using V = Avx512;
  V::Vec acc[M][2];
#pragma GCC unroll 12
  for (int i = 0; i < M; ++i) {
    acc[i][0] = first ? V::zero() : V::load(partial + i * kNR);
    acc[i][1] = first ? V::zero() : V::load(partial + i * kNR + V::kLanes);
  }
  for (index_t p = 0; p < kp; p += 2) {
    const __m512bh b0 = load_pairs(b + p * kNR), b1 = load_pairs(b + p * kNR + 32);
    const bf16_t* ap = a + p * kMR;  // the pair block: kMR rows x 2
#pragma GCC unroll 12
    for (int i = 0; i < M; ++i) {
      const __m512bh av = broadcast_pair(ap + 2 * i);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
    }
  }
  if (!last) {
#pragma GCC unroll 12
    for (int i = 0; i < M; ++i) {
      V::store(partial + i * kNR, acc[i][0]);
      V::store(partial + i * kNR + V::kLanes, acc[i][1]);
    }
    return;
  }
  RowMask<V> m{V::mask_all(), V::mask_all()};
  if (!kFullN) m = {V::mask_first(nr), V::mask_first(nr - V::kLanes)};
  V::Vec bias0 = V::zero(), bias1 = V::zero();
  if (st.bias) {
    bias0 = load_vec<V, kFullN>(st.bias, m.lo);
    bias1 = load_vec<V, kFullN>(st.bias + V::kLanes, m.hi);
  }
#pragma GCC unroll 12
  for (int i = 0; i < M; ++i) {
    store_row<V, kFullN>(c + i * ldc, acc[i][0], acc[i][1], m, st, bias0, bias1);
  }
}

template <int M>
void tile_rows(index_t kp, const bf16_t* a, const bf16_t* b, float* partial, bool first,
               bool last, int nr, float* c, index_t ldc, const TileStore& st) {
  if (nr == kNR) {
    tile<M, true>(kp, a, b, partial, first, last, nr, c, ldc, st);
  } else {
    tile<M, false>(kp, a, b, partial, first, last, nr, c, ldc, st);
  }
}

// One instantiation per tile height (the rows past mr of the panel are zero, but computing them
// would cost a 1-row edge tile as much as a full one).
void kernel_bf16_avx512_12x32(index_t kp, const bf16_t* a, const bf16_t* b, float* partial,
                              bool first, bool last, int mr, int nr, float* c, index_t ldc,
                              const TileStore& st) {
  auto rows = [&](auto m) {
    tile_rows<decltype(m)::value>(kp, a, b, partial, first, last, nr, c, ldc, st);
  };
  using std::integral_constant;
  switch (mr) {
    case 12: return rows(integral_constant<int, 12>{});
    case 11: return rows(integral_constant<int, 11>{});
    case 10: return rows(integral_constant<int, 10>{});
    case 9: return rows(integral_constant<int, 9>{});
    case 8: return rows(integral_constant<int, 8>{});
    case 7: return rows(integral_constant<int, 7>{});
    case 6: return rows(integral_constant<int, 6>{});
    case 5: return rows(integral_constant<int, 5>{});
    case 4: return rows(integral_constant<int, 4>{});
    case 3: return rows(integral_constant<int, 3>{});
    case 2: return rows(integral_constant<int, 2>{});
    default: return rows(integral_constant<int, 1>{});
  }
}

}  // namespace

Bf16KernelInfo bf16_avx512_kernel_info() {
  Bf16KernelInfo k;
  k.id = Bf16Kernel::avx512_bf16;
  k.name = "bf16_avx512_12x32";
  k.mr = kMR;
  k.nr = kNR;
  k.kb = 2;
  // a 384 x 32 bf16 B panel (24 KiB) in L1 while a 192 x 384 A block (144 KiB) streams from L2
  k.mc = 192;
  k.kc = 384;
  k.nc = 512;
  k.kernel = kernel_bf16_avx512_12x32;
  k.pack_a = pack_a_bf16_avx512;
  k.pack_b = pack_b_bf16_avx512;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
