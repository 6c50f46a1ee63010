// kernel_int8_avx512.cpp on SIMDe's portable AVX-512 and AVX512-VNNI intrinsics (test builds with
// FASTMLP_EMULATE_AVX512), compiled with AVX2 flags, so the kernel runs on any x86-64 CPU.
#include "simde_avx512.h"

#include "gemm/kernel_int8_avx512.cpp"
