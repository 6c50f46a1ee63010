// kernel_avx512.cpp for CPUs without AVX-512 (test builds with FASTMLP_EMULATE_AVX512): compiled
// with AVX2 flags, with SIMDe's portable implementations of the AVX-512 intrinsics, so that the
// kernel's results (masks, edge tiles, epilogue) can be checked on any x86-64 CPU.
#include "simde_avx512.h"

#include "gemm/kernel_avx512.cpp"
