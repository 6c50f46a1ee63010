// What the metric families share: the argument reader, the registry entry each family lists its
// metrics in, the target row accessor and RowMean, the Keras MeanMetricWrapper over a row function.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fastmlp/metrics.h"

namespace fastmlp {
namespace metrics_detail {

// A spec's arguments with defaults; each accessor throws Keras's message for a wrong value.
class MetricArgs {
 public:
  explicit MetricArgs(const MetricSpec& spec) : spec_(spec) {}
  bool has(const char* key) const { return find(key) != nullptr; }
  double number(const char* key, double def) const;
  // An integer >= minimum; `expected` describes it for the message ("a positive integer").
  index_t integer(const char* key, index_t def, index_t minimum, const char* expected) const;
  bool flag(const char* key, bool def) const;
  // All values of `key`, or `def` when it is absent.
  std::vector<double> list(const char* key, std::vector<double> def) const;
  // A text option, one of `valid` ("" stands for Python's None), or `def` when it is absent.
  std::string text(const char* key, const char* def, const std::vector<const char*>& valid) const;
  [[noreturn]] void invalid(const char* key, const std::string& expected) const;

 private:
  const std::vector<double>* find(const char* key) const;
  const std::string* find_text(const char* key) const;
  double scalar(const char* key) const;
  const MetricSpec& spec_;
};

using MetricFactory = std::unique_ptr<Metric> (*)(const MetricSpec& spec, const MetricArgs& args);

// One line of a family's table: the kind, the arguments it takes, numbers or text (others are
// refused) and its factory. A new metric is a row function or class plus one entry.
struct MetricEntry {
  const char* kind;
  std::vector<const char*> args;
  MetricFactory make;
};

const std::vector<MetricEntry>& accuracy_metrics();
const std::vector<MetricEntry>& regression_metrics();
const std::vector<MetricEntry>& confusion_metrics();
const std::vector<MetricEntry>& f_score_metrics();
const std::vector<MetricEntry>& loss_metrics();

// Row i's targets as dense values: the dense row, or the one-hot row of its label.
struct TargetRow {
  const float* dense;
  std::int32_t label;
  float operator[](index_t j) const { return dense ? dense[j] : static_cast<float>(j == label); }
};

inline TargetRow target_row(const Targets& t, index_t i, index_t k) {
  return t.dense ? TargetRow{t.dense + i * k, -1} : TargetRow{nullptr, t.labels[i]};
}

inline double row_weight(const Targets& t, index_t i) {
  return t.sample_weight ? static_cast<double>(t.sample_weight[i]) : 1.0;
}

// numpy.argmax (and so JAX's): the first maximum, or the first NaN if there is one.
inline index_t argmax_row(const float* r, index_t k) {
  index_t best = 0;
  for (index_t j = 0; j < k; ++j) {
    if (r[j] != r[j]) return j;
    if (r[j] > r[best]) best = j;
  }
  return best;
}

// Keras's MeanMetricWrapper: state (sum of w * value, sum of w), result finish(total / count), 0
// before any weight. Row is a small value type with
//   double value(const float* p, TargetRow y, index_t k) const;  the per-sample value
//   double finish(double mean) const;                              mean -> result
//   static constexpr bool kNeedsLabels;
template <class Row>
class RowMean final : public MeanMetric {
 public:
  RowMean(const MetricSpec& spec, Row row) : MeanMetric(spec, 2), row_(row) {}

  void update_state(const float* p, index_t n, index_t k, const Targets& t) override {
    double total = 0.0, count = 0.0;
    if (!t.sample_weight) {
      for (index_t i = 0; i < n; ++i) total += row_.value(p + i * k, target_row(t, i, k), k);
      count = static_cast<double>(n);
    } else {
      for (index_t i = 0; i < n; ++i) {
        const double w = row_weight(t, i);
        total += w * row_.value(p + i * k, target_row(t, i, k), k);
        count += w;
      }
    }
    state_[0] += total;
    state_[1] += count;
  }
  void write_result(double* out) const override {
    out[0] = row_.finish(state_[1] != 0.0 ? state_[0] / state_[1] : 0.0);
  }
  void values(const float* p, index_t n, index_t k, const Targets& t, double* out) const override {
    for (index_t i = 0; i < n; ++i) out[i] = row_.value(p + i * k, target_row(t, i, k), k);
  }
  bool needs_labels() const override { return Row::kNeedsLabels; }

 private:
  Row row_;
};

template <class Row>
std::unique_ptr<Metric> make_row_mean(const MetricSpec& spec, Row row) {
  return std::make_unique<RowMean<Row>>(spec, row);
}

// Keras's MeanMetricWrapper over a loss function (the cross-entropy, KL, hinge metrics, MAPE, ...):
// the weighted mean of sign times the core's per-sample losses, the training loop's loss code.
// Integer labels against several outputs are read as one-hot rows.
class LossMean final : public MeanMetric {
 public:
  LossMean(const MetricSpec& spec, const LossSpec& loss, double sign);
  void update_state(const float* p, index_t n, index_t k, const Targets& t) override;
  void write_result(double* out) const override;
  void values(const float* p, index_t n, index_t k, const Targets& t, double* out) const override;
  bool needs_labels() const override;

 private:
  LossSpec loss_;
  double sign_;
};

// A metric whose state is `per_column` sums for each prediction column, then `fixed` more
// (F1Score's and R2Score's per-class counts), sized by build(k): empty until then.
class PerColumnMetric : public Metric {
 public:
  void build(index_t k) override;
  void set_state(const std::vector<double>& state) override;
  std::unique_ptr<Metric> clone() const override;

 protected:
  PerColumnMetric(const MetricSpec& spec, std::size_t per_column, std::size_t fixed)
      : Metric(spec, 0), per_column_(per_column), fixed_(fixed) {}
  index_t width() const { return width_; }  // 0 until built
  // Column j of the c-th per-column sum, and the f-th fixed one.
  double* column_sums(std::size_t c) { return state_.data() + c * width_; }
  const double* column_sums(std::size_t c) const { return state_.data() + c * width_; }
  double& fixed_sum(std::size_t f) { return state_[per_column_ * width_ + f]; }
  double fixed_sum(std::size_t f) const { return state_[per_column_ * width_ + f]; }

 private:
  std::size_t per_column_, fixed_;
  index_t width_ = 0;
};

}  // namespace metrics_detail
}  // namespace fastmlp
