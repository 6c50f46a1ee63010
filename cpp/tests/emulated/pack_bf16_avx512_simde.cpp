// pack_bf16_avx512.cpp on SIMDe's portable AVX-512 and AVX512-BF16 intrinsics (test builds with
// FASTMLP_EMULATE_AVX512), compiled with AVX2 flags, so the bf16 kernels run on any x86-64 CPU.
#include "simde_avx512.h"

#include "gemm/pack_bf16_avx512.cpp"
