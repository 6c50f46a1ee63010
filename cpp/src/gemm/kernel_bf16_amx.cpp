// The AMX bf16 kernel: a 32 x 32 tile of C as four 16 x 16 float32 tile registers (C0 C1 / C2 C3),
// fed per 32 values of k by two A tiles (16 rows x 32 bf16 each, one 2 KiB block of the packed
// A panel) and two B tiles (16 pair rows x 16 columns, the two halves of a 128-byte pair row of the
// packed B strip): 4 tdpbf16ps per 4 tile loads, all 8 tile registers in use. Edge tiles of up to
// 16 rows or columns skip the A or B tile they do not need (the packers zero-pad the rest). The
// finished tile goes through a 4 KiB buffer to the AVX-512 store path of the fp32 kernels (alpha,
// beta, bias, ReLU, masked edge columns). (Packing A inside the kernel, two k steps ahead of its
// tile loads, measured 0-7% slower than the separate packer: the rounding did not overlap the
// tile unit's work, and the tile loads waited for the stores.) Compiled with AVX-512,
// AVX512-BF16 and AMX flags, or (FASTMLP_EMULATE_AMX) against amx_tiles.h's emulated tiles; only
// called when common/cpu.cpp found AMX and Linux granted the tile state.
#if !defined(FASTMLP_EMULATE_AVX512)  // test builds get the intrinsics from SIMDe instead:
#include <immintrin.h>                  // cpp/tests/emulated/kernel_bf16_amx_simde.cpp
#endif

#include "gemm/amx_tiles.h"
#include "gemm/kernels_bf16.h"
#include "gemm/tile_kernel.h"
#include "gemm/vec_avx512.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 32, kNR = 32, kKB = 32;
constexpr index_t kPartialStride = kNR * sizeof(float);  // bytes per row of a partial tile

constexpr index_t kBStride = 2 * kNR * sizeof(bf16_t);  // bytes per pair row of a B strip
constexpr index_t kABlock = kMR * kKB, kBBlock = kNR * kKB;  // values per 32 k of A, of B

// All four tiles over `chunks` steps of 32 k. The tile registers are not renamed: a load into one
// waits for the products still reading it. So each register is reloaded for the next step right
// after its second product, and the product order alternates between steps (A0B0 A0B1 A1B1 A1B0,
// then A0B1 A0B0 A1B0 A1B1) so that the first products of a step use the registers reloaded
// earliest: every load has at least one product (16 cycles) to arrive. Each C tile still adds
// its steps in k order.
void full_chunks(index_t chunks, const bf16_t* a, const bf16_t* b) {
  const bf16_t* ap = a;
  amx::load<4>(ap, amx::kRowBytes);
  amx::load<6>(b, kBStride);
  amx::load<7>(b + 32, kBStride);
  amx::load<5>(ap + 16 * kKB, amx::kRowBytes);
  for (index_t q = 0; q < chunks; q += 2) {
    const bool next = q + 1 < chunks;
    ap += kABlock;
    b += kBBlock;
    amx::dpbf16ps<0, 4, 6>();
    amx::dpbf16ps<1, 4, 7>();
    if (next) amx::load<4>(ap, amx::kRowBytes);
    amx::dpbf16ps<3, 5, 7>();
    if (next) amx::load<7>(b + 32, kBStride);
    amx::dpbf16ps<2, 5, 6>();
    if (!next) return;
    amx::load<6>(b, kBStride);
    amx::load<5>(ap + 16 * kKB, amx::kRowBytes);
    const bool after = q + 2 < chunks;
    ap += kABlock;
    b += kBBlock;
    amx::dpbf16ps<1, 4, 7>();
    amx::dpbf16ps<0, 4, 6>();
    if (after) amx::load<4>(ap, amx::kRowBytes);
    amx::dpbf16ps<2, 5, 6>();
    if (after) amx::load<6>(b, kBStride);
    amx::dpbf16ps<3, 5, 7>();
    if (!after) return;
    amx::load<7>(b + 32, kBStride);
    amx::load<5>(ap + 16 * kKB, amx::kRowBytes);
  }
}

// Tile registers: C0..C3 = 0..3 (C0 C1 the top 16 rows, C2 C3 the bottom), A = 4, 5, B = 6, 7.
// MT A tiles (row halves) x NT B tiles (column halves).
template <int MT, int NT>
void accumulate(index_t kp, const bf16_t* a, const bf16_t* b, const float* partial, bool first) {
  if (first) {
    amx::zero<0>();
    if (NT == 2) amx::zero<1>();
    if (MT == 2) amx::zero<2>();
    if (MT == 2 && NT == 2) amx::zero<3>();
  } else {
    amx::load<0>(partial, kPartialStride);
    if (NT == 2) amx::load<1>(partial + 16, kPartialStride);
    if (MT == 2) amx::load<2>(partial + 16 * kNR, kPartialStride);
    if (MT == 2 && NT == 2) amx::load<3>(partial + 16 * kNR + 16, kPartialStride);
  }
  if constexpr (MT == 2 && NT == 2) {
    full_chunks(kp / kKB, a, b);
    return;
  }
  for (index_t q = 0; q < kp; q += kKB) {
    const bf16_t* ab = a + q * kMR;  // 32 rows x 32 bf16: two A tiles of 1 KiB
    const bf16_t* bb = b + q * kNR;  // 16 pair rows of 32 columns x 2: 128 bytes each
    amx::load<4>(ab, amx::kRowBytes);
    amx::load<6>(bb, kBStride);
    amx::dpbf16ps<0, 4, 6>();
    if (NT == 2) {
      amx::load<7>(bb + 32, kBStride);
      amx::dpbf16ps<1, 4, 7>();
    }
    if (MT == 2) {
      amx::load<5>(ab + 16 * kKB, amx::kRowBytes);
      amx::dpbf16ps<2, 5, 6>();
    }
  }
}

