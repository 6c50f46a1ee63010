// kernel_bf16_avx512.cpp on SIMDe's portable AVX-512 intrinsics (test builds with
// FASTMLP_EMULATE_AVX512), compiled with AVX2 flags, so the kernel runs on any x86-64 CPU.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "simde_avx512.h"

// vdpbf16ps as the instruction computes it (measured on Sapphire Rapids; the SDM's pseudocode):
// per lane, the odd product of the pair, then the even one, each an FMA rounded to nearest even,
// subnormal inputs read as zero and subnormal results flushed to zero. SIMDe 0.7 adds the two
// products first, which gives other bits.
static inline float emulated_daz(float x) {
  return std::fabs(x) < 1.17549435e-38f ? std::copysign(0.0f, x) : x;
}
static inline float emulated_bf16(const std::uint16_t* p) {
  const std::uint32_t u = static_cast<std::uint32_t>(*p) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return emulated_daz(x);
}
static inline simde__m512 emulated_dpbf16_ps(simde__m512 src, simde__m512bh a, simde__m512bh b) {
  float acc[16];
  std::uint16_t x[32], y[32];
  std::memcpy(acc, &src, sizeof acc);
  std::memcpy(x, &a, sizeof x);
  std::memcpy(y, &b, sizeof y);
  for (int j = 0; j < 16; ++j) {
    float t = emulated_daz(acc[j]);
    t = emulated_daz(std::fma(emulated_bf16(x + 2 * j + 1), emulated_bf16(y + 2 * j + 1), t));
    t = emulated_daz(std::fma(emulated_bf16(x + 2 * j), emulated_bf16(y + 2 * j), t));
    acc[j] = t;
  }
  simde__m512 r;
  std::memcpy(&r, acc, sizeof r);
  return r;
}
#undef _mm512_dpbf16_ps
#define _mm512_dpbf16_ps emulated_dpbf16_ps

#include "gemm/kernel_bf16_avx512.cpp"
