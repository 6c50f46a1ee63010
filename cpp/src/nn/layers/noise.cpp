// Keras's noise layers, active in training only (the identity at inference):
//   GaussianNoise    y = x + stddev * z
//   GaussianDropout  y = x * (1 + sqrt(rate / (1 - rate)) * z)
//   AlphaDropout     y = a * x + b where kept (uniform >= rate), a * alpha' + b where dropped,
//                    with alpha' = -SELU scale * alpha and a, b keeping SELU's mean and variance
// z is standard normal (random_normal.h) and the AlphaDropout draw is Dropout's: both from Philox
// keyed by the layer's seed, with the training step as the stream and the element's position in
// the batch as the counter, so they depend neither on the thread count nor on the ISA.
#include <cmath>
#include <stdexcept>
#include <string>
#include <cstring>

#include "nn/kernels/isa_variants.h"
#include "nn/kernels/nn_kernels.h"
#include "nn/kernels/parallel.h"
#include "nn/kernels/random_normal.h"
#include "nn/layers/layer_factories.h"

namespace fastmlp {
namespace {

using detail::kNormalBlockGroups;

// y = x + s * z (additive) or y = x * m with m = 1 + s * z kept in mask (multiplicative).
FASTMLP_AVX2_VARIANT(void, apply_noise, (const float* x, float* y, float* mask, const float* z,
                                         index_t count, float s, bool multiplicative),
                     (x, y, mask, z, count, s, multiplicative)) {
  if (multiplicative) {
    for (index_t i = 0; i < count; ++i) {
      const float m = z[i] * s + 1.0f;
      mask[i] = m;
      y[i] = x[i] * m;
    }
  } else {
    for (index_t i = 0; i < count; ++i) y[i] = x[i] + z[i] * s;
  }
}

FASTMLP_AVX2_VARIANT(void, scale_by, (const float* dy, const float* m, float* dx, index_t count),
                     (dy, m, dx, count)) {
  for (index_t i = 0; i < count; ++i) dx[i] = dy[i] * m[i];
}

// Dropout's kernel left y = x * a or 0 and mask = a or 0; this adds b or the dropped value.
FASTMLP_AVX2_VARIANT(void, alpha_shift, (float* y, const float* mask, index_t count, float b,
                                         float dropped),
                     (y, mask, count, b, dropped)) {
  for (index_t i = 0; i < count; ++i) y[i] = mask[i] != 0.0f ? y[i] + b : dropped;
}

class GaussianNoise final : public Layer {
 public:
  // multiplicative: GaussianDropout (stddev from the rate), else GaussianNoise.
  GaussianNoise(const LayerSpec& spec, index_t dim, bool multiplicative)
      : Layer(dim, dim), rng_(spec.seed), multiplicative_(multiplicative) {
    s_ = multiplicative ? static_cast<float>(std::sqrt(double(spec.rate) / (1.0 - spec.rate)))
                        : spec.stddev;
  }

  // GaussianDropout: the factors of the last training forward, for backward.
  index_t scratch_floats(index_t n) const override { return multiplicative_ ? n * out_dim_ : 0; }

  void forward(const float* x, float* y, index_t n, float* mask, const Pass& pass) override {
    const index_t count = n * out_dim_;
    if (!pass.training || s_ == 0.0f) {
      if (y != x) std::memcpy(y, x, sizeof(float) * count);
      return;
    }
    // a group (4 elements) costs about as much as 40 simple element operations
    detail::parallel_chunks(WorkKind::elementwise, (count + 3) / 4, 40,
                            [&](index_t g0, index_t g1) {
                              noise_groups(x, y, mask, count, pass.step, g0, g1);
                            });
  }

  void backward(const float*, const float*, float* dy, float* dx, index_t n, float* mask,
                const Pass& pass) override {
    if (!dx) return;
    const index_t count = n * out_dim_;
    if (!multiplicative_ || !pass.training || s_ == 0.0f) {
      std::memcpy(dx, dy, sizeof(float) * count);
      return;
    }
    detail::parallel_chunks(WorkKind::elementwise, count, 1, [&](index_t b, index_t e) {
      scale_by(dy + b, mask + b, dx + b, e - b);
    });
  }

