// AVX-512 kernels: the 12 x 32 tile (24 zmm accumulators, two B vectors and one broadcast of A
// per step: 27 of 32 registers), the 1 x 128 row kernel, and this ISA's entry of the kernel table.
// Compiled alone with -mavx512f/bw/dq/vl; only called when cpuid and XCR0 say so.
#if !defined(FASTMLP_EMULATE_AVX512)  // test builds get the intrinsics from SIMDe instead:
#include <immintrin.h>                  // cpp/tests/emulated/kernel_avx512_simde.cpp
#endif

#include "gemm/kernels.h"
#include "gemm/row_kernel.h"
#include "gemm/tile_kernel.h"
#include "gemm/vec_avx512.h"

namespace fastmlp {
namespace gemm {

KernelInfo avx512_kernel_info() {
  KernelInfo k;
  k.isa = Isa::avx512;
  k.name = "avx512_12x32";
  k.mr = 12;
  k.nr = 2 * Avx512::kLanes;
  k.kernel = tile_kernel<Avx512, 12>;
  k.row4 = row_kernel<Avx512>;
  k.copies_b = Avx512::kCopiesB;
  // AVX-512 CPUs all have AVX2: the AVX2 B packs serve both (its A pack is 6 rows high only)
  k.pack_b_rows = pack_b_rows_avx2;
  k.pack_b_trans = pack_b_trans_avx2;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
