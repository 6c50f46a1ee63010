// kernel_int8_amx.cpp on SIMDe's portable AVX-512 intrinsics (test builds with
// FASTMLP_EMULATE_AVX512), compiled with AVX2 flags; its tiles are real or, with
// FASTMLP_EMULATE_AMX, amx_tiles.h's emulated ones.
#include "simde_avx512.h"

#include "gemm/kernel_int8_amx.cpp"
