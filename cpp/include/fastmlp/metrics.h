// Streaming metrics with Keras 3's contract: update_state(batch) accumulates, result() reads,
// reset_state() starts over. The training loop, evaluate and fastmlp.metrics objects used on their
// own all run these classes, so each metric has one implementation.
//
// A metric's whole state is a vector of sums (totals, counts, confusion counts per threshold), so
// the states of two shards of the data add up to the state of their union.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fastmlp/losses.h"

namespace fastmlp {

// What make_metric builds: `kind` is the Keras function or class name in snake case
// ("binary_accuracy", "auc", "precision", ...), `name` what logs call it (empty: the kind), `args`
// Keras's numeric constructor arguments by name, each a list of numbers (a scalar is a list of
// one, a flag 0 or 1), `options` its text ones (average="macro"). Absent arguments take Keras's
// defaults.
struct MetricSpec {
  std::string kind;
  std::string name;
  std::vector<std::pair<std::string, std::vector<double>>> args;
  std::vector<std::pair<std::string, std::string>> options;

  MetricSpec() = default;
  MetricSpec(const char* kind_name) : kind(kind_name) {}  // NOLINT: {"binary_accuracy", ...}
  MetricSpec(std::string kind_name) : kind(std::move(kind_name)) {}  // NOLINT
};

class Metric {
 public:
  virtual ~Metric() = default;
  Metric(const Metric&) = delete;
  Metric& operator=(const Metric&) = delete;

  // Adds n rows of k predictions (row stride k) and their targets: dense rows of k values, or one
  // integer label per row in [0, k) (read as a one-hot row by metrics that take dense targets).
  // Rows are weighted by t.sample_weight when it is not null. Allocates nothing; the caller has
  // checked the arguments (check_width, the label range).
  virtual void update_state(const float* y_pred, index_t n, index_t k, const Targets& t) = 0;
  void reset_state();

  // The result: one number (result_shape() is {}) for most metrics, one value per threshold or
  // per class (shape {m}) for confusion counts at several thresholds, F1Score(average=None),
  // R2Score(class_aggregation=None). write_result writes result_size() values.
  virtual std::vector<index_t> result_shape() const { return {}; }
  index_t result_size() const;
  virtual void write_result(double* out) const = 0;
  std::vector<double> result_values() const;
  // The value of a scalar result; std::logic_error for a metric with a shape.
  double result() const;

  const std::string& name() const { return spec_.name; }
  const MetricSpec& spec() const { return spec_; }
  // True for the sparse_* metrics, which read integer labels only.
  virtual bool needs_labels() const { return false; }
  // Throws std::invalid_argument when the metric cannot read rows of k predictions (a class_id
  // outside [0, k)).
  virtual void check_width(index_t k) const;

  // Metrics whose state depends on the prediction width (per-class counts) size it for k here,
  // once: compile calls it with the model's width, a standalone metric's first update with the
  // batch's. A later, different width is a std::invalid_argument (Keras's variables, built
  // once, fix theirs too). No-op for the others.
  virtual void build(index_t k) { (void)k; }

  const std::vector<double>& state() const { return state_; }
  // std::invalid_argument on a size mismatch (a width-sized metric not built yet takes the size
  // of a built one's state).
  virtual void set_state(const std::vector<double>& state);
  // The same metric (built for the same width) with a zero state.
  virtual std::unique_ptr<Metric> clone() const;

 protected:
  Metric(MetricSpec spec, std::size_t state_size);
  std::vector<double> state_;

 private:
  MetricSpec spec_;
};

// A metric whose result is a function of the weighted mean of one value per row (accuracies,
// errors, cross-entropies): Keras's MeanMetricWrapper. values() are the Keras metric function's
// per-sample values.
class MeanMetric : public Metric {
 public:
  virtual void values(const float* y_pred, index_t n, index_t k, const Targets& t,
                      double* out) const = 0;

 protected:
  using Metric::Metric;
};

// std::invalid_argument for an unknown kind or argument, naming the valid ones, and for a value
// Keras refuses ("Received an invalid value for `k`: expected a positive integer. Received: k=0").
std::unique_ptr<Metric> make_metric(const MetricSpec& spec);
std::vector<std::string> metric_kinds();

}  // namespace fastmlp
