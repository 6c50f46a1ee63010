// The body of one build of the element-wise kernels (see nn_kernels.h). Included by exactly one
// translation unit per instruction set, after defining FASTMLP_NN_ISA (that build's namespace).
// The element loops are `#pragma omp simd` loops over lambdas, vectorized with whatever ISA the TU
// is built for; transcendental functions come from fastmath.h (libm calls keep loops scalar).
// Everything here has internal linkage or lives in the build's own namespace, and no std:: helper
// (std::max, std::isfinite) is called: their inline copies would be shared between builds.
#ifndef FASTMLP_NN_ISA
#error "define FASTMLP_NN_ISA before including nn_kernels_impl.h"
#endif

#include <cstdint>
#include <cstring>

#include "fastmlp/initializers.h"
#include "nn/kernels/fastmath.h"
#include "nn/kernels/nn_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace fastmlp {
namespace detail {
namespace FASTMLP_NN_ISA {
namespace {

namespace fm = fastmath;

// SELU constants (Klambauer et al. 2017), as in Keras.
constexpr float kSeluAlpha = 1.67326324235437728481704299f;
constexpr float kSeluScale = 1.05070098735548049341933498f;
constexpr float kSqrt2OverPi = 0.79788456080286535587989211f;
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// The blocks are x (in) and y (out) for the forward maps, src, g (in) and out for the derivatives;
// in and out may be the same block (in place) but must not otherwise overlap.
struct Rows {
  index_t r0, r1, cols, ld;
};

template <class F>
void map_rows(const float* x, float* y, Rows b, F f) {
  for (index_t r = b.r0; r < b.r1; ++r) {
    const float* in = x + r * b.ld;
    float* out = y + r * b.ld;
#pragma omp simd
    for (index_t c = 0; c < b.cols; ++c) out[c] = f(in[c]);
  }
}

// out[i] = g[i] * d(src[i]) where src is the pre-activation or the output, whichever d needs.
template <class D>
void scale_rows(const float* src, const float* grad, float* out, Rows b, D d) {
  for (index_t r = b.r0; r < b.r1; ++r) {
    const float* s = src + r * b.ld;
    const float* g = grad + r * b.ld;
    float* o = out + r * b.ld;
#pragma omp simd
    for (index_t c = 0; c < b.cols; ++c) o[c] = g[c] * d(s[c]);
  }
}

void softmax_rows(const float* x, float* y, Rows b) {
  for (index_t r = b.r0; r < b.r1; ++r) {
    const float* in = x + r * b.ld;
    float* out = y + r * b.ld;
    float mx = -__builtin_inff();
#pragma omp simd reduction(max : mx)
    for (index_t c = 0; c < b.cols; ++c) mx = in[c] > mx ? in[c] : mx;
    if (!__builtin_isfinite(mx)) mx = 0.0f;  // all -inf (or an inf) row: let inf/nan propagate
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (index_t c = 0; c < b.cols; ++c) {
      out[c] = fm::exp(in[c] - mx);
      sum += out[c];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (index_t c = 0; c < b.cols; ++c) out[c] *= inv;
  }
}

// Jacobian-vector product of softmax per row: out <- y * (g - <g, y>).
void softmax_backward_rows(const float* y, const float* grad, float* out, Rows b) {
  for (index_t r = b.r0; r < b.r1; ++r) {
    const float* yr = y + r * b.ld;
    const float* g = grad + r * b.ld;
    float* o = out + r * b.ld;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (index_t c = 0; c < b.cols; ++c) dot += g[c] * yr[c];
#pragma omp simd
    for (index_t c = 0; c < b.cols; ++c) o[c] = yr[c] * (g[c] - dot);
  }
}

// Phi(x), the standard normal CDF, with relative accuracy in the lower tail.
inline float normal_cdf(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float tail = 0.5f * fm::erfc_nonneg(ax * kInvSqrt2);
  return x < 0.0f ? tail : 1.0f - tail;
}

void activation_forward(const Activation& act, const float* x, float* y, index_t r0, index_t r1,
                        index_t cols, index_t ld) {
  const Rows b{r0, r1, cols, ld};
  const float a = act.param;
  switch (act.kind) {
    case ActivationKind::linear:
      return map_rows(x, y, b, [](float v) { return v; });
    case ActivationKind::relu:
      return map_rows(x, y, b, [](float v) { return v > 0.0f ? v : 0.0f; });
    case ActivationKind::leaky_relu:
      return map_rows(x, y, b, [a](float v) { return v > 0.0f ? v : a * v; });
    case ActivationKind::elu:
      return map_rows(x, y, b,
                      [a](float v) { return v > 0.0f ? v : a * fm::expm1(v); });
    case ActivationKind::selu:
      return map_rows(x, y, b, [](float v) {
        return kSeluScale * (v > 0.0f ? v : kSeluAlpha * fm::expm1(v));
      });
    case ActivationKind::gelu:
      return map_rows(x, y, b, [](float v) { return v * normal_cdf(v); });
    case ActivationKind::gelu_tanh:
      // 0.5 * (1 + tanh(u)) == sigmoid(2u): no cancellation for large negative inputs.
      return map_rows(x, y, b, [](float v) {
        return v * fm::sigmoid(2.0f * kSqrt2OverPi * (v + kGeluCubic * v * v * v));
      });
    case ActivationKind::sigmoid:
      return map_rows(x, y, b, [](float v) { return fm::sigmoid(v); });
    case ActivationKind::hard_sigmoid:
      return map_rows(x, y, b, [](float v) {
        const float t = v + 3.0f, lo = t > 0.0f ? t : 0.0f;
        return (lo < 6.0f ? lo : 6.0f) / 6.0f;
      });
    case ActivationKind::tanh:
      return map_rows(x, y, b, [](float v) { return fm::tanh(v); });
    case ActivationKind::softplus:
      return map_rows(x, y, b, [](float v) {
        const float av = v < 0.0f ? -v : v;
        return (v > 0.0f ? v : 0.0f) + fm::log1p_unit(fm::exp(-av));
      });
    case ActivationKind::silu:
      return map_rows(x, y, b, [](float v) { return v * fm::sigmoid(v); });
    case ActivationKind::softmax:
      return softmax_rows(x, y, b);
  }
}

// Derivatives from the output y = f(x) (needs_preactivation() == false).
void backward_from_output(const Activation& act, const float* y, const float* g, float* o,
                          Rows b) {
  const float a = act.param;
  switch (act.kind) {
    case ActivationKind::relu:
      return scale_rows(y, g, o, b, [](float v) { return v > 0.0f ? 1.0f : 0.0f; });
    case ActivationKind::leaky_relu:
      return scale_rows(y, g, o, b, [a](float v) { return v > 0.0f ? 1.0f : a; });
    case ActivationKind::elu:  // y = a*(e^x - 1) for x <= 0, so f'(x) = a*e^x = y + a
      return scale_rows(y, g, o, b, [a](float v) { return v > 0.0f ? 1.0f : v + a; });
    case ActivationKind::selu:
      return scale_rows(y, g, o, b, [](float v) {
        return v > 0.0f ? kSeluScale : v + kSeluScale * kSeluAlpha;
      });
    case ActivationKind::sigmoid:
      return scale_rows(y, g, o, b, [](float v) { return v * (1.0f - v); });
    case ActivationKind::hard_sigmoid:
      return scale_rows(y, g, o, b,
                        [](float v) { return v > 0.0f && v < 1.0f ? 1.0f / 6.0f : 0.0f; });
    case ActivationKind::tanh:
      return scale_rows(y, g, o, b, [](float v) { return 1.0f - v * v; });
    case ActivationKind::softmax:
      return softmax_backward_rows(y, g, o, b);
    default:  // linear, and the pre-activation cases (the caller checked which applies)
      return scale_rows(y, g, o, b, [](float) { return 1.0f; });
  }
}

// Derivatives from the pre-activation x (gelu, silu, softplus, and elu with alpha <= 0).
void backward_from_input(const Activation& act, const float* x, const float* g, float* o,
                         Rows b) {
  const float a = act.param;
  switch (act.kind) {
    case ActivationKind::elu:
      return scale_rows(x, g, o, b,
                        [a](float v) { return v > 0.0f ? 1.0f : a * fm::exp(v); });
    case ActivationKind::gelu:
      return scale_rows(x, g, o, b, [](float v) {
        return normal_cdf(v) + v * kInvSqrt2Pi * fm::exp(-0.5f * v * v);
      });
    case ActivationKind::gelu_tanh:
      return scale_rows(x, g, o, b, [](float v) {
        const float v2 = v * v;
        const float s = fm::sigmoid(2.0f * kSqrt2OverPi * (v + kGeluCubic * v2 * v));
        const float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * v2);
        return s + v * 2.0f * du * s * (1.0f - s);
      });
    case ActivationKind::softplus:
      return scale_rows(x, g, o, b, [](float v) { return fm::sigmoid(v); });
    case ActivationKind::silu:
      return scale_rows(x, g, o, b, [](float v) {
        const float s = fm::sigmoid(v);
        return s * (1.0f + v * (1.0f - s));
      });
    default:
      return scale_rows(x, g, o, b, [](float) { return 1.0f; });
  }
}

void activation_backward(const Activation& act, const float* src, const float* grad, float* out,
                         index_t r0, index_t r1, index_t cols, index_t ld) {
  const Rows b{r0, r1, cols, ld};
  if (needs_preactivation(act)) {
    backward_from_input(act, src, grad, out, b);
  } else {
    backward_from_output(act, src, grad, out, b);
  }
}

// Dropout for groups one at a time: Philox::generate (baseline code) and the float test.
void dropout_groups_scalar(const DropoutMask& m, index_t g0, index_t g1, index_t count,
                           const float* x, float* y, float* mask) {
  std::uint32_t words[4];
  for (index_t g = g0; g < g1; ++g) {
    m.rng.generate(static_cast<std::uint64_t>(g), m.step, words);
    for (index_t t = 0, e = 4 * g; t < 4 && e < count; ++t, ++e) {
      const float keep = (words[t] >> 8) >= m.threshold ? m.keep_scale : 0.0f;
      mask[e] = keep;
      y[e] = x[e] * keep;
    }
  }
}

#if defined(__AVX2__)
// Low and high 32 bits of the 32x32-bit products a[i] * m for 8 lanes (_mm256_mul_epu32 multiplies
// the even lanes; the odd ones are shifted down for a second multiply).
inline __m256i mulhilo(__m256i a, __m256i m, __m256i* hi) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// Philox4x32-10 (as Philox::generate) for the 8 * kBlocks counters from `first` on, which share
// their high 32 bits; w[b][t] holds word t of counters first + 8b .. first + 8b + 7.
// A round is a chain of dependent multiplies, shifts and xors: independent blocks interleave so
// the chain's latency is hidden.
template <int kBlocks>
inline void philox8(std::uint64_t key, std::uint64_t first, std::uint64_t stream,
                    __m256i w[][4]) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  __m256i c0[kBlocks], c1[kBlocks], c2[kBlocks], c3[kBlocks];
  for (int b = 0; b < kBlocks; ++b) {
    c0[b] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first + 8 * b)),
                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    c1[b] = _mm256_set1_epi32(static_cast<int>(first >> 32));
    c2[b] = _mm256_set1_epi32(static_cast<int>(stream));
    c3[b] = _mm256_set1_epi32(static_cast<int>(stream >> 32));
  }
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0));
    const __m256i key1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int b = 0; b < kBlocks; ++b) {
      __m256i hi0, hi1;
      const __m256i lo0 = mulhilo(c0[b], m0, &hi0), lo1 = mulhilo(c2[b], m1, &hi1);
      c0[b] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[b]), key0);
      c1[b] = lo1;
      c2[b] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[b]), key1);
      c3[b] = lo0;
    }
  }
  for (int b = 0; b < kBlocks; ++b) {
    w[b][0] = c0[b], w[b][1] = c1[b], w[b][2] = c2[b], w[b][3] = c3[b];
  }
}

