// Keras 3's probabilistic and regression losses beyond MSE/MAE/Huber (keras/src/losses/losses.py):
// kl_divergence, poisson, log_cosh, mean_squared_logarithmic_error,
// mean_absolute_percentage_error, cosine_similarity. Each row function returns the per-sample
// loss in double and writes d loss / d p_j * gscale; the clips, epsilons and the gradients at
// their bounds are Keras's (JAX's, for ties).
#include <algorithm>
#include <cmath>

#include "nn/losses/loss_row.h"

namespace fastmlp {
namespace loss_detail {

// sum_j yc * log(yc / pc), y and p clipped to [epsilon, 1].
double kl_divergence_row(const Row& r) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double x = r.p[j], yc = std::clamp(r.y(j), kEpsilon, 1.0);
    const double pc = std::clamp(x, kEpsilon, 1.0);
    s += yc * std::log(yc / pc);
    if (r.g) r.g[j] = static_cast<float>(-yc / pc * clip_slope(x, kEpsilon, 1.0) * r.gscale);
  }
  return s;
}

// mean_j p - y * log(p + epsilon).
double poisson_row(const Row& r) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double x = r.p[j], y = r.y(j);
    s += x - y * std::log(x + kEpsilon);
    if (r.g) r.g[j] = static_cast<float>((1.0 - y / (x + kEpsilon)) / r.k * r.gscale);
  }
  return s / r.k;
}

// mean_j log(cosh(e)), e = p - y, as Keras writes it: e + softplus(-2e) - log(2) (finite for any
// e); d/de = tanh(e).
double log_cosh_row(const Row& r) {
  const double log2 = std::log(2.0);
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double e = r.p[j] - r.y(j), z = -2.0 * e;
    s += e + std::max(z, 0.0) + std::log1p(std::exp(-std::fabs(z))) - log2;
    if (r.g) r.g[j] = static_cast<float>(std::tanh(e) / r.k * r.gscale);
  }
  return s / r.k;
}

// mean_j (log(max(p, epsilon) + 1) - log(max(y, epsilon) + 1))^2.
double msle_row(const Row& r) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double x = r.p[j], pc = std::max(x, kEpsilon);
    const double d = std::log1p(pc) - std::log1p(std::max(r.y(j), kEpsilon));
    s += d * d;
    if (r.g) {
      r.g[j] = static_cast<float>(2.0 * d / (pc + 1.0) * clip_slope(x, kEpsilon, INFINITY) / r.k *
                                  r.gscale);
    }
  }
  return s / r.k;
}

// 100 * mean_j |(y - p) / max(|y|, epsilon)|; JAX's |u| has slope +1 at u = 0, so p = y gives
// d/dp = -1 / scale.
double mape_row(const Row& r) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double y = r.y(j), e = r.p[j] - y, scale = std::max(std::fabs(y), kEpsilon);
    s += std::fabs(e) / scale;
    if (r.g) r.g[j] = static_cast<float>(100.0 * (e > 0 ? 1.0 : -1.0) / scale / r.k * r.gscale);
  }
  return 100.0 * s / r.k;
}

// -sum_j y_j * a * p_j * b with Keras's l2 normalization a = min(rsqrt(sum y^2), 1 / epsilon),
// b likewise for p (a zero row gives 0, not NaN). With b unclipped,
// d/dp_j = -a * b * (y_j - (y . p) * b^2 * p_j); clipped, b is a constant.
double cosine_similarity_row(const Row& r) {
  constexpr double kMaxInvNorm = 1e7;  // 1 / epsilon as float32
  double yy = 0, pp = 0, yp = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double y = r.y(j), x = r.p[j];
    yy += y * y;
    pp += x * x;
    yp += y * x;
  }
  const double a = std::min(1.0 / std::sqrt(yy), kMaxInvNorm);
  const double inv = 1.0 / std::sqrt(pp), b = std::min(inv, kMaxInvNorm);
  if (r.g) {
    // JAX's minimum splits a tie, so the free part counts half when inv == 1 / epsilon exactly.
    const double free = inv < kMaxInvNorm ? 1.0 : (inv == kMaxInvNorm ? 0.5 : 0.0);
    for (index_t j = 0; j < r.k; ++j) {
      const double y = r.y(j);
      const double d = -a * b * (y - free * yp * b * b * r.p[j]);
      r.g[j] = static_cast<float>(d * r.gscale);
    }
  }
  return -a * b * yp;
}

}  // namespace loss_detail
}  // namespace fastmlp
