// FBetaScore and F1Score (keras/src/metrics/f_score_metrics.py): per class, the weighted true
// positives, false positives, false negatives and targets, then Keras's formula with its
// epsilons; average=None gives one score per class, "micro" pools the counts, "macro" averages
// the scores, "weighted" weighs them by the classes' target sums.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "nn/metrics/metric_impl.h"

namespace fastmlp {
namespace metrics_detail {
namespace {

constexpr double kEpsilon = 1e-7;  // keras.backend.epsilon()

enum class Average { none, micro, macro, weighted };

class FBetaScore final : public PerColumnMetric {
 public:
  // threshold < 0: Keras's None, a row's maxima (when not ~0) are its positive predictions.
  FBetaScore(const MetricSpec& spec, Average average, double beta, float threshold)
      : PerColumnMetric(spec, 4, 0), average_(average), beta2_(beta * beta),
        threshold_(threshold) {}

  // Keras: y_pred > threshold, or y_pred >= max(row) and |y_pred| > 1e-9 (a row holding NaN has
  // a NaN maximum: nothing predicted); y_true is used as given (soft targets count partly).
  void update_state(const float* p, index_t n, index_t k, const Targets& t) override {
    build(k);
    double* tp = column_sums(0);
    double* fp = column_sums(1);
    double* fn = column_sums(2);
    double* support = column_sums(3);
    for (index_t i = 0; i < n; ++i) {
      const float* row = p + i * k;
      const TargetRow y = target_row(t, i, k);
      const double w = row_weight(t, i);
      float top = -INFINITY;
      for (index_t j = 0; threshold_ < 0.0f && j < k; ++j) {
        if (row[j] != row[j]) {
          top = NAN;
          break;
        }
        top = std::max(top, row[j]);
      }
      for (index_t j = 0; j < k; ++j) {
        const bool hit = threshold_ < 0.0f ? row[j] >= top && std::fabs(row[j]) > 1e-9f
                                           : row[j] > threshold_;
        const double yp = hit ? 1.0 : 0.0, yt = y[j];
        tp[j] += w * yp * yt;
        fp[j] += w * yp * (1.0 - yt);
        fn[j] += w * (1.0 - yp) * yt;
        support[j] += w * yt;
      }
    }
  }

  std::vector<index_t> result_shape() const override {
    if (average_ == Average::none) return {width()};
    return {};
  }

  void write_result(double* out) const override {
    const index_t k = width();
    if (k == 0) {  // nothing seen yet: no classes
      if (average_ != Average::none) out[0] = 0.0;
      return;
    }
    const double* tp = column_sums(0);
    const double* fp = column_sums(1);
    const double* fn = column_sums(2);
    const double* support = column_sums(3);
    if (average_ == Average::micro) {
      double stp = 0, sfp = 0, sfn = 0;
      for (index_t j = 0; j < k; ++j) stp += tp[j], sfp += fp[j], sfn += fn[j];
      out[0] = score(stp, sfp, sfn);
      return;
    }
    double total = 0.0, support_sum = 0.0;
    for (index_t j = 0; j < k; ++j) support_sum += support[j];
    for (index_t j = 0; j < k; ++j) {
      const double f = score(tp[j], fp[j], fn[j]);
      if (average_ == Average::none) out[j] = f;
      total += average_ == Average::weighted ? f * support[j] / (support_sum + kEpsilon) : f;
    }
    if (average_ == Average::macro) out[0] = total / static_cast<double>(k);
    if (average_ == Average::weighted) out[0] = total;
  }

 private:
  double score(double tp, double fp, double fn) const {
    const double precision = tp / (tp + fp + kEpsilon), recall = tp / (tp + fn + kEpsilon);
    return precision * recall / (beta2_ * precision + recall + kEpsilon) * (1.0 + beta2_);
  }

  Average average_;
  double beta2_;
  float threshold_;
};

// Keras's checks: average one of None, "micro", "macro", "weighted"; beta > 0; threshold None
// or in (0, 1]. (Keras also refuses ints for beta and threshold; the Python classes do.)
std::unique_ptr<Metric> make_fbeta(const MetricSpec& s, const MetricArgs& a, double beta) {
  const std::string average = a.text("average", "", {"", "micro", "macro", "weighted"});
  const Average avg = average.empty() ? Average::none
                      : average == "micro" ? Average::micro
                      : average == "macro" ? Average::macro
                                           : Average::weighted;
  if (!(beta > 0.0)) a.invalid("beta", "a float > 0");
  const double threshold = a.number("threshold", -1.0);
  if (a.has("threshold") && !(threshold > 0.0 && threshold <= 1.0)) {
    a.invalid("threshold", "a float in (0, 1] or None");
  }
  return std::make_unique<FBetaScore>(s, avg, beta, static_cast<float>(threshold));
}

}  // namespace

const std::vector<MetricEntry>& f_score_metrics() {
  static const std::vector<MetricEntry> table = {
      {"fbeta_score", {"average", "beta", "threshold"},
       [](const MetricSpec& s, const MetricArgs& a) {
         return make_fbeta(s, a, a.number("beta", 1.0));
       }},
      {"f1_score", {"average", "threshold"},
       [](const MetricSpec& s, const MetricArgs& a) { return make_fbeta(s, a, 1.0); }},
  };
  return table;
}

}  // namespace metrics_detail
}  // namespace fastmlp
