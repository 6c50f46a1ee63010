// Building blocks of the optimizers' element loops (optimizer_rules.cpp).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "nn/kernels/isa_variants.h"
#include "nn/optimizers/optimizer_base.h"

namespace fastmlp {
namespace detail {

// The loops are FASTMLP_INLINE: they must be inlined into the two builds of each entry point
// (sgd_update, adam_update, ...; isa_variants.h): an out-of-line template instance is compiled
// once, for the baseline target.

// The raw gradient, for steps with no clipvalue and no clipnorm scaling: GradIn::at would return
// the same values (g * 1, clamped to +-inf) at the cost of three more operations per element.
struct PlainGrad {
  const float* g;
  float at(index_t i) const { return g[i]; }
};

inline bool is_plain(const GradIn& g) {
  return g.scale == 1.0f && g.clip == std::numeric_limits<float>::infinity();
}

// ok ? a : b, by bit masks: written as a select, GCC turns `w[i] = ok ? a : w[i]` into a masked
// store (VMASKMOVPS, slow on many cores).
inline float pick(bool ok, float a, float b) {
  std::uint32_t ua, ub;
  std::memcpy(&ua, &a, 4);
  std::memcpy(&ub, &b, 4);
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(ok), r = (ua & mask) | (ub & ~mask);
  float out;
  std::memcpy(&out, &r, 4);
  return out;
}

// The first moment as Keras (and PyTorch's lerp) update it, m + (g - m) * c1, unless g - m
// overflows (|g| and |m| near FLT_MAX with opposite signs), which made m -inf and then NaN: then
// the convex form m * b1 + g * c1, which cannot overflow. The same bits in every other case.
FASTMLP_INLINE float first_moment(float m, float g, float b1, float c1) {
  const float d = g - m;
  return std::fabs(d) <= std::numeric_limits<float>::max() ? m + d * c1 : m * b1 + g * c1;
}

// x * 0 is 0 for finite x and NaN for Inf and NaN (no -ffast-math here, so it is not folded);
// summed as floats, which keeps the loops 8 wide under AVX2 (a bool/int reduction did not).
inline float zero_if_finite(float x) { return x * 0.0f; }

// beta_1, 1 - beta_1, beta_2, 1 - beta_2 as the loops use them
struct Betas {
  float b1, c1, b2, c2;
};
inline Betas betas(const OptimizerConfig& c) {
  return {static_cast<float>(c.beta_1), static_cast<float>(1.0 - c.beta_1),
          static_cast<float>(c.beta_2), static_cast<float>(1.0 - c.beta_2)};
}

}  // namespace detail
}  // namespace fastmlp
