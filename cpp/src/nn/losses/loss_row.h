// What the loss families share: one row of a batch as the row functions read it, the per-batch
// mapping of its targets, and the row functions of the families outside losses.cpp.
#pragma once
#include <cstdint>

#include "fastmlp/losses.h"

namespace fastmlp {
namespace loss_detail {

// Keras's backend.epsilon(), as the float32 value its clips and guards use.
const double kEpsilon = static_cast<double>(1e-7f);

// Targets are read as y(j) = base(j) * a + b, base the dense row or the one-hot label: label
// smoothing, and hinge's {0, 1} -> {-1, 1}, without a buffer (the training loop allocates nothing).
struct TargetMap {
  double a = 1.0, b = 0.0;
};

// One row of the batch: predictions p (k), targets, gradient row g (k, or null) to be written
// scaled by gscale = w_i / n. Each row function returns the unweighted per-sample loss.
struct Row {
  const float* p;
  const float* dense;  // k targets, or null for a sparse label
  std::int32_t label;
  double a, b;
  index_t k;
  float* g;
  double gscale;
  const double* exps = nullptr;  // softmax from logits: exp(p_j - max p), when computed ahead
  double exps_max = 0.0;         // ... and that max p
  double y(index_t j) const { return (dense ? double(dense[j]) : double(j == label)) * a + b; }
};

// The mapping of a batch's targets: label smoothing (categorical: y(1-s) + s/k; binary:
// y(1-s) + s/2; sparse labels act as one-hot rows, smoothed like categorical ones), and for hinge
// and squared_hinge 2y - 1 when every target of the batch is 0 or 1 (Keras decides per call).
TargetMap target_map(const LossSpec& spec, index_t n, index_t k, const Targets& t);

// The gradient factor of Keras's clip(x, lo, hi) (and of maximum / minimum against a constant):
// 1 inside, 0 outside, 1/2 at a bound (JAX splits a tie between the two arguments).
inline double clip_slope(double x, double lo, double hi) {
  return x > lo && x < hi ? 1.0 : (x == lo || x == hi ? 0.5 : 0.0);
}

// Row functions of regression_losses.cpp and hinge_losses.cpp (keras/src/losses/losses.py).
double kl_divergence_row(const Row& r);
double poisson_row(const Row& r);
double log_cosh_row(const Row& r);
double msle_row(const Row& r);
double mape_row(const Row& r);
double cosine_similarity_row(const Row& r);
double hinge_row(const Row& r, bool squared);
double categorical_hinge_row(const Row& r);

}  // namespace loss_detail
}  // namespace fastmlp
