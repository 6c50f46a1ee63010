// Regression metrics (keras/src/metrics/regression_metrics.py): means over rows of a per-row error,
// in double. Each is a row function for RowMean and one table entry.
#include <cmath>

#include "nn/metrics/metric_impl.h"

namespace fastmlp {
namespace metrics_detail {
namespace {

struct MeanSquaredError {
  static constexpr bool kNeedsLabels = false;
  bool root;  // RootMeanSquaredError: sqrt of the mean over all rows
  double value(const float* p, TargetRow y, index_t k) const {
    double s = 0.0;
    for (index_t j = 0; j < k; ++j) {
      const double e = static_cast<double>(y[j]) - p[j];
      s += e * e;
    }
    return s / static_cast<double>(k);
  }
  double finish(double mean) const { return root ? std::sqrt(mean) : mean; }
};

struct MeanAbsoluteError {
  static constexpr bool kNeedsLabels = false;
  double value(const float* p, TargetRow y, index_t k) const {
    double s = 0.0;
    for (index_t j = 0; j < k; ++j) s += std::fabs(static_cast<double>(y[j]) - p[j]);
    return s / static_cast<double>(k);
  }
  double finish(double mean) const { return mean; }
};

}  // namespace

const std::vector<MetricEntry>& regression_metrics() {
  static const std::vector<MetricEntry> table = {
      {"mean_squared_error", {},
       [](const MetricSpec& s, const MetricArgs&) {
         return make_row_mean(s, MeanSquaredError{false});
       }},
      {"mean_absolute_error", {},
       [](const MetricSpec& s, const MetricArgs&) {
         return make_row_mean(s, MeanAbsoluteError{});
       }},
      {"root_mean_squared_error", {},
       [](const MetricSpec& s, const MetricArgs&) {
         return make_row_mean(s, MeanSquaredError{true});
       }},
  };
  return table;
}

}  // namespace metrics_detail
}  // namespace fastmlp
