// Portable bf16 kernel, 4 x 16 over bf16 pairs (KB = 2): what runs where neither AMX nor
// AVX512-BF16 does, and the numerics reference of the AVX512-BF16 kernel. Each element is one
// float32 chain over K in pair order, adding the odd product of a pair before the even one, as
// vdpbf16ps does; a product of two bf16 values is exact in float32, so a contracted FMA gives the
// same bits. The results equal the AVX512-BF16 kernel's bit for bit unless a partial sum is
// subnormal (vdpbf16ps flushes it to zero; here only MXCSR's FTZ/DAZ would).
#include <cstdint>
#include <cstring>

#include "gemm/kernels_bf16.h"
#include "gemm/store_row.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 16;

void kernel_bf16_generic_4x16(index_t kp, const bf16_t* a, const bf16_t* b, float* partial,
                              bool first, bool last, int mr, int nr, float* c, index_t ldc,
                              const TileStore& st) {
  float acc[kMR][kNR];
  for (int i = 0; i < kMR; ++i) {
    for (int j = 0; j < kNR; ++j) acc[i][j] = first ? 0.0f : partial[i * kNR + j];
  }
  for (index_t p = 0; p < kp; p += 2) {
    // The pair row (pack_b_bf16_planar: even k, then odd k) and the MR pairs of A widened to
    // float32 by integer shifts, then one vector pass per product: written so, GCC keeps the
    // accumulators in registers (26 GFLOP/s on one core, against 7 with from_bf16 per element).
    std::uint32_t bits[2 * kNR], abits[2 * kMR];
    for (int j = 0; j < 2 * kNR; ++j) bits[j] = static_cast<std::uint32_t>(b[p * kNR + j]) << 16;
    for (int j = 0; j < 2 * kMR; ++j) abits[j] = static_cast<std::uint32_t>(a[p * kMR + j]) << 16;
    float bf[2 * kNR], af[2 * kMR];
    std::memcpy(bf, bits, sizeof bf);
    std::memcpy(af, abits, sizeof af);
#pragma GCC unroll 4
    for (int i = 0; i < kMR; ++i) {
#pragma omp simd
      for (int j = 0; j < kNR; ++j) acc[i][j] += af[2 * i + 1] * bf[kNR + j];
#pragma omp simd
      for (int j = 0; j < kNR; ++j) acc[i][j] += af[2 * i] * bf[j];
    }
  }
  if (!last) {
    for (int i = 0; i < kMR; ++i) {
      for (int j = 0; j < kNR; ++j) partial[i * kNR + j] = acc[i][j];
    }
    return;
  }
  for (int i = 0; i < mr; ++i) store_row_portable(c + i * ldc, acc[i], nr, st);
}

}  // namespace

Bf16KernelInfo bf16_generic_kernel_info() {
  Bf16KernelInfo k;
  k.id = Bf16Kernel::generic;
  k.name = "bf16_generic_4x16";
  k.mr = kMR;
  k.nr = kNR;
  k.kb = 2;
  // a 256 x 16 B panel (8 KiB) stays in L1 while the A block (128 x 256, 64 KiB) streams from L2
  k.mc = 128;
  k.kc = 256;
  k.nc = 1024;
  k.kernel = kernel_bf16_generic_4x16;
  k.pack_a = pack_a_bf16;
  k.pack_b = pack_b_bf16_planar;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
