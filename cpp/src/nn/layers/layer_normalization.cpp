// LayerNormalization with Keras semantics: each row of `group` floats (a sample, or each slice
// along the normalized trailing axes) is normalized by its own mean and biased variance, then
// scaled by gamma and shifted by beta (per position in the row). rms_scaling (deprecated in Keras,
// kept for its files): x * rsqrt(variance + epsilon) * gamma, without centering or beta.
// Row sums run in a fixed order (8 partial sums), the gamma/beta gradients over rows in order,
// so results depend neither on the thread count nor on the ISA build.
#include <cmath>
#include <stdexcept>
#include <string>

#include "nn/kernels/isa_variants.h"
#include "nn/kernels/parallel.h"
#include "nn/layers/layer_factories.h"
#include "nn/layers/param_broadcast.h"

namespace fastmlp {
namespace {

// sum of v[0..g) as 8 interleaved partial sums (vectorizable, one fixed order).
FASTMLP_INLINE float row_sum(const float* v, index_t g) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t j = 0;
  for (; j + 8 <= g; j += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += v[j + k];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < g; ++j) s += v[j];
  return s;
}

FASTMLP_INLINE float row_sq_dev(const float* v, index_t g, float mu) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t j = 0;
  for (; j + 8 <= g; j += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += (v[j + k] - mu) * (v[j + k] - mu);
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < g; ++j) s += (v[j] - mu) * (v[j] - mu);
  return s;
}

FASTMLP_INLINE float row_dot(const float* a, const float* b, index_t g) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t j = 0;
  for (; j + 8 <= g; j += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[j + k] * b[j + k];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < g; ++j) s += a[j] * b[j];
  return s;
}

struct RowNorm {
  index_t g;
  float eps;
  bool rms;
  const float *gamma, *beta;  // either may be null
};

// Rows [r0, r1): mean and 1/sqrt(var + eps) into mu/inv, and y. Keras's form: with
// a = inv * gamma, y = x * a + (beta - mean * a) (rms: y = x * a).
FASTMLP_AVX2_VARIANT(void, norm_rows, (const float* x, float* y, index_t r0, index_t r1,
                                       RowNorm p, float* mu, float* inv),
                     (x, y, r0, r1, p, mu, inv)) {
  const index_t g = p.g;
  const float inv_g = 1.0f / static_cast<float>(g);
  for (index_t r = r0; r < r1; ++r) {
    const float* xr = x + r * g;
    float* yr = y + r * g;
    const float m = row_sum(xr, g) * inv_g;
    const float iv = 1.0f / std::sqrt(row_sq_dev(xr, g, m) * inv_g + p.eps);
    mu[r] = m, inv[r] = iv;
    for (index_t j = 0; j < g; ++j) {
      const float a = p.gamma ? iv * p.gamma[j] : iv;
      const float c = p.rms ? 0.0f : (p.beta ? p.beta[j] : 0.0f) - m * a;
      yr[j] = xr[j] * a + c;
    }
  }
}

// dx for rows [r0, r1), with t = dy * gamma per element (kept in dx while the sums are taken):
//   centered: dx = inv * (t - (sum t + xhat * sum t xhat) / g), xhat = (x - mu) * inv
//   rms:      dx = inv * t - inv^3 (x - mu) / g * sum(t x)
FASTMLP_AVX2_VARIANT(void, norm_input_grad, (const float* x, const float* dy, float* dx,
                                             index_t r0, index_t r1, RowNorm p, const float* mu,
                                             const float* inv),
                     (x, dy, dx, r0, r1, p, mu, inv)) {
  const index_t g = p.g;
  const float inv_g = 1.0f / static_cast<float>(g);
  for (index_t r = r0; r < r1; ++r) {
    const float *xr = x + r * g, *gr = dy + r * g;
    float* o = dx + r * g;
    const float m = mu[r], iv = inv[r];
    for (index_t j = 0; j < g; ++j) o[j] = p.gamma ? gr[j] * p.gamma[j] : gr[j];
    if (p.rms) {
      const float k = iv * iv * iv * row_dot(o, xr, g) * inv_g;
      for (index_t j = 0; j < g; ++j) o[j] = iv * o[j] - k * (xr[j] - m);
      continue;
    }
    const float s1 = row_sum(o, g);
    float s2 = 0.0f;
    {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      index_t j = 0;
      for (; j + 8 <= g; j += 8) {
        for (int k = 0; k < 8; ++k) acc[k] += o[j + k] * ((xr[j + k] - m) * iv);
      }
      s2 = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; j < g; ++j) s2 += o[j] * ((xr[j] - m) * iv);
    }
    for (index_t j = 0; j < g; ++j) {
      const float xhat = (xr[j] - m) * iv;
      o[j] = iv * (o[j] - (s1 + xhat * s2) * inv_g);
    }
  }
}

