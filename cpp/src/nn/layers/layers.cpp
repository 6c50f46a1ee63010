// The parameter-free element-wise layers (Activation, Rescaling), layer validation and dispatch.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "nn/layers/layer_factories.h"
#include "nn/kernels/nn_kernels.h"
#include "nn/kernels/parallel.h"
#include "nn/kernels/isa_variants.h"

namespace fastmlp {
namespace {

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(const Activation& act, index_t dim) : Layer(dim, dim), act_(act) {}

  const Activation* output_activation() const override { return &act_; }
  const float* logits(const float* x, const float*) const override { return x; }

  // Out of place: one pass over the rows, no copy.
  void forward(const float* x, float* y, index_t n, float*, const Pass&) override {
    detail::activation_forward_to(act_, x, y, n, out_dim_);
  }
  void backward(const float* x, const float* y, float* dy, float* dx, index_t n, float*,
                const Pass& pass) override {
    if (!dx) return;
    if (pass.grad_is_preactivation) {
      std::memcpy(dx, dy, sizeof(float) * n * out_dim_);
    } else {
      detail::activation_backward_to(act_, x, y, dy, dx, n, out_dim_);
    }
  }

 private:
  Activation act_;
};

class Rescaling final : public Layer {
 public:
  Rescaling(const LayerSpec& spec, index_t dim)
      : Layer(dim, dim), scale_(spec.scale_factor), offset_(spec.offset) {}

  void forward(const float* x, float* y, index_t n, float*, const Pass&) override {
    const float s = scale_, o = offset_;
    detail::parallel_chunks(WorkKind::elementwise, n * out_dim_, 1, [&](index_t b, index_t e) {
      for (index_t i = b; i < e; ++i) y[i] = x[i] * s + o;
    });
  }
  void backward(const float*, const float*, float* dy, float* dx, index_t n, float*,
                const Pass&) override {
    if (!dx) return;
    const float s = scale_;
    detail::parallel_chunks(WorkKind::elementwise, n * out_dim_, 1, [&](index_t b, index_t e) {
      for (index_t i = b; i < e; ++i) dx[i] = dy[i] * s;
    });
  }

 private:
  float scale_, offset_;
};

[[noreturn]] void bad_field(const LayerSpec& spec, const std::string& field,
                            const std::string& value, const std::string& expected) {
  throw std::invalid_argument(layer_type_name(spec.type) + " layer: invalid `" + field +
                              "`, expected " + expected + ". Received: " + field + "=" + value);
}

void validate(const LayerSpec& spec) {
  using T = LayerSpec::Type;
  auto check_reg = [&](const Regularizer& r, const char* name) {
    if (!(r.l1 >= 0.0f && r.l2 >= 0.0f && std::isfinite(r.l1) && std::isfinite(r.l2))) {
      bad_field(spec, name, "{l1: " + std::to_string(r.l1) + ", l2: " + std::to_string(r.l2) + "}",
                "non-negative finite l1 and l2");
    }
  };
  switch (spec.type) {
    case T::dense:
      if (spec.units < 1) bad_field(spec, "units", std::to_string(spec.units), "a positive integer");
      check_reg(spec.kernel_regularizer, "kernel_regularizer");
      check_reg(spec.bias_regularizer, "bias_regularizer");
      break;
    case T::dropout:
      if (!(spec.rate >= 0.0f && spec.rate < 1.0f)) {
        bad_field(spec, "rate", std::to_string(spec.rate), "a float in [0, 1)");
      }
      break;
    case T::batch_normalization:
      if (!(spec.momentum >= 0.0f && spec.momentum <= 1.0f)) {
        bad_field(spec, "momentum", std::to_string(spec.momentum), "a float in [0, 1]");
      }
      if (!(spec.epsilon > 0.0f && std::isfinite(spec.epsilon))) {
        bad_field(spec, "epsilon", std::to_string(spec.epsilon), "a positive float");
      }
      break;
    case T::rescaling:
      if (!std::isfinite(spec.scale_factor) || !std::isfinite(spec.offset)) {
        bad_field(spec, "scale/offset",
                  std::to_string(spec.scale_factor) + "/" + std::to_string(spec.offset),
                  "finite floats");
      }
      break;
    default:  // activation, and the types whose factories check their own fields
      break;
  }
}

}  // namespace

std::string layer_type_name(LayerSpec::Type type) {
  switch (type) {
    case LayerSpec::Type::dense: return "dense";
    case LayerSpec::Type::activation: return "activation";
    case LayerSpec::Type::dropout: return "dropout";
    case LayerSpec::Type::batch_normalization: return "batch_normalization";
    case LayerSpec::Type::rescaling: return "rescaling";
    case LayerSpec::Type::relu: return "relu";
    case LayerSpec::Type::elu: return "elu";
    case LayerSpec::Type::prelu: return "prelu";
    case LayerSpec::Type::softmax: return "softmax";
    case LayerSpec::Type::layer_normalization: return "layer_normalization";
    case LayerSpec::Type::normalization: return "normalization";
    case LayerSpec::Type::gaussian_noise: return "gaussian_noise";
    case LayerSpec::Type::gaussian_dropout: return "gaussian_dropout";
    case LayerSpec::Type::alpha_dropout: return "alpha_dropout";
  }
  return "unknown";
}

std::unique_ptr<Layer> make_layer(const LayerSpec& spec, index_t in_dim) {
  validate(spec);
  switch (spec.type) {
    case LayerSpec::Type::dense: return detail::make_dense(spec, in_dim);
    case LayerSpec::Type::activation: return detail::make_activation(spec.activation, in_dim);
    case LayerSpec::Type::dropout: return detail::make_dropout(spec, in_dim);
    case LayerSpec::Type::batch_normalization:
      return detail::make_batch_normalization(spec, in_dim);
    case LayerSpec::Type::rescaling: return std::make_unique<Rescaling>(spec, in_dim);
    case LayerSpec::Type::relu: return detail::make_relu(spec, in_dim);
    case LayerSpec::Type::elu: return detail::make_elu(spec, in_dim);
    case LayerSpec::Type::prelu: return detail::make_prelu(spec, in_dim);
    case LayerSpec::Type::softmax: return detail::make_softmax(spec, in_dim);
    case LayerSpec::Type::layer_normalization:
      return detail::make_layer_normalization(spec, in_dim);
    case LayerSpec::Type::normalization: return detail::make_normalization(spec, in_dim);
    case LayerSpec::Type::gaussian_noise: return detail::make_gaussian_noise(spec, in_dim);
    case LayerSpec::Type::gaussian_dropout: return detail::make_gaussian_dropout(spec, in_dim);
    case LayerSpec::Type::alpha_dropout: return detail::make_alpha_dropout(spec, in_dim);
  }
  throw std::invalid_argument("unknown layer type");
}

namespace detail {
std::unique_ptr<Layer> make_activation(const Activation& act, index_t dim) {
  return std::make_unique<ActivationLayer>(act, dim);
}
}  // namespace detail

FASTMLP_AVX2_VARIANT(void, column_sums, (const float* x, index_t n, index_t cols, index_t ld,
                                         float* out),
                     (x, n, cols, ld, out)) {
  // Rows are added in order into per-column accumulators: vectorized across columns, and the
  // same summation order whatever the thread count.
  for (index_t j = 0; j < cols; ++j) out[j] = 0.0f;
  for (index_t i = 0; i < n; ++i) {
    const float* r = x + i * ld;
    for (index_t j = 0; j < cols; ++j) out[j] += r[j];
  }
}

}  // namespace fastmlp
