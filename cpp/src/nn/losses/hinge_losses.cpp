// Keras 3's hinge losses (keras/src/losses/losses.py): hinge, squared_hinge (targets in {-1, 1};
// a batch of {0, 1} targets is mapped to them by target_map) and categorical_hinge. Gradients at
// the kink are JAX's: maximum splits a tie, max over a row shares it between the maxima.
#include <algorithm>
#include <cmath>

#include "nn/losses/loss_row.h"

namespace fastmlp {
namespace loss_detail {

// mean_j max(1 - y_j p_j, 0), or its square.
double hinge_row(const Row& r, bool squared) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double y = r.y(j), m = 1.0 - y * r.p[j], h = std::max(m, 0.0);
    s += squared ? h * h : h;
    if (r.g) {
      const double d = squared ? -2.0 * y * h : -y * clip_slope(m, 0.0, INFINITY);
      r.g[j] = static_cast<float>(d / r.k * r.gscale);
    }
  }
  return s / r.k;
}

// max(neg - pos + 1, 0) with pos = sum_j y_j p_j and neg = max_j (1 - y_j) p_j.
double categorical_hinge_row(const Row& r) {
  double pos = 0, neg = -INFINITY;
  for (index_t j = 0; j < r.k; ++j) {
    const double y = r.y(j);
    pos += y * r.p[j];
    neg = std::max(neg, (1.0 - y) * r.p[j]);
  }
  const double m = neg - pos + 1.0, loss = std::max(m, 0.0);
  if (r.g) {
    index_t ties = 0;
    for (index_t j = 0; j < r.k; ++j) ties += (1.0 - r.y(j)) * r.p[j] == neg;
    const double slope = clip_slope(m, 0.0, INFINITY) * r.gscale;
    for (index_t j = 0; j < r.k; ++j) {
      const double y = r.y(j), at_max = (1.0 - y) * r.p[j] == neg ? 1.0 / ties : 0.0;
      r.g[j] = static_cast<float>(((1.0 - y) * at_max - y) * slope);
    }
  }
  return loss;
}

}  // namespace loss_detail
}  // namespace fastmlp
