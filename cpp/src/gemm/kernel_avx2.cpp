// AVX2 + FMA kernels: the 6 x 16 tile (twelve ymm accumulators, two B vectors and one broadcast
// of A per step: 15 of 16 registers), the 1 x 64 row kernel, and this ISA's entry of the kernel
// table with its packers (pack_avx2.cpp). Compiled alone with -mavx2 -mfma; only called when
// cpuid says so.
#include "gemm/kernels.h"
#include "gemm/row_kernel.h"
#include "gemm/tile_kernel.h"
#include "gemm/vec_avx2.h"

namespace fastmlp {
namespace gemm {

KernelInfo avx2_kernel_info() {
  KernelInfo k;
  k.isa = Isa::avx2;
  k.name = "avx2_6x16";
  k.mr = 6;
  k.nr = 2 * Avx2::kLanes;
  k.kernel = tile_kernel<Avx2, 6>;
  k.row4 = row_kernel<Avx2>;
  k.copies_b = Avx2::kCopiesB;
  k.pack_a_rows = pack_a_rows_avx2;  // 6-wide panels: this kernel's only
  k.pack_b_rows = pack_b_rows_avx2;
  k.pack_b_trans = pack_b_trans_avx2;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