// From word-major (w[t] lane j = word t of counter j) to element order: out[q] holds counters
// 2q and 2q+1, words 0..3 each (a 4x8 transpose).
inline void to_element_order(const __m256i w[4], __m256i out[4]) {
  const __m256i t0 = _mm256_unpacklo_epi32(w[0], w[1]), t1 = _mm256_unpackhi_epi32(w[0], w[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(w[2], w[3]), t3 = _mm256_unpackhi_epi32(w[2], w[3]);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  out[0] = _mm256_permute2x128_si256(u0, u1, 0x20);
  out[1] = _mm256_permute2x128_si256(u2, u3, 0x20);
  out[2] = _mm256_permute2x128_si256(u0, u1, 0x31);
  out[3] = _mm256_permute2x128_si256(u2, u3, 0x31);
}

// 16 Philox counters (64 elements) per step; the scalar code finishes ragged ends and the rare
// block whose counters would carry into the high word.
void dropout_forward(const DropoutMask& m, index_t g0, index_t g1, index_t count, const float* x,
                     float* y, float* mask) {
  constexpr int kBlocks = 2;
  constexpr index_t kGroups = 8 * kBlocks;
  const index_t full = count / 4 < g1 ? count / 4 : g1;  // groups with all 4 elements in range
  const __m256i threshold = _mm256_set1_epi32(static_cast<int>(m.threshold));
  const __m256 scale = _mm256_set1_ps(m.keep_scale);
  index_t g = g0;
  for (; g + kGroups <= full; g += kGroups) {
    const std::uint64_t first = static_cast<std::uint64_t>(g);
    if (static_cast<std::uint32_t>(first) > 0xFFFFFFFFu - (kGroups - 1)) break;
    __m256i words[kBlocks][4], ordered[4];
    philox8<kBlocks>(m.rng.key, first, m.step, words);
    for (int b = 0; b < kBlocks; ++b) {
      to_element_order(words[b], ordered);
      for (int q = 0; q < 4; ++q) {
        const index_t e = 4 * (g + 8 * b) + 8 * q;
        // (word >> 8) < 2^24 and threshold <= 2^24: the signed compare is exact.
        const __m256i drop = _mm256_cmpgt_epi32(threshold, _mm256_srli_epi32(ordered[q], 8));
        const __m256 keep = _mm256_andnot_ps(_mm256_castsi256_ps(drop), scale);
        _mm256_storeu_ps(mask + e, keep);
        _mm256_storeu_ps(y + e, _mm256_mul_ps(_mm256_loadu_ps(x + e), keep));
      }
    }
  }
  dropout_groups_scalar(m, g, g1, count, x, y, mask);
}

void philox_words(const Philox& rng, std::uint64_t stream, index_t g0, index_t g1,
                  std::uint32_t* out) {
  constexpr int kBlocks = 2;
  constexpr index_t kGroups = 8 * kBlocks;
  index_t g = g0;
  for (; g + kGroups <= g1; g += kGroups) {
    const std::uint64_t first = static_cast<std::uint64_t>(g);
    if (static_cast<std::uint32_t>(first) > 0xFFFFFFFFu - (kGroups - 1)) break;
    __m256i words[kBlocks][4], ordered[4];
    philox8<kBlocks>(rng.key, first, stream, words);
    for (int b = 0; b < kBlocks; ++b) {
      to_element_order(words[b], ordered);
      std::uint32_t* o = out + 4 * (g - g0 + 8 * b);
      for (int q = 0; q < 4; ++q) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8 * q), ordered[q]);
      }
    }
  }
  for (; g < g1; ++g) rng.generate(static_cast<std::uint64_t>(g), stream, out + 4 * (g - g0));
}
#else
void dropout_forward(const DropoutMask& m, index_t g0, index_t g1, index_t count, const float* x,
                     float* y, float* mask) {
  dropout_groups_scalar(m, g0, g1, count, x, y, mask);
}

void philox_words(const Philox& rng, std::uint64_t stream, index_t g0, index_t g1,
                  std::uint32_t* out) {
  for (index_t g = g0; g < g1; ++g) {
    rng.generate(static_cast<std::uint64_t>(g), stream, out + 4 * (g - g0));
  }
}
#endif

}  // namespace

extern const NnKernels kNnKernels;
const NnKernels kNnKernels = {&activation_forward, &activation_backward, &dropout_forward,
                              &philox_words};

}  // namespace FASTMLP_NN_ISA
}  // namespace detail
}  // namespace fastmlp
