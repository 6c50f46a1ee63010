// Metrics that are the mean of a loss function: keras/src/metrics/probabilistic_metrics.py's
// (BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence,
// Poisson), hinge_metrics.py's and regression_metrics.py's MeanAbsolutePercentageError,
// MeanSquaredLogarithmicError, LogCoshError, CosineSimilarity. LossMean over the core's losses,
// so a metric and the loss of the same name compute the same numbers.
#include <vector>

#include "nn/losses/unchecked.h"
#include "nn/metrics/metric_impl.h"

namespace fastmlp {
namespace metrics_detail {

LossMean::LossMean(const MetricSpec& spec, const LossSpec& loss, double sign)
    : MeanMetric(spec, 2), loss_(loss), sign_(sign) {
  loss_.validate();
}

// The loss code returns sum_i w_i * l_i / n; the state keeps that sum and sum_i w_i.
void LossMean::update_state(const float* p, index_t n, index_t k, const Targets& t) {
  state_[0] += sign_ * detail::loss_unchecked(loss_, p, n, k, t, nullptr) *
               static_cast<double>(n);
  double count = static_cast<double>(n);
  if (t.sample_weight) {
    count = 0.0;
    for (index_t i = 0; i < n; ++i) count += t.sample_weight[i];
  }
  state_[1] += count;
}

void LossMean::write_result(double* out) const {
  out[0] = state_[1] != 0.0 ? state_[0] / state_[1] : 0.0;
}

void LossMean::values(const float* p, index_t n, index_t k, const Targets& t, double* out) const {
  std::vector<float> v(static_cast<std::size_t>(n));
  loss_values(loss_, p, n, k, t, v.data());
  for (index_t i = 0; i < n; ++i) out[i] = sign_ * v[i];
}

bool LossMean::needs_labels() const {
  return loss_.kind == LossKind::sparse_categorical_crossentropy;
}

namespace {

// A table entry's factory for the loss `kind`, reading the arguments the loss takes; sign -1 for
// CosineSimilarity, the loss's negative.
template <LossKind kind, int sign = 1>
std::unique_ptr<Metric> make_loss_mean(const MetricSpec& s, const MetricArgs& a) {
  LossSpec loss;
  loss.kind = kind;
  loss.from_logits = a.flag("from_logits", false);
  loss.label_smoothing = static_cast<float>(a.number("label_smoothing", 0.0));
  return std::make_unique<LossMean>(s, loss, sign);
}

}  // namespace

const std::vector<MetricEntry>& loss_metrics() {
  using K = LossKind;
  static const std::vector<MetricEntry> table = {
      {"binary_crossentropy", {"from_logits", "label_smoothing"},
       &make_loss_mean<K::binary_crossentropy>},
      {"categorical_crossentropy", {"from_logits", "label_smoothing"},
       &make_loss_mean<K::categorical_crossentropy>},
      {"sparse_categorical_crossentropy", {"from_logits"},
       &make_loss_mean<K::sparse_categorical_crossentropy>},
      {"kl_divergence", {}, &make_loss_mean<K::kl_divergence>},
      {"poisson", {}, &make_loss_mean<K::poisson>},
      {"mean_absolute_percentage_error", {}, &make_loss_mean<K::mean_absolute_percentage_error>},
      {"mean_squared_logarithmic_error", {}, &make_loss_mean<K::mean_squared_logarithmic_error>},
      {"log_cosh_error", {}, &make_loss_mean<K::log_cosh>},
      {"cosine_similarity", {}, &make_loss_mean<K::cosine_similarity, -1>},
      {"hinge", {}, &make_loss_mean<K::hinge>},
      {"squared_hinge", {}, &make_loss_mean<K::squared_hinge>},
      {"categorical_hinge", {}, &make_loss_mean<K::categorical_hinge>},
  };
  return table;
}

}  // namespace metrics_detail
}  // namespace fastmlp
