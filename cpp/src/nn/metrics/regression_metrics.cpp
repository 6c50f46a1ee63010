// Regression metrics (keras/src/metrics/regression_metrics.py): means over rows of a per-row error,
// in double (each a row function for RowMean and one table entry), and R2Score.
#include <cmath>
#include <string>

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

enum class Aggregation { none, uniform, variance_weighted };

// Keras's R2Score: per output column, the weighted sums of y, y^2, (y - p)^2 and the weights,
// plus the number of values seen (unweighted, as Keras's num_samples); r2 = 1 - residual / total
// with total = sum(y^2) - sum(y) * mean(y), an infinite r2 (total 0) read as 0, 0 / 0 NaN.
class R2Score final : public PerColumnMetric {
 public:
  R2Score(const MetricSpec& spec, Aggregation aggregation, index_t num_regressors)
      : PerColumnMetric(spec, 4, 1), aggregation_(aggregation), num_regressors_(num_regressors) {}

  void update_state(const float* p, index_t n, index_t k, const Targets& t) override {
    build(k);
    double* sum = column_sums(0);
    double* squared_sum = column_sums(1);
    double* residual = column_sums(2);
    double* count = column_sums(3);
    for (index_t i = 0; i < n; ++i) {
      const TargetRow y = target_row(t, i, k);
      const double w = row_weight(t, i);
      for (index_t j = 0; j < k; ++j) {
        const double yj = y[j], e = yj - p[i * k + j];
        sum[j] += w * yj;
        squared_sum[j] += w * yj * yj;
        residual[j] += w * e * e;
        count[j] += w;
      }
    }
    fixed_sum(0) += static_cast<double>(n * k);
  }

  std::vector<index_t> result_shape() const override {
    if (aggregation_ == Aggregation::none) return {width()};
    return {};
  }

  void write_result(double* out) const override {
    const index_t k = width();
    if (k == 0) {  // nothing seen yet: 0 / 0, as Keras's zero state gives
      if (aggregation_ != Aggregation::none) out[0] = NAN;
      return;
    }
    const double* sum = column_sums(0);
    const double* squared_sum = column_sums(1);
    const double* residual = column_sums(2);
    const double* count = column_sums(3);
    double mean_score = 0.0, weighted = 0.0, total_sum = 0.0;
    for (index_t j = 0; j < k; ++j) {
      const double total = squared_sum[j] - sum[j] * (sum[j] / count[j]);
      double raw = 1.0 - residual[j] / total;
      if (std::isinf(raw)) raw = 0.0;
      if (aggregation_ == Aggregation::none) out[j] = adjusted(raw);
      mean_score += raw / static_cast<double>(k);
      weighted += total * raw;
      total_sum += total;
    }
    if (aggregation_ == Aggregation::uniform) out[0] = adjusted(mean_score);
    if (aggregation_ == Aggregation::variance_weighted) out[0] = adjusted(weighted / total_sum);
  }

 private:
  // Keras's adjusted R2 for num_regressors p != 0 over N values:
  // 1 - (1 - r2)(N - 1) / (N - p - 1), the plain r2 when p >= N - 1 (Keras warns then; the
  // Python class does).
  double adjusted(double r2) const {
    const double n = fixed_sum(0), p = static_cast<double>(num_regressors_);
    if (num_regressors_ == 0 || p >= n - 1.0) return r2;
    return 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0);
  }

  Aggregation aggregation_;
  index_t num_regressors_;
};

std::unique_ptr<Metric> make_r2(const MetricSpec& s, const MetricArgs& a) {
  const std::string agg = a.text("class_aggregation", "uniform_average",
                                 {"", "uniform_average", "variance_weighted_average"});
  const Aggregation aggregation = agg.empty()                 ? Aggregation::none
                                  : agg == "uniform_average" ? Aggregation::uniform
                                                             : Aggregation::variance_weighted;
  const index_t p = a.integer("num_regressors", 0, 0, "an integer >= 0");
  return std::make_unique<R2Score>(s, aggregation, p);
}

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
      {"r2_score", {"class_aggregation", "num_regressors"}, &make_r2},
  };
  return table;
}

}  // namespace metrics_detail
}  // namespace fastmlp
