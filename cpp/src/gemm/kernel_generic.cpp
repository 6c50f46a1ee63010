// Portable kernel, 4 x 16: plain loops the compiler vectorizes with whatever SIMD the baseline
// target has. Used where no x86 kernel applies, and as the path FASTMLP_ISA=generic forces for
// testing. Not an instantiation of tile_kernel.h: its results are these loops as the compiler
// vectorizes them, down to which of two NaN operands an add returns (a matter of register
// allocation); as an instantiation over 8-float vectors it returned the other one in some cases.
#include "gemm/kernels.h"
#include "gemm/store_row.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 16;

// kFullN: all 16 columns exist in every row of B, so the inner loop has a constant trip count.
template <bool kFullN>
void tile(index_t k, const float* a, index_t rsa, index_t csa, const float* b, index_t rsb,
          int mr, int nr, float* c, index_t ldc, const TileStore& st) {
  float acc[kMR][kNR] = {};
  const int cols = kFullN ? kNR : nr;
  for (index_t p = 0; p < k; ++p) {
    const float* brow = b + p * rsb;
    for (int i = 0; i < kMR; ++i) {
      if (i >= mr) break;
      const float av = a[i * rsa + p * csa];
      for (int j = 0; j < cols; ++j) acc[i][j] += av * brow[j];
    }
  }
  for (int i = 0; i < mr; ++i) store_row_portable(c + i * ldc, acc[i], nr, st);
}

void kernel_generic_4x16(index_t k, const float* a, index_t rsa, index_t csa, const float* b,
                         index_t rsb, int mr, int nr, float* c, index_t ldc,
                         const TileStore& st) {
  // zero-padded packed B can be read at full width even in an edge tile
  if (nr == kNR || st.b_padded) {
    tile<true>(k, a, rsa, csa, b, rsb, mr, nr, c, ldc, st);
  } else {
    tile<false>(k, a, rsa, csa, b, rsb, mr, nr, c, ldc, st);
  }
}

}  // namespace

KernelInfo generic_kernel_info() {
  KernelInfo k;
  k.isa = Isa::generic;
  k.name = "generic_4x16";
  k.mr = kMR;
  k.nr = kNR;
  k.kernel = kernel_generic_4x16;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
