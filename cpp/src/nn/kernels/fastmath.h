// Branch-free float approximations of exp, expm1, log1p, tanh, sigmoid and erfc that GCC inlines
// into `#pragma omp simd` loops (libm calls would keep those loops scalar). Each keeps a relative
// error of a few float ulps (< 1e-6) over the whole float range, including the tails that matter
// for activations (sigmoid(-80), gelu(-8), softplus(-80)); and a double exp for the losses.
#pragma once
#include <cstdint>
#include <cstring>

#include "nn/kernels/isa_variants.h"  // FASTMLP_INLINE

namespace fastmlp {
namespace fastmath {
// Internal linkage: the per-ISA kernel builds (nn_kernels_*.cpp) include this header with different
// target flags, and shared inline definitions would let the linker pick, say, the AVX2 copy of a
// function for a call from baseline code.
namespace {

inline float bits_to_float(std::int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

// Horner's rule, highest coefficient first: horner(x, a, b, c) = (a * x + b) * x + c, each step
// rounded as written. Always inlined, so that `omp simd` loops keep vectorizing through it.
template <class T>
FASTMLP_INLINE T horner(T, T p) {
  return p;
}
template <class T, class... C>
FASTMLP_INLINE T horner(T x, T p, T c, C... rest) {
  return horner(x, p * x + c, rest...);
}

// exp(x): x = n*ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r (Cephes expf), then
// 2^n applied as two factors so n can reach -150 (denormals) and 128 without overflowing the
// exponent field. Saturates to +inf above ~88.72 and to 0 below ~-103.9; NaN gives NaN.
inline float exp(float x) {
  const float hi = 88.7228391f, lo = -103.9720840f;
  // NaN takes the `lo` branch so the float->int conversion below stays defined.
  const float xc = x > hi ? hi : (x >= lo ? x : lo);
  // Round to nearest with the 1.5*2^23 trick: roundf does not vectorize on baseline x86-64.
  const float nf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - nf * 0.693359375f;  // ln2 split in two for an exact first product
  r = r - nf * -2.12194440e-4f;
  const float p = horner(r, 1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                         1.6666665459e-1f, 5.0000001201e-1f);
  const float e = p * r * r + r + 1.0f;
  const std::int32_t n = static_cast<std::int32_t>(nf);
  const std::int32_t n1 = n / 2, n2 = n - n1;
  const float s1 = bits_to_float((n1 + 127) << 23), s2 = bits_to_float((n2 + 127) << 23);
  float y = e * s1 * s2;
  y = x > hi ? __builtin_inff() : y;
  return x >= lo ? y : (x < lo ? 0.0f : x);  // underflow to 0; NaN propagates
}

// exp(x) in double to within about 2 ulp, for x <= 709 (softmax's shifted logits are <= 0),
// branch-free so that `omp simd` loops vectorize it: the loss's libm calls (~14 ns each) were most
// of a 32 x 10 batch's loss. x = n*ln2 + r with |r| <= ln2/2 (n read from the bits of a
// 1.5*2^52-shifted sum), a degree-13 Taylor polynomial for e^r (truncation < 1e-17) and 2^n built
// in the exponent field. Returns 0 below -708.39, where 2^n would be subnormal (a probability
// under 1e-307 that no float result can show); NaN gives NaN.
inline double exp_double(double x) {
  const double lo = -708.3964185322641;
  const double xc = x >= lo ? x : lo;  // NaN takes `lo`: the integer steps stay defined
  const double shift = 6755399441055744.0;  // 1.5 * 2^52
  const double t = xc * 1.4426950408889634 + shift;
  const double nf = t - shift;
  double r = xc - nf * 6.93147180369123816490e-01;  // ln2 in two parts: nf * high is exact
  r = r - nf * 1.90821492927058770002e-10;
  const double p = horner(r, 1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                          1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
                          1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0);
  std::int64_t tb, sb;
  std::memcpy(&tb, &t, sizeof tb);
  sb = (tb - 0x4338000000000000LL + 1023) << 52;  // t's low bits hold n
  double scale;
  std::memcpy(&scale, &sb, sizeof scale);
  const double y = p * scale;
  return x >= lo ? y : (x < lo ? 0.0 : x);  // underflow to 0; NaN propagates
}

// exp(x) - 1 without cancellation near 0: Taylor polynomial for |x| < 0.5, exp(x) - 1 beyond.
inline float expm1(float x) {
  const float p = horner(x, 1.0f / 40320.0f, 1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f,
                         1.0f / 24.0f, 1.0f / 6.0f, 0.5f);
  const float small = p * x * x + x;
  const float ax = x < 0.0f ? -x : x;
  return ax < 0.5f ? small : exp(x) - 1.0f;
}

// log1p(u) for u in [0, 1]: 2*atanh(s) with s = u / (2 + u) in [0, 1/3], odd series to s^17.
inline float log1p_unit(float u) {
  const float s = u / (2.0f + u), z = s * s;
  const float p = horner(z, 1.0f / 17.0f, 1.0f / 15.0f, 1.0f / 13.0f, 1.0f / 11.0f, 1.0f / 9.0f,
                         1.0f / 7.0f, 1.0f / 5.0f, 1.0f / 3.0f);
  return 2.0f * (s + s * z * p);
}

// 1 / (1 + exp(-x)); exact limits 0 and 1 at +-inf, relative accuracy kept in the lower tail.
inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

// tanh: odd minimax polynomial for |x| < 0.625 (Cephes tanhf), 1 - 2/(e^{2|x|} + 1) beyond.
inline float tanh(float x) {
  const float ax = x < 0.0f ? -x : x, z = x * x;
  const float p = horner(z, -5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f,
                         1.33314422036e-1f, -3.33332819422e-1f);
  const float small = p * z * x + x;
  const float big = 1.0f - 2.0f / (exp(2.0f * ax) + 1.0f);
  const float sbig = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : sbig;
}

// erfc(x) for x >= 0 (Numerical Recipes erfcc, Chebyshev fit with relative error < 1.2e-7 for
// all x >= 0), so tails such as Phi(-8) keep their relative accuracy.
inline float erfc_nonneg(float x) {
  const float t = 1.0f / (1.0f + 0.5f * x);
  const float p = horner(t, 0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
                         -0.18628806f, 0.09678418f, 0.37409196f, 1.00002368f, -1.26551223f);
  return t * exp(p - x * x);
}

}  // namespace
}  // namespace fastmath
}  // namespace fastmlp
