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
// Keras's constructor arguments by name, each a list of numbers (a scalar is a list of one, a flag
// 0 or 1). Absent arguments take Keras's defaults.
struct MetricSpec {
  std::string kind;
  std::string name;
  std::vector<std::pair<std::string, std::vector<double>>> args;

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
  virtual double result() const = 0;
  void reset_state();

  const std::string& name() const { return spec_.name; }
  const MetricSpec& spec() const { return spec_; }
  // True for the sparse_* metrics, which read integer labels only.
  virtual bool needs_labels() const { return false; }
  // Throws std::invalid_argument when the metric cannot read rows of k predictions (a class_id
  // outside [0, k)).
  virtual void check_width(index_t k) const;

  const std::vector<double>& state() const { return state_; }
  void set_state(const std::vector<double>& state);  // std::invalid_argument on a size mismatch
  // The same metric with a zero state.
  std::unique_ptr<Metric> clone() const;

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
