// The AVX-512 intrinsics on SIMDe's portable code, for the test builds with FASTMLP_EMULATE_AVX512
// (AVX-512 kernels checked on CPUs without AVX-512): included by each emulated kernel's wrapper
// before the kernel's own source.
#pragma once
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

// The two masked moves SIMDe 0.7 lacks, lane by lane: masked-off lanes never touch memory.
static inline simde__m512 emulated_maskz_loadu_ps(simde__mmask16 k, const void* p) {
  float lanes[16] = {};
  for (int i = 0; i < 16; ++i) {
    if (k & (1u << i)) lanes[i] = static_cast<const float*>(p)[i];
  }
  return simde_mm512_loadu_ps(lanes);
}
static inline void emulated_mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 v) {
  float lanes[16];
  simde_mm512_storeu_ps(lanes, v);
  for (int i = 0; i < 16; ++i) {
    if (k & (1u << i)) static_cast<float*>(p)[i] = lanes[i];
  }
}
#define _mm512_maskz_loadu_ps emulated_maskz_loadu_ps
#define _mm512_mask_storeu_ps emulated_mask_storeu_ps
