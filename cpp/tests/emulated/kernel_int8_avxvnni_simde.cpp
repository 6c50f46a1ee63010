// kernel_int8_avxvnni.cpp with AVX-VNNI's 256-bit vpdpbusd as SIMDe's (exact: integer sums), the
// other intrinsics native AVX2, for test builds with FASTMLP_EMULATE_AVX512 on CPUs without
// AVX-VNNI.
#include "simde_avx512.h"

#define _mm256_dpbusd_avx_epi32 simde_mm256_dpbusd_epi32

#include "gemm/kernel_int8_avxvnni.cpp"