// Columns [j0, j1) of the gamma/beta gradients, over all `rows` rows in order: dgamma = sum
// dy * xhat (rms: dy * x * inv), dbeta = sum dy. Either output may be null.
FASTMLP_AVX2_VARIANT(void, param_grads, (const float* x, const float* dy, index_t rows,
                                         index_t j0, index_t j1, RowNorm p, const float* mu,
                                         const float* inv, float* dgamma, float* dbeta),
                     (x, dy, rows, j0, j1, p, mu, inv, dgamma, dbeta)) {
  const index_t g = p.g;
  for (index_t j = j0; j < j1; ++j) {
    if (dgamma) dgamma[j] = 0.0f;
    if (dbeta) dbeta[j] = 0.0f;
  }
  for (index_t r = 0; r < rows; ++r) {
    const float *xr = x + r * g, *gr = dy + r * g;
    const float m = p.rms ? 0.0f : mu[r], iv = inv[r];
    if (dgamma) for (index_t j = j0; j < j1; ++j) dgamma[j] += gr[j] * ((xr[j] - m) * iv);
    if (dbeta) for (index_t j = j0; j < j1; ++j) dbeta[j] += gr[j];
  }
}

class LayerNormalization final : public Layer {
 public:
  LayerNormalization(const LayerSpec& spec, index_t dim, index_t group)
      : Layer(dim, dim), spec_(spec), g_(group) {
    if (spec_.param_shape.empty()) spec_.param_shape = {g_};
  }

  std::vector<TensorDecl> tensors() const override {
    std::vector<TensorDecl> t;
    if (spec_.scale || spec_.rms_scaling) t.push_back({"gamma", spec_.param_shape, true});
    if (spec_.center && !spec_.rms_scaling) t.push_back({"beta", spec_.param_shape, true});
    return t;
  }
  void bind(const std::vector<float*>& values, const std::vector<float*>& grads) override {
    std::size_t i = 0;
    if (spec_.scale || spec_.rms_scaling) gamma_ = values[i], dgamma_ = grads[i], ++i;
    if (spec_.center && !spec_.rms_scaling) beta_ = values[i], dbeta_ = grads[i];
  }
  void initialize() override {
    index_t fan_in, fan_out;
    detail::keras_fans(spec_.param_shape, &fan_in, &fan_out);
    if (gamma_) fastmlp::initialize(spec_.gamma_initializer, gamma_, g_, fan_in, fan_out);
    if (beta_) fastmlp::initialize(spec_.beta_initializer, beta_, g_, fan_in, fan_out);
  }
  bool has_trainable() const override { return spec_.scale || spec_.center || spec_.rms_scaling; }
  // Per row: mean and 1/sqrt(var + eps).
  index_t scratch_floats(index_t n) const override { return 2 * n * (out_dim_ / g_); }

  void forward(const float* x, float* y, index_t n, float* s, const Pass&) override {
    const index_t rows = n * (out_dim_ / g_);
    const RowNorm p = params();
    detail::parallel_chunks(WorkKind::elementwise, rows, 4 * g_, [&](index_t r0, index_t r1) {
      norm_rows(x, y, r0, r1, p, s, s + rows);
    });
  }

  void backward(const float* x, const float*, float* dy, float* dx, index_t n, float* s,
                const Pass& pass) override {
    const index_t rows = n * (out_dim_ / g_);
    const RowNorm p = params();
    const float *mu = s, *inv = s + rows;
    if ((dgamma_ || dbeta_) && !pass.frozen) {
      detail::parallel_chunks(WorkKind::elementwise, g_, 3 * rows, [&](index_t j0, index_t j1) {
        param_grads(x, dy, rows, j0, j1, p, mu, inv, dgamma_, dbeta_);
      });
    }
    if (!dx) return;
    detail::parallel_chunks(WorkKind::elementwise, rows, 6 * g_, [&](index_t r0, index_t r1) {
      norm_input_grad(x, dy, dx, r0, r1, p, mu, inv);
    });
  }

 private:
  RowNorm params() const { return {g_, spec_.epsilon, spec_.rms_scaling, gamma_, beta_}; }

  LayerSpec spec_;
  index_t g_;
  float *gamma_ = nullptr, *dgamma_ = nullptr, *beta_ = nullptr, *dbeta_ = nullptr;
};

}  // namespace

namespace detail {
std::unique_ptr<Layer> make_layer_normalization(const LayerSpec& spec, index_t in_dim) {
  const index_t g = spec.group == 0 ? in_dim : spec.group;
  if (g < 1 || in_dim % g != 0) {
    throw std::invalid_argument("layer_normalization layer: invalid `group`, expected a divisor "
                                "of the input width " + std::to_string(in_dim) +
                                ". Received: group=" + std::to_string(spec.group));
  }
  if (!spec.param_shape.empty() && shape_size(spec.param_shape) != g) {
    throw std::invalid_argument("layer_normalization layer: `param_shape` must hold `group` (" +
                                std::to_string(g) + ") values");
  }
  if (!(spec.epsilon >= 0.0f && std::isfinite(spec.epsilon))) {
    throw std::invalid_argument("layer_normalization layer: invalid `epsilon`, expected a "
                                "finite float >= 0. Received: epsilon=" +
                                std::to_string(spec.epsilon));
  }
  return std::make_unique<LayerNormalization>(spec, in_dim, g);
}
}  // namespace detail
}  // namespace fastmlp
