// Keras's activation layers: ReLU (max_value, negative_slope, threshold) and LeakyReLU, ELU,
// PReLU (a trained slope per element, shared along chosen axes) and Softmax along trailing
// axes. The plain cases run as an Activation layer on the per-ISA activation kernels (and a
// final Softmax over the whole sample still fuses with the cross-entropy gradient).
#include <cmath>
#include <stdexcept>
#include <cstring>
#include <string>

#include "nn/kernels/isa_variants.h"
#include "nn/kernels/nn_kernels.h"
#include "nn/kernels/parallel.h"
#include "nn/layers/layer_factories.h"
#include "nn/layers/param_broadcast.h"

namespace fastmlp {
namespace {

[[noreturn]] void bad(const std::string& layer, const std::string& field, float value,
                      const std::string& expected) {
  throw std::invalid_argument(layer + " layer: invalid `" + field + "`, expected " + expected +
                              ". Received: " + field + "=" + std::to_string(value));
}

// Keras: x > t ? min(x, max) : s * (x - t). The + 0.0f makes a zero slope give +0, as Keras's
// relu(x) does, not -0 for negative x.
FASTMLP_AVX2_VARIANT(void, relu_forward, (const float* x, float* y, index_t count, float s,
                                          float mx, float t),
                     (x, y, count, s, mx, t)) {
  for (index_t i = 0; i < count; ++i) {
    const float v = x[i];
    y[i] = v > t ? (v < mx ? v : mx) : s * (v - t) + 0.0f;
  }
}

FASTMLP_AVX2_VARIANT(void, relu_backward, (const float* x, const float* dy, float* dx,
                                           index_t count, float s, float mx, float t),
                     (x, dy, dx, count, s, mx, t)) {
  for (index_t i = 0; i < count; ++i) {
    const float v = x[i];
    dx[i] = dy[i] * (v > t ? (v < mx ? 1.0f : 0.0f) : s);
  }
}

class ReLU final : public Layer {
 public:
  ReLU(const LayerSpec& spec, index_t dim)
      : Layer(dim, dim), s_(spec.negative_slope), max_(spec.max_value), t_(spec.threshold) {}

  void forward(const float* x, float* y, index_t n, float*, const Pass&) override {
    detail::parallel_chunks(WorkKind::elementwise, n * out_dim_, 1, [&](index_t b, index_t e) {
      relu_forward(x + b, y + b, e - b, s_, max_, t_);
    });
  }
  void backward(const float* x, const float*, float* dy, float* dx, index_t n, float*,
                const Pass&) override {
    if (!dx) return;
    detail::parallel_chunks(WorkKind::elementwise, n * out_dim_, 1, [&](index_t b, index_t e) {
      relu_backward(x + b, dy + b, dx + b, e - b, s_, max_, t_);
    });
  }

 private:
  float s_, max_, t_;
};

// Rows [r0, r1) of width d: y = x > 0 ? x : a * x (a: alpha per column, expanded).
FASTMLP_AVX2_VARIANT(void, prelu_rows, (const float* x, float* y, index_t r0, index_t r1,
                                        index_t d, const float* a),
                     (x, y, r0, r1, d, a)) {
  for (index_t r = r0; r < r1; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    for (index_t j = 0; j < d; ++j) yr[j] = xr[j] > 0.0f ? xr[j] : a[j] * xr[j];
  }
}

// d relu(x) - a relu(-x) / dx is 1 above 0, a below and 0 at 0 (relu'(0) = 0, as in JAX).
FASTMLP_AVX2_VARIANT(void, prelu_input_grad, (const float* x, const float* dy, float* dx,
                                              index_t r0, index_t r1, index_t d, const float* a),
                     (x, dy, dx, r0, r1, d, a)) {
  for (index_t r = r0; r < r1; ++r) {
    const float *xr = x + r * d, *g = dy + r * d;
    float* o = dx + r * d;
    for (index_t j = 0; j < d; ++j) {
      o[j] = g[j] * (xr[j] > 0.0f ? 1.0f : (xr[j] < 0.0f ? a[j] : 0.0f));
    }
  }
}

// acc[j] = sum over the n rows, in order, of dy * min(x, 0) for columns [j0, j1).
FASTMLP_AVX2_VARIANT(void, prelu_alpha_sums, (const float* x, const float* dy, index_t n,
                                              index_t d, index_t j0, index_t j1, float* acc),
                     (x, dy, n, d, j0, j1, acc)) {
  for (index_t j = j0; j < j1; ++j) acc[j] = 0.0f;
  for (index_t i = 0; i < n; ++i) {
    const float *xr = x + i * d, *g = dy + i * d;
    for (index_t j = j0; j < j1; ++j) acc[j] += g[j] * (xr[j] < 0.0f ? xr[j] : 0.0f);
  }
}

class PReLU final : public Layer {
 public:
  PReLU(const LayerSpec& spec, index_t dim)
      : Layer(dim, dim), spec_(spec),
        map_(spec.sample_shape, spec.param_axes, dim, "prelu") {
    if (detail::shape_size(spec.param_shape) != map_.size()) {
      throw std::invalid_argument("prelu layer: `param_shape` does not match `param_axes`");
    }
  }

