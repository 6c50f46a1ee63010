// The AVX-VNNI int8 kernel (256-bit vpdpbusd, kernel_int8_avx2.h). Compiled with AVX2 and
// AVX-VNNI flags, or with the instruction emulated (FASTMLP_EMULATE_AVX512 test builds:
// cpp/tests/emulated/kernel_int8_avxvnni_simde.cpp).
#if !defined(FASTMLP_EMULATE_AVX512)
#include <immintrin.h>
#endif
#define FASTMLP_INT8_AVXVNNI 1

#include "gemm/kernel_int8_avx2.h"

namespace fastmlp {
namespace gemm {

Int8KernelInfo int8_avxvnni_kernel_info() {
  return info_256<AvxVnniDot>(Int8Kernel::avx_vnni, "int8_avxvnni_4x16");
}

}  // namespace gemm
}  // namespace fastmlp
