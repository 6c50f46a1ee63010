// The AVX-512 intrinsics on SIMDe's portable code, for the test builds with FASTMLP_EMULATE_AVX512
// (AVX-512 kernels checked on CPUs without AVX-512): included by each emulated kernel's wrapper
// before the kernel's own source.
#pragma once
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <climits>
#include <cmath>
#include <cstdint>

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
static inline void emulated_mask_storeu_epi32(void* p, simde__mmask16 k, simde__m512i v) {
  int lanes[16];
  simde_mm512_storeu_si512(lanes, v);
  for (int i = 0; i < 16; ++i) {
    if (k & (1u << i)) static_cast<int*>(p)[i] = lanes[i];
  }
}
// SIMDe 0.7 has no alias for this conversion either: round to nearest as the instruction does
// (an int32 converts to the nearest float, ties to even, which the C++ conversion also does).
static inline simde__m512 emulated_cvtepi32_ps(simde__m512i v) {
  int lanes[16];
  float out[16];
  simde_mm512_storeu_si512(lanes, v);
  for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(lanes[i]);
  return simde_mm512_loadu_ps(out);
}
// vcvtps2dq rounds by MXCSR (nearest, ties to even, by default: nearbyint); out-of-range and
// NaN give INT32_MIN, the "integer indefinite" value.
static inline simde__m512i emulated_cvtps_epi32(simde__m512 v) {
  float lanes[16];
  int out[16];
  simde_mm512_storeu_ps(lanes, v);
  for (int i = 0; i < 16; ++i) {
    const float r = std::nearbyint(lanes[i]);
    out[i] = (r >= -2147483648.0f && r < 2147483648.0f) ? static_cast<int>(r) : INT32_MIN;
  }
  return simde_mm512_loadu_si512(out);
}
// vpmovdb: each int32 truncated to its low byte.
static inline simde__m128i emulated_cvtepi32_epi8(simde__m512i v) {
  int lanes[16];
  signed char out[16];
  simde_mm512_storeu_si512(lanes, v);
  for (int i = 0; i < 16; ++i) out[i] = static_cast<signed char>(lanes[i] & 0xff);
  return simde_mm_loadu_si128(out);
}
#define _mm512_cvtps_epi32 emulated_cvtps_epi32
#define _mm512_cvtepi32_epi8 emulated_cvtepi32_epi8
#define _mm512_maskz_loadu_ps emulated_maskz_loadu_ps
#define _mm512_mask_storeu_ps emulated_mask_storeu_ps
#define _mm512_mask_storeu_epi32 emulated_mask_storeu_epi32
#define _mm512_cvtepi32_ps emulated_cvtepi32_ps
