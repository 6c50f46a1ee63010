// Metrics from confusion counts at thresholds (keras/src/metrics/confusion_metrics.py and
// metrics_utils.update_confusion_matrix_variables): TruePositives, FalsePositives, TrueNegatives,
// FalseNegatives, Precision, Recall (one value per threshold) and AUC (ROC).
//
// Every value of a row (or only column class_id) is one binary decision: its target is positive
// when non-zero (Keras casts y_true to bool) and it is predicted positive at threshold t when
// p > t. The state keeps, for positives and negatives apart, the weight of the values lying above
// exactly b thresholds (b = 0 .. T), so that TP, FP, TN and FN at every threshold follow by
// suffix sums: O(1) or O(log T) per value instead of Keras's O(T), and the same counts.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "nn/metrics/metric_impl.h"

namespace fastmlp {
namespace metrics_detail {
namespace {

constexpr double kEpsilon = 1e-7;  // keras.backend.epsilon()

// How a value finds its bin: by comparison with each threshold (v > t), or by Keras's bucket
// formula for evenly spaced thresholds (metrics_utils._update_confusion_matrix_variables_
// optimized), whose boundaries and NaN handling differ slightly; AUC's thresholds carry an
// epsilon below 0 and above 1 (the formula's first bucket then counts above the first one).
enum class Bucketing { compare, even, even_with_epsilon };

class ConfusionHistogram : public Metric {
 public:
  // thresholds in the caller's order (results follow it; the histogram uses them sorted).
  ConfusionHistogram(const MetricSpec& spec, const std::vector<float>& thresholds,
                     Bucketing bucketing, index_t class_id, bool from_logits)
      : Metric(spec, 2 * (thresholds.size() + 1)),
        sorted_(thresholds),
        bucketing_(bucketing),
        class_id_(class_id),
        from_logits_(from_logits) {
    std::sort(sorted_.begin(), sorted_.end());
    for (float t : thresholds) {
      rank_.push_back(std::lower_bound(sorted_.begin(), sorted_.end(), t) - sorted_.begin());
    }
  }

  void update_state(const float* p, index_t n, index_t k, const Targets& t) override {
    const index_t bins = num_thresholds() + 1;
    double* pos = state_.data();
    double* neg = pos + bins;
    const index_t j0 = class_id_ >= 0 ? class_id_ : 0, j1 = class_id_ >= 0 ? class_id_ + 1 : k;
    for (index_t i = 0; i < n; ++i) {
      const TargetRow y = target_row(t, i, k);
      const double w = row_weight(t, i);
      for (index_t j = j0; j < j1; ++j) {
        float v = p[i * k + j];
        if (from_logits_) v = 1.0f / (1.0f + std::exp(-v));
        (y[j] != 0.0f ? pos : neg)[bin(v)] += w;
      }
    }
  }

  void check_width(index_t k) const override {
    Metric::check_width(k);
    if (class_id_ >= k) {
      throw std::invalid_argument("Received an invalid value for `class_id`, expected an integer "
                                  "in [0, " + std::to_string(k) + ") (the prediction width). "
                                  "Received: class_id=" + std::to_string(class_id_));
    }
  }

  // One value per threshold, a scalar for one (Keras: accumulator[0] when len(thresholds) == 1).
  std::vector<index_t> result_shape() const override {
    if (rank_.size() == 1) return {};
    return {static_cast<index_t>(rank_.size())};
  }

 protected:
  index_t num_thresholds() const { return static_cast<index_t>(sorted_.size()); }
  const double* positives() const { return state_.data(); }
  const double* negatives() const { return state_.data() + num_thresholds() + 1; }
  double total(const double* hist) const {
    double s = 0.0;
    for (index_t b = 0; b <= num_thresholds(); ++b) s += hist[b];
    return s;
  }
  // The weight of hist's values above each threshold, in the caller's order: bins j+1 .. T for
  // the j-th sorted threshold.
  std::vector<double> above(const double* hist) const {
    std::vector<double> sorted_above(sorted_.size()), out(rank_.size());
    double acc = 0.0;
    for (index_t j = num_thresholds() - 1; j >= 0; --j) sorted_above[j] = acc += hist[j + 1];
    for (std::size_t j = 0; j < rank_.size(); ++j) out[j] = sorted_above[rank_[j]];
    return out;
  }

