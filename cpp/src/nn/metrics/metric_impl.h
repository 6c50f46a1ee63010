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
  [[noreturn]] void invalid(const char* key, const std::string& expected) const;

 private:
  const std::vector<double>* find(const char* key) const;
  double scalar(const char* key) const;
  const MetricSpec& spec_;
};

using MetricFactory = std::unique_ptr<Metric> (*)(const MetricSpec& spec, const MetricArgs& args);

// One line of a family's table: the kind, the arguments it takes (others are refused) and its
// factory. A new metric is a row function or class plus one entry.
struct MetricEntry {
  const char* kind;
  std::vector<const char*> args;
  MetricFactory make;
};

const std::vector<MetricEntry>& accuracy_metrics();
const std::vector<MetricEntry>& regression_metrics();
const std::vector<MetricEntry>& confusion_metrics();

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
  double result() const override {
    return row_.finish(state_[1] != 0.0 ? state_[0] / state_[1] : 0.0);
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

}  // namespace metrics_detail
}  // namespace fastmlp