  std::vector<TensorDecl> tensors() const override {
    return {{"alpha", spec_.param_shape, true}};
  }
  void bind(const std::vector<float*>& values, const std::vector<float*>& grads) override {
    alpha_ = values[0], dalpha_ = grads[0];
  }
  void initialize() override {
    index_t fan_in, fan_out;
    detail::keras_fans(spec_.param_shape, &fan_in, &fan_out);
    fastmlp::initialize(spec_.alpha_initializer, alpha_, map_.size(), fan_in, fan_out);
  }
  bool has_trainable() const override { return true; }
  // alpha expanded to the sample's width, then the per-column alpha gradient sums.
  index_t scratch_floats(index_t) const override { return 2 * out_dim_; }

  void forward(const float* x, float* y, index_t n, float* s, const Pass&) override {
    map_.expand(alpha_, s, out_dim_, [](float v) { return v; });
    detail::parallel_chunks(WorkKind::elementwise, n, out_dim_, [&](index_t r0, index_t r1) {
      prelu_rows(x, y, r0, r1, out_dim_, s);
    });
  }
  void backward(const float* x, const float*, float* dy, float* dx, index_t n, float* s,
                const Pass& pass) override {
    const index_t d = out_dim_;
    if (!pass.frozen) {
      float* sums = s + d;
      detail::parallel_chunks(WorkKind::elementwise, d, 2 * n, [&](index_t j0, index_t j1) {
        prelu_alpha_sums(x, dy, n, d, j0, j1, sums);
      });
      map_.reduce(sums, dalpha_, d);
    }
    if (!dx) return;
    detail::parallel_chunks(WorkKind::elementwise, n, d, [&](index_t r0, index_t r1) {
      prelu_input_grad(x, dy, dx, r0, r1, d, s);
    });
  }

 private:
  LayerSpec spec_;
  detail::ParamBroadcast map_;
  float *alpha_ = nullptr, *dalpha_ = nullptr;
};

// Softmax along rows of `group` floats, several per sample (Keras's Softmax(axis=...) over the
// trailing axes of a reshaped sample).
class GroupedSoftmax final : public Layer {
 public:
  GroupedSoftmax(index_t dim, index_t group) : Layer(dim, dim), group_(group) {}

  void forward(const float* x, float* y, index_t n, float*, const Pass&) override {
    detail::activation_forward_to(act_, x, y, n * (out_dim_ / group_), group_);
  }
  void backward(const float*, const float* y, float* dy, float* dx, index_t n, float*,
                const Pass&) override {
    if (!dx) return;
    detail::activation_backward_to(act_, nullptr, y, dy, dx, n * (out_dim_ / group_), group_);
  }

 private:
  Activation act_{ActivationKind::softmax, 0.0f};
  index_t group_;
};

}  // namespace

namespace detail {

std::unique_ptr<Layer> make_relu(const LayerSpec& spec, index_t in_dim) {
  if (!(spec.negative_slope >= 0.0f && std::isfinite(spec.negative_slope))) {
    bad("relu", "negative_slope", spec.negative_slope, "a finite float >= 0");
  }
  if (!(spec.threshold >= 0.0f && std::isfinite(spec.threshold))) {
    bad("relu", "threshold", spec.threshold, "a finite float >= 0");
  }
  if (!(spec.max_value >= 0.0f)) bad("relu", "max_value", spec.max_value, "a float >= 0");
  if (std::isinf(spec.max_value) && spec.threshold == 0.0f) {
    // relu and leaky_relu: the activation kernels (a zero slope is plain relu)
    Activation act{ActivationKind::relu, 0.0f};
    if (spec.negative_slope > 0.0f) act = {ActivationKind::leaky_relu, spec.negative_slope};
    return make_activation(act, in_dim);
  }
  return std::make_unique<ReLU>(spec, in_dim);
}

std::unique_ptr<Layer> make_elu(const LayerSpec& spec, index_t in_dim) {
  if (!std::isfinite(spec.alpha)) bad("elu", "alpha", spec.alpha, "a finite float");
  return make_activation({ActivationKind::elu, spec.alpha}, in_dim);
}

std::unique_ptr<Layer> make_prelu(const LayerSpec& spec, index_t in_dim) {
  return std::make_unique<PReLU>(spec, in_dim);
}

std::unique_ptr<Layer> make_softmax(const LayerSpec& spec, index_t in_dim) {
  const index_t g = spec.group == 0 ? in_dim : spec.group;
  if (g < 1 || in_dim % g != 0) {
    throw std::invalid_argument("softmax layer: invalid `group`, expected a divisor of the "
                                "input width " + std::to_string(in_dim) +
                                ". Received: group=" + std::to_string(spec.group));
  }
  if (g == in_dim) return make_activation({ActivationKind::softmax, 0.0f}, in_dim);
  return std::make_unique<GroupedSoftmax>(in_dim, g);
}

}  // namespace detail
}  // namespace fastmlp
