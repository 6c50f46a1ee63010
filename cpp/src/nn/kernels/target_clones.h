// FASTMLP_ELEMENTWISE_CLONES: marks a baseline-code loop function to be built twice, for AVX2 and
// for the default x86-64 target, with the version picked at load time (GCC target_clones). For the
// simple element-wise and column loops of the optimizers and BatchNormalization, where AVX2 does 8
// operations per instruction instead of 4. "avx2" without "fma": no contraction of a * b + c, so
// both versions round every operation alike and give bitwise identical results on any CPU (the
// heavier kernels with transcendental functions are per-ISA builds instead: nn_kernels.h).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FASTMLP_ELEMENTWISE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FASTMLP_ELEMENTWISE_CLONES
#endif