template <int MT, int NT>
void store_tiles(float* dst) {
  amx::store<0>(dst, kPartialStride);
  if (NT == 2) amx::store<1>(dst + 16, kPartialStride);
  if (MT == 2) amx::store<2>(dst + 16 * kNR, kPartialStride);
  if (MT == 2 && NT == 2) amx::store<3>(dst + 16 * kNR + 16, kPartialStride);
}

// The finished 32 x 32 sums at acc (row stride 32) to C through the fp32 kernels' epilogue.
template <bool kFullN>
void store_c(const float* acc, int mr, int nr, float* c, index_t ldc, const TileStore& st) {
  using V = Avx512;
  RowMask<V> m{V::mask_all(), V::mask_all()};
  if (!kFullN) m = {V::mask_first(nr), V::mask_first(nr - V::kLanes)};
  V::Vec bias0 = V::zero(), bias1 = V::zero();
  if (st.bias) {
    bias0 = load_vec<V, kFullN>(st.bias, m.lo);
    bias1 = load_vec<V, kFullN>(st.bias + V::kLanes, m.hi);
  }
  for (int i = 0; i < mr; ++i) {
    const V::Vec x0 = V::load(acc + i * kNR), x1 = V::load(acc + i * kNR + V::kLanes);
    store_row<V, kFullN>(c + i * ldc, x0, x1, m, st, bias0, bias1);
  }
}

template <int MT, int NT>
void tile(index_t kp, const bf16_t* a, const bf16_t* b, float* partial, bool first, bool last,
          int mr, int nr, float* c, index_t ldc, const TileStore& st) {
  accumulate<MT, NT>(kp, a, b, partial, first);
  if (!last) {
    store_tiles<MT, NT>(partial);
    return;
  }
  alignas(64) float acc[kMR * kNR];
  store_tiles<MT, NT>(acc);
  if (nr == kNR) {
    store_c<true>(acc, mr, nr, c, ldc, st);
  } else {
    store_c<false>(acc, mr, nr, c, ldc, st);
  }
}

void kernel_bf16_amx_32x32(index_t kp, const bf16_t* a, const bf16_t* b, float* partial,
                           bool first, bool last, int mr, int nr, float* c, index_t ldc,
                           const TileStore& st) {
  if (mr > 16) {
    if (nr > 16) {
      tile<2, 2>(kp, a, b, partial, first, last, mr, nr, c, ldc, st);
    } else {
      tile<2, 1>(kp, a, b, partial, first, last, mr, nr, c, ldc, st);
    }
  } else if (nr > 16) {
    tile<1, 2>(kp, a, b, partial, first, last, mr, nr, c, ldc, st);
  } else {
    tile<1, 1>(kp, a, b, partial, first, last, mr, nr, c, ldc, st);
  }
}

}  // namespace

void bf16_amx_tile_product(float* c, const bf16_t* a, const bf16_t* b) {
  amx::ensure_config();
  amx::load<0>(c, amx::kRowBytes);
  amx::load<4>(a, amx::kRowBytes);
  amx::load<6>(b, amx::kRowBytes);
  amx::dpbf16ps<0, 4, 6>();
  amx::store<0>(c, amx::kRowBytes);
}

Bf16KernelInfo bf16_amx_kernel_info() {
  Bf16KernelInfo k;
  k.id = Bf16Kernel::amx;
  k.name = "bf16_amx_32x32";
  k.mr = kMR;
  k.nr = kNR;
  k.kb = kKB;
  // KC: a 384 x 32 B strip (24 KiB) stays in L1 while the unit's A panels stream from L2, but
  // every K panel after the first costs a store and a load of the unit's partial sums. Measured
  // (1 thread): 10% faster than one K panel at 128x784x128 and 256x784x256 (units of 64-256 KiB
  // of sums), 10% slower at 1024^3 (units of 512 KiB), which therefore take KC 1024.
  k.mc = 256;
  k.kc = 384;
  k.kc_big_units = 1024;
  k.nc = 512;
  k.kernel = kernel_bf16_amx_32x32;
  k.pack_a = pack_a_bf16_avx512;
  k.pack_b = pack_b_bf16_avx512;
  k.prepare_thread = amx::ensure_config;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
