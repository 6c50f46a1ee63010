// The AMX int8 kernel: a 32 x 32 tile of C as four 16 x 16 int32 tile registers (C0 C1 / C2 C3),
// fed per 64 values of k by two A tiles (16 rows x 64 unsigned bytes of the packed A, q + 128)
// and two B tiles (16 k groups x 16 columns x 4 bytes: the two halves of the strip, row stride
// 128 bytes): 4 tdpbusd per 4 tile loads. Edge tiles of up to 16 rows or columns skip the A or B
// tile they do not need (the packers zero-pad the rest); tiles of 1 to 3 rows go to the VNNI
// kernel, which reads the same layouts and needs no 16-row tile for them. The finished sums go
// through a 4 KiB buffer to the AVX-512 store (correction, dequantization, bias, ReLU). Compiled
// with AVX-512, VNNI and AMX-INT8 flags, or (FASTMLP_EMULATE_AMX) on amx_tiles.h's emulated tiles.
// GCC 12 takes the _mm512_undefined_* pass-through operands of the unmasked intrinsics
// (max_ps, cvtepi32_epi8, ...) for uninitialized reads when inlining them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#if !defined(FASTMLP_EMULATE_AVX512)  // test builds get the intrinsics from SIMDe instead:
#include <immintrin.h>                  // cpp/tests/emulated/kernel_int8_amx_simde.cpp
#endif

#include "gemm/amx_tiles.h"
#include "gemm/kernels_int8.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 32, kNR = 32, kKB = 64;
constexpr index_t kBStride = kNR * 4;  // bytes per k group of a strip
constexpr index_t kSumStride = kNR * sizeof(std::int32_t);

template <int MT, int NT>
void tile(index_t kp, const std::uint8_t* a, index_t lda, const std::int8_t* b, int mr, int nr,
          const Int8Tile& t) {
  amx::zero<0>();
  if (NT == 2) amx::zero<1>();
  if (MT == 2) amx::zero<2>();
  if (MT == 2 && NT == 2) amx::zero<3>();
  const std::uint8_t* a1 = a + 16 * lda;
  for (index_t q = 0; q < kp; q += kKB) {
    const std::int8_t* bq = b + (q / 4) * kBStride;
    amx::load<4>(a + q, lda);
    amx::load<6>(bq, kBStride);
    if (NT == 2) amx::load<7>(bq + 64, kBStride);
    if (MT == 2) amx::load<5>(a1 + q, lda);
    amx::dpbusd<0, 4, 6>();
    if (NT == 2) amx::dpbusd<1, 4, 7>();
    if (MT == 2) amx::dpbusd<2, 5, 6>();
    if (MT == 2 && NT == 2) amx::dpbusd<3, 5, 7>();
  }
  alignas(64) std::int32_t sum[kMR * kNR];
  amx::store<0>(sum, kSumStride);
  if (NT == 2) amx::store<1>(sum + 16, kSumStride);
  if (MT == 2) amx::store<2>(sum + 16 * kNR, kSumStride);
  if (MT == 2 && NT == 2) amx::store<3>(sum + 16 * kNR + 16, kSumStride);
  store_int8_sums_avx512(sum, kNR, mr, nr, t);
}

void kernel_int8_amx_32x32(index_t kp, const std::uint8_t* a, index_t lda, const std::int8_t* b,
                           int mr, int nr, const Int8Tile& t) {
  if (mr > 16) {
    if (nr > 16) {
      tile<2, 2>(kp, a, lda, b, mr, nr, t);
    } else {
      tile<2, 1>(kp, a, lda, b, mr, nr, t);
    }
  } else if (nr > 16) {
    tile<1, 2>(kp, a, lda, b, mr, nr, t);
  } else {
    tile<1, 1>(kp, a, lda, b, mr, nr, t);
  }
}

}  // namespace

void int8_amx_tile_product(std::int32_t* c, const std::uint8_t* a, const std::int8_t* b) {
  amx::ensure_config();
  amx::load<0>(c, amx::kRowBytes);
  amx::load<4>(a, amx::kRowBytes);
  amx::load<6>(b, amx::kRowBytes);
  amx::dpbusd<0, 4, 6>();
  amx::store<0>(c, amx::kRowBytes);
}

Int8KernelInfo int8_amx_kernel_info() {
  const Int8KernelInfo vnni = int8_avx512_kernel_info();
  Int8KernelInfo k;
  k.id = Int8Kernel::amx;
  k.name = "int8_amx_32x32";
  k.mr = kMR;
  k.nr = kNR;
  k.kb = kKB;
  k.a_offset = 128;
  k.mc = 128;
  k.kernel = kernel_int8_amx_32x32;
  k.quantize_rows = quantize_rows_avx512;
  k.prepare_thread = amx::ensure_config;
  k.small_rows = 4;
  k.small_kernel = vnni.kernel;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
