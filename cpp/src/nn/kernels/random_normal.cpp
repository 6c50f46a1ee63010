// Box-Muller on Philox words. The transform is one vectorizable loop built for baseline x86-64
// and for AVX2 without FMA (isa_variants.h), with polynomial log/sin/cos, so both builds round
// every operation alike: the noise is bitwise the same whatever FASTMLP_ISA selects.
#include "nn/kernels/random_normal.h"

#include <cmath>
#include <cstring>

#include "nn/kernels/fastmath.h"
#include "nn/kernels/isa_variants.h"
#include "nn/kernels/nn_kernels.h"

namespace fastmlp {
namespace detail {
namespace {

// ln(u) for u in [2^-24, 1] (Cephes logf: u = m * 2^e, m in [sqrt(1/2), sqrt(2)), a degree-9
// polynomial in m - 1; relative error ~1e-7).
FASTMLP_INLINE float log_unit(float u) {
  std::int32_t i;
  std::memcpy(&i, &u, sizeof i);
  float e = static_cast<float>(((i >> 23) & 0xff) - 126);
  float m = fastmath::bits_to_float((i & 0x7fffff) | 0x3f000000);  // [0.5, 1)
  const bool low = m < 0.707106781186547524f;
  e = low ? e - 1.0f : e;
  m = low ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  float y = p * m * z;
  y = y + e * -2.12194440e-4f;
  y = y - 0.5f * z;
  return (m + y) + e * 0.693359375f;
}

// sin and cos of phi in [0, pi/2): Taylor series to phi^13 / phi^12 (truncation < 6e-8).
FASTMLP_INLINE void sincos_quarter(float phi, float* s, float* c) {
  const float q = phi * phi;
  float ps = 1.0f / 6227020800.0f;
  ps = ps * q - 1.0f / 39916800.0f;
  ps = ps * q + 1.0f / 362880.0f;
  ps = ps * q - 1.0f / 5040.0f;
  ps = ps * q + 1.0f / 120.0f;
  ps = ps * q - 1.0f / 6.0f;
  *s = phi + phi * q * ps;
  float pc = 1.0f / 479001600.0f;
  pc = pc * q - 1.0f / 3628800.0f;
  pc = pc * q + 1.0f / 40320.0f;
  pc = pc * q - 1.0f / 720.0f;
  pc = pc * q + 1.0f / 24.0f;
  pc = pc * q - 0.5f;
  *c = 1.0f + q * pc;
}

// z[2p], z[2p + 1] from words w[2p] (u in (0, 1]: radius sqrt(-2 ln u)) and w[2p + 1] (angle:
// the quadrant from its top 2 bits, phi in [0, pi/2) from the next 22).
FASTMLP_AVX2_VARIANT(void, box_muller, (const std::uint32_t* w, index_t pairs, float* z),
                     (w, pairs, z)) {
  constexpr float kUnit = 1.0f / 16777216.0f;             // 2^-24
  constexpr float kPhi = 1.57079632679489661923f / 4194304.0f;  // (pi / 2) / 2^22
  for (index_t p = 0; p < pairs; ++p) {
    const std::uint32_t a = w[2 * p], b = w[2 * p + 1];
    const float u = static_cast<float>(static_cast<std::int32_t>((a >> 8) + 1)) * kUnit;
    const float r = std::sqrt(-2.0f * log_unit(u));
    const std::int32_t quadrant = static_cast<std::int32_t>(b >> 30);
    const float phi = static_cast<float>(static_cast<std::int32_t>((b >> 8) & 0x3fffff)) * kPhi;
    float s, c;
    sincos_quarter(phi, &s, &c);
    // (cos, sin) of quadrant * pi/2 + phi
    const float cq = quadrant == 0 ? c : quadrant == 1 ? -s : quadrant == 2 ? -c : s;
    const float sq = quadrant == 0 ? s : quadrant == 1 ? c : quadrant == 2 ? -s : -c;
    z[2 * p] = r * cq;
    z[2 * p + 1] = r * sq;
  }
}

}  // namespace

void normal_groups(const Philox& rng, std::uint64_t step, index_t g0, index_t g1, float* z) {
  std::uint32_t words[4 * kNormalBlockGroups];
  const auto& kernels = nn_kernels();
  for (index_t g = g0; g < g1; g += kNormalBlockGroups) {
    const index_t end = g + kNormalBlockGroups < g1 ? g + kNormalBlockGroups : g1;
    kernels.philox_words(rng, step, g, end, words);
    box_muller(words, 2 * (end - g), z + 4 * (g - g0));
  }
}

}  // namespace detail
}  // namespace fastmlp
