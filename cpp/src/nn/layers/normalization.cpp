// Normalization (Keras's preprocessing layer): y = (x - mean) / max(sqrt(variance), 1e-7) with a
// mean and variance per position of the kept axes, broadcast over the others; invert gives
// mean + x * max(sqrt(variance), 1e-7). mean, variance (and Keras's unused `count`) are
// non-trainable tensors that adapt() sets, or constants given to the constructor.
#include <cmath>
#include <stdexcept>
#include <string>
#include <cstring>

#include "nn/kernels/isa_variants.h"
#include "nn/kernels/parallel.h"
#include "nn/layers/layer_factories.h"
#include "nn/layers/param_broadcast.h"

namespace fastmlp {
namespace {

constexpr float kEpsilon = 1e-7f;  // Keras's backend.epsilon()

// Rows [r0, r1) of width d, with m and s per column: (x - m) / s, or m + x * s.
FASTMLP_AVX2_VARIANT(void, normalize_rows, (const float* x, float* y, index_t r0, index_t r1,
                                            index_t d, const float* m, const float* s,
                                            bool invert),
                     (x, y, r0, r1, d, m, s, invert)) {
  for (index_t r = r0; r < r1; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    if (invert) {
      for (index_t j = 0; j < d; ++j) yr[j] = m[j] + xr[j] * s[j];
    } else {
      for (index_t j = 0; j < d; ++j) yr[j] = (xr[j] - m[j]) / s[j];
    }
  }
}

FASTMLP_AVX2_VARIANT(void, normalize_grad, (const float* dy, float* dx, index_t r0, index_t r1,
                                            index_t d, const float* s, bool invert),
                     (dy, dx, r0, r1, d, s, invert)) {
  for (index_t r = r0; r < r1; ++r) {
    const float* g = dy + r * d;
    float* o = dx + r * d;
    if (invert) {
      for (index_t j = 0; j < d; ++j) o[j] = g[j] * s[j];
    } else {
      for (index_t j = 0; j < d; ++j) o[j] = g[j] / s[j];
    }
  }
}

class Normalization final : public Layer {
 public:
  Normalization(const LayerSpec& spec, index_t dim)
      : Layer(dim, dim), spec_(spec), map_(spec.sample_shape, spec.param_axes, dim,
                                           "normalization") {
    const index_t p = map_.size();
    if (detail::shape_size(spec.param_shape) != p) {
      throw std::invalid_argument("normalization layer: `param_shape` does not match "
                                  "`param_axes`");
    }
    for (const auto* v : {&spec.mean, &spec.variance}) {
      if (!v->empty() && static_cast<index_t>(v->size()) != p) {
        throw std::invalid_argument("normalization layer: `mean` and `variance` need " +
                                    std::to_string(p) + " values each, received " +
                                    std::to_string(v->size()));
      }
    }
    if (spec.constant_statistics && (spec.mean.empty() || spec.variance.empty())) {
      throw std::invalid_argument("normalization layer: constant statistics need `mean` and "
                                  "`variance`");
    }
    if (spec.constant_statistics) mean_ = spec_.mean.data(), var_ = spec_.variance.data();
  }

  std::vector<TensorDecl> tensors() const override {
    if (spec_.constant_statistics) return {};
    return {{"mean", spec_.param_shape, false},
            {"variance", spec_.param_shape, false},
            {"count", {}, false}};
  }
  void bind(const std::vector<float*>& values, const std::vector<float*>&) override {
    if (spec_.constant_statistics) return;
    mean_ = values[0], var_ = values[1], count_ = values[2];
  }
  void initialize() override {
    if (spec_.constant_statistics) return;
    const index_t p = map_.size();
    for (index_t i = 0; i < p; ++i) {
      mean_[i] = spec_.mean.empty() ? 0.0f : spec_.mean[i];
      var_[i] = spec_.variance.empty() ? 1.0f : spec_.variance[i];
    }
    *count_ = 0.0f;  // Keras keeps it for old files and never updates it
  }
  // Per column of a sample: the mean and the divisor, expanded from the kept axes.
  index_t scratch_floats(index_t) const override { return 2 * out_dim_; }

  void forward(const float* x, float* y, index_t n, float* s, const Pass&) override {
    const index_t d = out_dim_;
    map_.expand(mean_, s, d, [](float v) { return v; });
    map_.expand(var_, s + d, d, [](float v) {
      const float r = std::sqrt(v);
      return r < kEpsilon ? kEpsilon : r;  // a NaN variance gives NaN, as Keras's maximum
    });
    const bool inv = spec_.invert;
    detail::parallel_chunks(WorkKind::elementwise, n, d, [&](index_t r0, index_t r1) {
      normalize_rows(x, y, r0, r1, d, s, s + d, inv);
    });
  }
  void backward(const float*, const float*, float* dy, float* dx, index_t n, float* s,
                const Pass&) override {
    if (!dx) return;
    const index_t d = out_dim_;
    const bool inv = spec_.invert;
    detail::parallel_chunks(WorkKind::elementwise, n, d, [&](index_t r0, index_t r1) {
      normalize_grad(dy, dx, r0, r1, d, s + d, inv);
    });
  }

 private:
  LayerSpec spec_;
  detail::ParamBroadcast map_;
  float *mean_ = nullptr, *var_ = nullptr, *count_ = nullptr;
};

}  // namespace

namespace detail {
std::unique_ptr<Layer> make_normalization(const LayerSpec& spec, index_t in_dim) {
  return std::make_unique<Normalization>(spec, in_dim);
}
}  // namespace detail
}  // namespace fastmlp
