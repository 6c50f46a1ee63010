// Accuracy metrics (keras/src/metrics/accuracy_metrics.py): the mean over rows of a per-row hit.
// Each is a row function for RowMean and one table entry.
#include <cmath>

#include "nn/metrics/metric_impl.h"

namespace fastmlp {
namespace metrics_detail {
namespace {

// Keras: cast(y_pred > threshold) == y_true, averaged over the row, so a target hits only when it
// is exactly 0 or 1; NaN predictions count as 0 (NaN > t is false).
struct BinaryAccuracy {
  static constexpr bool kNeedsLabels = false;
  float threshold;
  double value(const float* p, TargetRow y, index_t k) const {
    index_t hits = 0;
    for (index_t j = 0; j < k; ++j) hits += static_cast<float>(p[j] > threshold) == y[j];
    return static_cast<double>(hits) / static_cast<double>(k);
  }
  double finish(double mean) const { return mean; }
};

// argmax(y_true) == argmax(y_pred), argmax as numpy's (the first NaN wins).
struct CategoricalAccuracy {
  static constexpr bool kNeedsLabels = false;
  double value(const float* p, TargetRow y, index_t k) const {
    const index_t target = y.dense ? argmax_row(y.dense, k) : y.label;
    return argmax_row(p, k) == target ? 1.0 : 0.0;
  }
  double finish(double mean) const { return mean; }
};

struct SparseCategoricalAccuracy {
  static constexpr bool kNeedsLabels = true;
  double value(const float* p, TargetRow y, index_t k) const {
    return argmax_row(p, k) == y.label ? 1.0 : 0.0;
  }
  double finish(double mean) const { return mean; }
};

// Keras's in_top_k (JAX backend): rank = 1 + the number of scores strictly above the target's
// (a NaN target score ranks as -inf, NaN scores are above nothing); a hit when rank <= k.
bool in_top_k(const float* p, index_t k, index_t target, index_t top) {
  const float at = p[target] != p[target] ? -INFINITY : p[target];
  index_t above = 0;
  for (index_t j = 0; j < k; ++j) above += p[j] > at;
  return above + 1 <= top;
}

struct TopKCategoricalAccuracy {
  static constexpr bool kNeedsLabels = false;
  index_t top;
  double value(const float* p, TargetRow y, index_t k) const {
    const index_t target = y.dense ? argmax_row(y.dense, k) : y.label;
    return in_top_k(p, k, target, top) ? 1.0 : 0.0;
  }
  double finish(double mean) const { return mean; }
};

struct SparseTopKCategoricalAccuracy {
  static constexpr bool kNeedsLabels = true;
  index_t top;
  double value(const float* p, TargetRow y, index_t k) const {
    return in_top_k(p, k, y.label, top) ? 1.0 : 0.0;
  }
  double finish(double mean) const { return mean; }
};

index_t top_k_arg(const MetricArgs& a) { return a.integer("k", 5, 1, "a positive integer"); }

}  // namespace

const std::vector<MetricEntry>& accuracy_metrics() {
  static const std::vector<MetricEntry> table = {
      {"binary_accuracy", {"threshold"},
       [](const MetricSpec& s, const MetricArgs& a) {
         return make_row_mean(s, BinaryAccuracy{static_cast<float>(a.number("threshold", 0.5))});
       }},
      {"categorical_accuracy", {},
       [](const MetricSpec& s, const MetricArgs&) {
         return make_row_mean(s, CategoricalAccuracy{});
       }},
      {"sparse_categorical_accuracy", {},
       [](const MetricSpec& s, const MetricArgs&) {
         return make_row_mean(s, SparseCategoricalAccuracy{});
       }},
      {"top_k_categorical_accuracy", {"k"},
       [](const MetricSpec& s, const MetricArgs& a) {
         return make_row_mean(s, TopKCategoricalAccuracy{top_k_arg(a)});
       }},
      {"sparse_top_k_categorical_accuracy", {"k"},
       [](const MetricSpec& s, const MetricArgs& a) {
         return make_row_mean(s, SparseTopKCategoricalAccuracy{top_k_arg(a)});
       }},
  };
  return table;
}

}  // namespace metrics_detail
}  // namespace fastmlp
