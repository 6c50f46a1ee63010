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
  KernelInfo k = x86_kernel_info<Avx2, 6>(Isa::avx2, "avx2_6x16");
  k.pack_a_rows = pack_a_rows_avx2;  // 6-wide panels: this kernel's only
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