 private:
  // How many thresholds v lies above.
  index_t bin(float v) const {
    if (bucketing_ == Bucketing::compare) {
      // v > t for the thresholds before the first t >= v (none for NaN).
      return std::lower_bound(sorted_.begin(), sorted_.end(), v) - sorted_.begin();
    }
    // In float32 as Keras: bucket = ceil(clip(v, 0, 1) * (T - 1)) - 1, above thresholds 0 ..
    // bucket; NaN in bucket 0 (XLA casts NaN to 0); bucket -1 above none, or (with the
    // epsilon thresholds) raised to 0.
    const float c = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    const float b = std::ceil(c * static_cast<float>(num_thresholds() - 1)) - 1.0f;
    if (b != b) return 1;
    if (b < 0.0f) return bucketing_ == Bucketing::even_with_epsilon ? 1 : 0;
    return static_cast<index_t>(b) + 1;
  }

  std::vector<float> sorted_;
  std::vector<index_t> rank_;  // the sorted index of each threshold as given
  Bucketing bucketing_;
  index_t class_id_;
  bool from_logits_;
};

double divide_no_nan(double a, double b) { return b != 0.0 ? a / b : 0.0; }

class Precision final : public ConfusionHistogram {
 public:
  using ConfusionHistogram::ConfusionHistogram;
  void write_result(double* out) const override {
    const std::vector<double> tp = above(positives()), fp = above(negatives());
    for (std::size_t j = 0; j < tp.size(); ++j) out[j] = divide_no_nan(tp[j], tp[j] + fp[j]);
  }
};

class Recall final : public ConfusionHistogram {
 public:
  using ConfusionHistogram::ConfusionHistogram;
  void write_result(double* out) const override {
    const std::vector<double> tp = above(positives());
    const double positives_seen = total(positives());
    for (std::size_t j = 0; j < tp.size(); ++j) out[j] = divide_no_nan(tp[j], positives_seen);
  }
};

// TruePositives, FalsePositives, TrueNegatives, FalseNegatives: the (weighted) count itself.
enum class Condition { tp, fp, tn, fn };

template <Condition C>
class ConfusionCount final : public ConfusionHistogram {
 public:
  using ConfusionHistogram::ConfusionHistogram;
  void write_result(double* out) const override {
    const bool positive = C == Condition::tp || C == Condition::fn;
    const double* hist = positive ? positives() : negatives();
    const std::vector<double> hits = above(hist);
    const double all = total(hist);
    const bool predicted_positive = C == Condition::tp || C == Condition::fp;
    for (std::size_t j = 0; j < hits.size(); ++j) {
      out[j] = predicted_positive ? hits[j] : all - hits[j];
    }
  }
};

// ROC AUC by the trapezoidal rule over the thresholds (Keras's summation_method="interpolation").
class Auc final : public ConfusionHistogram {
 public:
  using ConfusionHistogram::ConfusionHistogram;
  void write_result(double* out) const override {
    const index_t nt = num_thresholds();
    const double* pos = positives();
    const double* neg = negatives();
    const double all_pos = total(pos), all_neg = total(neg);
    // From the last threshold down: tp(j) = tp(j + 1) + pos[j + 1], likewise fp.
    double tp = pos[nt], fp = neg[nt], area = 0.0;
    double recall = divide_no_nan(tp, all_pos), fpr = divide_no_nan(fp, all_neg);
    for (index_t j = nt - 2; j >= 0; --j) {
      tp += pos[j + 1];
      fp += neg[j + 1];
      const double r = divide_no_nan(tp, all_pos), f = divide_no_nan(fp, all_neg);
      area += (f - fpr) * (r + recall) / 2.0;
      recall = r;
      fpr = f;
    }
    out[0] = area;
  }
  std::vector<index_t> result_shape() const override { return {}; }
};

std::vector<float> as_floats(const std::vector<double>& v) {
  return std::vector<float>(v.begin(), v.end());
}

// np.allclose(t, arange(n) / (n - 1), atol=epsilon), as metrics_utils checks it.
bool evenly_distributed(const std::vector<double>& t) {
  const std::size_t n = t.size();
  if (n < 3) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const double even = static_cast<float>(i) / static_cast<float>(n - 1);
    if (!(std::fabs(t[i] - even) <= kEpsilon + 1e-5 * std::fabs(even))) return false;
  }
  return true;
}

// Keras's parse_init_thresholds: a number or a list, each in [0, 1]; 0.5 by default.
std::vector<double> thresholds_arg(const MetricArgs& a) {
  const std::vector<double> t = a.list("thresholds", {0.5});
  for (double v : t) {
    if (!(v >= 0.0 && v <= 1.0)) a.invalid("thresholds", "threshold values in [0, 1]");
  }
  return t;
}

// Precision, Recall and the counts: thresholds as given (the bucket formula when they are
// evenly spaced, as Keras picks it), Precision and Recall an optional class_id.
template <class M>
std::unique_ptr<Metric> make_at_thresholds(const MetricSpec& s, const MetricArgs& a) {
  const std::vector<double> t = thresholds_arg(a);
  const index_t class_id = a.integer("class_id", -1, 0, "a non-negative integer or None");
  const Bucketing b = evenly_distributed(t) ? Bucketing::even : Bucketing::compare;
  return std::make_unique<M>(s, as_floats(t), b, class_id, false);
}

std::unique_ptr<Metric> make_auc(const MetricSpec& s, const MetricArgs& a) {
  std::vector<double> inner;
  bool evenly = true;
  if (a.has("thresholds")) {
    inner = a.list("thresholds", {});
    for (double v : inner) {
      if (!(v >= 0.0 && v <= 1.0)) a.invalid("thresholds", "thresholds in [0, 1]");
    }
    std::sort(inner.begin(), inner.end());
    std::vector<double> with_ends = inner;
    with_ends.insert(with_ends.begin(), 0.0);
    with_ends.push_back(1.0);
    evenly = evenly_distributed(with_ends);
  } else {
    const index_t n = a.integer("num_thresholds", 200, 2, "an integer > 1");
    for (index_t i = 0; i < n - 2; ++i) inner.push_back((i + 1) * 1.0 / (n - 1));
  }
  inner.insert(inner.begin(), 0.0 - kEpsilon);
  inner.push_back(1.0 + kEpsilon);
  return std::make_unique<Auc>(s, as_floats(inner),
                               evenly ? Bucketing::even_with_epsilon : Bucketing::compare, -1,
                               a.flag("from_logits", false));
}

}  // namespace

const std::vector<MetricEntry>& confusion_metrics() {
  static const std::vector<MetricEntry> table = {
      {"precision", {"thresholds", "class_id"}, &make_at_thresholds<Precision>},
      {"recall", {"thresholds", "class_id"}, &make_at_thresholds<Recall>},
      {"true_positives", {"thresholds"}, &make_at_thresholds<ConfusionCount<Condition::tp>>},
      {"false_positives", {"thresholds"}, &make_at_thresholds<ConfusionCount<Condition::fp>>},
      {"true_negatives", {"thresholds"}, &make_at_thresholds<ConfusionCount<Condition::tn>>},
      {"false_negatives", {"thresholds"}, &make_at_thresholds<ConfusionCount<Condition::fn>>},
      {"auc", {"num_thresholds", "thresholds", "from_logits"}, &make_auc},
  };
  return table;
}

}  // namespace metrics_detail
}  // namespace fastmlp
