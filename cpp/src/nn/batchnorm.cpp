// BatchNormalization with Keras semantics: in training, normalize with the batch mean and (biased)
// variance and move the moving statistics by `momentum`; in inference use the moving statistics.
// Every reduction runs over rows in a fixed order, so results do not depend on the thread count.
#include <cmath>

#include "nn/layer_factories.h"

namespace fastmlp {
namespace {

class BatchNormalization final : public Layer {
 public:
  BatchNormalization(const LayerSpec& spec, index_t dim) : Layer(dim, dim), spec_(spec) {}

  std::vector<TensorDecl> tensors() const override {
    std::vector<TensorDecl> t;
    if (spec_.scale) t.push_back({"gamma", {out_dim_}, true});
    if (spec_.center) t.push_back({"beta", {out_dim_}, true});
    t.push_back({"moving_mean", {out_dim_}, false});
    t.push_back({"moving_variance", {out_dim_}, false});
    return t;
  }
  void bind(const std::vector<float*>& values, const std::vector<float*>& grads) override {
    std::size_t i = 0;
    if (spec_.scale) gamma_ = values[i], dgamma_ = grads[i], ++i;
    if (spec_.center) beta_ = values[i], dbeta_ = grads[i], ++i;
    mean_ = values[i++];
    var_ = values[i];
  }
  void initialize() override {
    const index_t d = out_dim_;
    if (gamma_) fastmlp::initialize(spec_.gamma_initializer, gamma_, d, d, d);
    if (beta_) fastmlp::initialize(spec_.beta_initializer, beta_, d, d, d);
    fastmlp::initialize(spec_.moving_mean_initializer, mean_, d, d, d);
    fastmlp::initialize(spec_.moving_variance_initializer, var_, d, d, d);
  }
  bool has_trainable() const override { return gamma_ || beta_; }
  // Per column: batch mean, 1/sqrt(var + eps), and two gradient sums.
  index_t scratch_floats(index_t) const override { return 4 * out_dim_; }

  void forward(const float* x, float* y, index_t n, float* s, const Pass& pass) override {
    const index_t d = out_dim_;
    float *mu = s, *inv = s + d;
    if (pass.training) {
      batch_statistics(x, n, mu, inv);
    } else {
      for (index_t j = 0; j < d; ++j) mu[j] = mean_[j], inv[j] = 1.0f / std::sqrt(var_[j] + spec_.epsilon);
    }
    // y = x * a + c with a = gamma * inv, c = beta - mu * a.
    float *a = s + 2 * d, *c = s + 3 * d;
    for (index_t j = 0; j < d; ++j) {
      a[j] = (gamma_ ? gamma_[j] : 1.0f) * inv[j];
      c[j] = (beta_ ? beta_[j] : 0.0f) - mu[j] * a[j];
    }
    for (index_t i = 0; i < n; ++i) {
      const float* xr = x + i * d;
      float* yr = y + i * d;
      for (index_t j = 0; j < d; ++j) yr[j] = xr[j] * a[j] + c[j];
    }
  }

  void backward(const float* x, const float*, float* dy, float* dx, index_t n, float* s,
                const Pass&) override {
    const index_t d = out_dim_;
    const float *mu = s, *inv = s + d;
    float *sum_dy = s + 2 * d, *sum_dy_xhat = s + 3 * d;  // a and c are no longer needed
    for (index_t j = 0; j < d; ++j) sum_dy[j] = 0.0f, sum_dy_xhat[j] = 0.0f;
    for (index_t i = 0; i < n; ++i) {
      const float *xr = x + i * d, *g = dy + i * d;
      for (index_t j = 0; j < d; ++j) {
        sum_dy[j] += g[j];
        sum_dy_xhat[j] += g[j] * (xr[j] - mu[j]) * inv[j];
      }
    }
    if (dgamma_) for (index_t j = 0; j < d; ++j) dgamma_[j] = sum_dy_xhat[j];
    if (dbeta_) for (index_t j = 0; j < d; ++j) dbeta_[j] = sum_dy[j];
    if (!dx) return;
    // dx = gamma * inv / n * (n dy - sum(dy) - xhat * sum(dy xhat)).
    const float inv_n = 1.0f / static_cast<float>(n);
    for (index_t i = 0; i < n; ++i) {
      const float *xr = x + i * d, *g = dy + i * d;
      float* o = dx + i * d;
      for (index_t j = 0; j < d; ++j) {
        const float xhat = (xr[j] - mu[j]) * inv[j];
        const float k = (gamma_ ? gamma_[j] : 1.0f) * inv[j];
        o[j] = k * (g[j] - inv_n * (sum_dy[j] + xhat * sum_dy_xhat[j]));
      }
    }
  }

 private:
  // Batch mean and 1/sqrt(biased variance + eps) per column (two passes for accuracy), and the
  // moving statistics' update.
  void batch_statistics(const float* x, index_t n, float* mu, float* inv) {
    const index_t d = out_dim_;
    column_sums(x, n, d, d, mu);
    const float inv_n = 1.0f / static_cast<float>(n);
    for (index_t j = 0; j < d; ++j) mu[j] *= inv_n, inv[j] = 0.0f;
    for (index_t i = 0; i < n; ++i) {
      const float* xr = x + i * d;
      for (index_t j = 0; j < d; ++j) inv[j] += (xr[j] - mu[j]) * (xr[j] - mu[j]);
    }
    const float m = spec_.momentum;
    for (index_t j = 0; j < d; ++j) {
      const float var = inv[j] * inv_n;
      mean_[j] = mean_[j] * m + mu[j] * (1.0f - m);
      var_[j] = var_[j] * m + var * (1.0f - m);
      inv[j] = 1.0f / std::sqrt(var + spec_.epsilon);
    }
  }

  LayerSpec spec_;
  float *gamma_ = nullptr, *dgamma_ = nullptr, *beta_ = nullptr, *dbeta_ = nullptr;
  float *mean_ = nullptr, *var_ = nullptr;
};

}  // namespace

namespace detail {
std::unique_ptr<Layer> make_batch_normalization(const LayerSpec& spec, index_t in_dim) {
  return std::make_unique<BatchNormalization>(spec, in_dim);
}
}  // namespace detail

}  // namespace fastmlp
