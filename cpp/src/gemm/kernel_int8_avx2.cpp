// The AVX2 int8 kernel (vpmaddubsw + vpmaddwd, kernel_int8_avx2.h). Compiled with AVX2 flags.
#include <immintrin.h>

#include "gemm/kernel_int8_avx2.h"

namespace fastmlp {
namespace gemm {

Int8KernelInfo int8_avx2_kernel_info() {
  return info_256<Avx2Dot>(Int8Kernel::avx2, "int8_avx2_4x16");
}

}  // namespace gemm
}  // namespace fastmlp
