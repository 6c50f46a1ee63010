// BatchNormalization with Keras semantics: in training, normalize with the batch mean and (biased)
// variance and move the moving statistics by `momentum`; in inference, and in training when the
// layer is frozen (Keras 3: `training and self.trainable`), use the moving statistics.
// Every reduction runs over rows in a fixed order, so results do not depend on the thread count.
#include <cmath>

#include "nn/layers/layer_factories.h"
#include "nn/kernels/parallel.h"
#include "nn/kernels/isa_variants.h"

namespace fastmlp {
namespace {

// The row loops over columns [j0, j1) of n rows of width d, built for AVX2 too.
FASTMLP_AVX2_VARIANT(void, square_deviations, (const float* x, index_t n, index_t d, index_t j0,
                                               index_t j1, const float* mu, float* acc),
                     (x, n, d, j0, j1, mu, acc)) {
  for (index_t i = 0; i < n; ++i) {
    const float* xr = x + i * d;
    for (index_t j = j0; j < j1; ++j) acc[j] += (xr[j] - mu[j]) * (xr[j] - mu[j]);
  }
}

FASTMLP_AVX2_VARIANT(void, scale_shift, (const float* x, float* y, index_t n, index_t d, index_t j0,
                                         index_t j1, const float* a, const float* c),
                     (x, y, n, d, j0, j1, a, c)) {
  for (index_t i = 0; i < n; ++i) {
    const float* xr = x + i * d;
    float* yr = y + i * d;
    for (index_t j = j0; j < j1; ++j) yr[j] = xr[j] * a[j] + c[j];
  }
}

FASTMLP_AVX2_VARIANT(void, gradient_sums, (const float* x, const float* dy, index_t n, index_t d,
                                           index_t j0, index_t j1, const float* mu,
                                           const float* inv, float* sum_dy, float* sum_dy_xhat),
                     (x, dy, n, d, j0, j1, mu, inv, sum_dy, sum_dy_xhat)) {
  for (index_t i = 0; i < n; ++i) {
    const float *xr = x + i * d, *g = dy + i * d;
    for (index_t j = j0; j < j1; ++j) {
      sum_dy[j] += g[j];
      sum_dy_xhat[j] += g[j] * (xr[j] - mu[j]) * inv[j];
    }
  }
}

// dx = gamma * inv / n * (n dy - sum(dy) - xhat * sum(dy xhat)); gamma may be null (scale off).
FASTMLP_AVX2_VARIANT(void, input_gradient, (const float* x, const float* dy, float* dx, index_t n,
                                            index_t d, index_t j0, index_t j1, const float* mu,
                                            const float* inv, const float* gamma,
                                            const float* sum_dy, const float* sum_dy_xhat),
                     (x, dy, dx, n, d, j0, j1, mu, inv, gamma, sum_dy, sum_dy_xhat)) {
  const float inv_n = 1.0f / static_cast<float>(n);
  for (index_t i = 0; i < n; ++i) {
    const float *xr = x + i * d, *g = dy + i * d;
    float* o = dx + i * d;
    for (index_t j = j0; j < j1; ++j) {
      const float xhat = (xr[j] - mu[j]) * inv[j];
      const float k = (gamma ? gamma[j] : 1.0f) * inv[j];
      o[j] = k * (g[j] - inv_n * (sum_dy[j] + xhat * sum_dy_xhat[j]));
    }
  }
}

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
  // From the spec, not the bound pointers: the model asks before it binds the tensors.
  bool has_trainable() const override { return spec_.scale || spec_.center; }
  // Per column: batch mean, 1/sqrt(var + eps), and two gradient sums.
  index_t scratch_floats(index_t) const override { return 4 * out_dim_; }

  // Columns are independent, so each thread takes a range of them through every pass; every
  // per-column reduction still runs over the rows in order, so results do not depend on the split.
  void forward(const float* x, float* y, index_t n, float* s, const Pass& pass) override {
    detail::parallel_chunks(WorkKind::elementwise, out_dim_, 3.0 * n, [&](index_t j0, index_t j1) {
      forward_columns(x, y, n, s, pass.training && !pass.frozen, j0, j1);
    });
  }

  void backward(const float* x, const float*, float* dy, float* dx, index_t n, float* s,
                const Pass& pass) override {
    if (pass.frozen) {  // y = x * a + c with constant a, c: dx = dy * a
      if (!dx) return;
      float *a = s + 2 * out_dim_, *zero = s + 3 * out_dim_;  // c is no longer needed
      for (index_t j = 0; j < out_dim_; ++j) zero[j] = 0.0f;
      detail::parallel_chunks(WorkKind::elementwise, out_dim_, 1.0 * n, [&](index_t j0, index_t j1) {
        scale_shift(dy, dx, n, out_dim_, j0, j1, a, zero);
      });
      return;
    }
    detail::parallel_chunks(WorkKind::elementwise, out_dim_, 4.0 * n, [&](index_t j0, index_t j1) {
      backward_columns(x, dy, dx, n, s, j0, j1);
    });
  }

 private:
  void forward_columns(const float* x, float* y, index_t n, float* s, bool training, index_t j0,
                       index_t j1) {
    const index_t d = out_dim_;
    float *mu = s, *inv = s + d;
    if (training) {
      batch_statistics(x, n, mu, inv, j0, j1);
    } else {
      for (index_t j = j0; j < j1; ++j) {
        mu[j] = mean_[j], inv[j] = 1.0f / std::sqrt(var_[j] + spec_.epsilon);
      }
    }
    // y = x * a + c with a = gamma * inv, c = beta - mu * a.
    float *a = s + 2 * d, *c = s + 3 * d;
    for (index_t j = j0; j < j1; ++j) {
      a[j] = (gamma_ ? gamma_[j] : 1.0f) * inv[j];
      c[j] = (beta_ ? beta_[j] : 0.0f) - mu[j] * a[j];
    }
    scale_shift(x, y, n, d, j0, j1, a, c);
  }

  void backward_columns(const float* x, const float* dy, float* dx, index_t n, float* s,
                        index_t j0, index_t j1) {
    const index_t d = out_dim_;
    const float *mu = s, *inv = s + d;
    float *sum_dy = s + 2 * d, *sum_dy_xhat = s + 3 * d;  // a and c are no longer needed
    for (index_t j = j0; j < j1; ++j) sum_dy[j] = 0.0f, sum_dy_xhat[j] = 0.0f;
    gradient_sums(x, dy, n, d, j0, j1, mu, inv, sum_dy, sum_dy_xhat);
    if (dgamma_) for (index_t j = j0; j < j1; ++j) dgamma_[j] = sum_dy_xhat[j];
    if (dbeta_) for (index_t j = j0; j < j1; ++j) dbeta_[j] = sum_dy[j];
    if (dx) input_gradient(x, dy, dx, n, d, j0, j1, mu, inv, gamma_, sum_dy, sum_dy_xhat);
  }

  // Batch mean and 1/sqrt(biased variance + eps) of columns [j0, j1) (two passes for accuracy),
  // and the moving statistics' update.
  void batch_statistics(const float* x, index_t n, float* mu, float* inv, index_t j0, index_t j1) {
    const index_t d = out_dim_;
    column_sums(x + j0, n, j1 - j0, d, mu + j0);
    const float inv_n = 1.0f / static_cast<float>(n);
    for (index_t j = j0; j < j1; ++j) mu[j] *= inv_n, inv[j] = 0.0f;
    square_deviations(x, n, d, j0, j1, mu, inv);
    const float m = spec_.momentum;
    for (index_t j = j0; j < j1; ++j) {
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