 private:
  // Groups [g0, g1) of the batch's `count` elements, in stack blocks of normals.
  void noise_groups(const float* x, float* y, float* mask, index_t count, std::uint64_t step,
                    index_t g0, index_t g1) const {
    float z[4 * kNormalBlockGroups];
    for (index_t g = g0; g < g1; g += kNormalBlockGroups) {
      const index_t end = g + kNormalBlockGroups < g1 ? g + kNormalBlockGroups : g1;
      detail::normal_groups(rng_, step, g, end, z);
      const index_t e0 = 4 * g, e1 = 4 * end < count ? 4 * end : count;
      apply_noise(x + e0, y + e0, mask ? mask + e0 : nullptr, z, e1 - e0, s_, multiplicative_);
    }
  }

  Philox rng_;
  bool multiplicative_;
  float s_ = 0.0f;
};

class AlphaDropout final : public Layer {
 public:
  AlphaDropout(const LayerSpec& spec, index_t dim)
      : Layer(dim, dim), rate_(spec.rate), rng_(spec.seed) {
    const double alpha = 1.6732632423543772848170429916717;
    const double scale = 1.0507009873554804934193349852946;
    const double alpha_p = -alpha * scale, r = spec.rate;
    a_ = static_cast<float>(std::pow((1.0 - r) * (1.0 + r * alpha_p * alpha_p), -0.5));
    b_ = static_cast<float>(-double(a_) * alpha_p * r);
    dropped_ = a_ * static_cast<float>(alpha_p) + b_;
  }

  // a where kept, 0 where dropped, for backward.
  index_t scratch_floats(index_t n) const override { return n * out_dim_; }

  void forward(const float* x, float* y, index_t n, float* mask, const Pass& pass) override {
    const index_t count = n * out_dim_;
    if (!pass.training || rate_ == 0.0f) {
      if (y != x) std::memcpy(y, x, sizeof(float) * count);
      return;
    }
    // Dropout's draw: kept when to_unit_float(word) >= rate (Keras: uniform >= rate).
    const detail::DropoutMask m{rng_, pass.step,
                                static_cast<std::uint32_t>(std::ceil(double(rate_) * 16777216.0)),
                                a_};
    const auto& kernels = detail::nn_kernels();
    detail::parallel_chunks(WorkKind::elementwise, (count + 3) / 4, 20,
                            [&](index_t g0, index_t g1) {
                              kernels.dropout_forward(m, g0, g1, count, x, y, mask);
                              const index_t e0 = 4 * g0, e1 = 4 * g1 < count ? 4 * g1 : count;
                              alpha_shift(y + e0, mask + e0, e1 - e0, b_, dropped_);
                            });
  }

  void backward(const float*, const float*, float* dy, float* dx, index_t n, float* mask,
                const Pass& pass) override {
    if (!dx) return;
    const index_t count = n * out_dim_;
    if (!pass.training || rate_ == 0.0f) {
      std::memcpy(dx, dy, sizeof(float) * count);
      return;
    }
    detail::parallel_chunks(WorkKind::elementwise, count, 1, [&](index_t b, index_t e) {
      scale_by(dy + b, mask + b, dx + b, e - b);
    });
  }

 private:
  float rate_;
  Philox rng_;
  float a_ = 1.0f, b_ = 0.0f, dropped_ = 0.0f;
};

void check_rate(const LayerSpec& spec) {
  if (!(spec.rate >= 0.0f && spec.rate < 1.0f)) {
    throw std::invalid_argument(layer_type_name(spec.type) + " layer: invalid `rate`, expected a "
                                "float in [0, 1). Received: rate=" + std::to_string(spec.rate));
  }
}

}  // namespace

namespace detail {

std::unique_ptr<Layer> make_gaussian_noise(const LayerSpec& spec, index_t in_dim) {
  if (!(spec.stddev >= 0.0f && std::isfinite(spec.stddev))) {
    throw std::invalid_argument("gaussian_noise layer: invalid `stddev`, expected a finite float "
                                ">= 0. Received: stddev=" + std::to_string(spec.stddev));
  }
  return std::make_unique<GaussianNoise>(spec, in_dim, false);
}

std::unique_ptr<Layer> make_gaussian_dropout(const LayerSpec& spec, index_t in_dim) {
  check_rate(spec);
  return std::make_unique<GaussianNoise>(spec, in_dim, true);
}

std::unique_ptr<Layer> make_alpha_dropout(const LayerSpec& spec, index_t in_dim) {
  check_rate(spec);
  return std::make_unique<AlphaDropout>(spec, in_dim);
}

}  // namespace detail
}  // namespace fastmlp
