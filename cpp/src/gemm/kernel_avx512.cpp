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

// The AVX2 A pack is 6 rows high only: A goes through the portable pack_a.
KernelInfo avx512_kernel_info() { return x86_kernel_info<Avx512, 12>(Isa::avx512, "avx512_12x32"); }

}  // namespace gemm
}  // namespace fastmlp
