// Metrics with one value per threshold or class, and metrics sized by the prediction width,
// without Python: hand-computed confusion counts at several thresholds (given order, Keras's
// bucket formula for evenly spaced ones), F1 per class and averaged, R2, the build / set_state /
// clone contract of width-sized states, loss-mean metrics, and weighted metrics in the loop.
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "fastmlp/metrics.h"
#include "fastmlp/model.h"
#include "fastmlp/runtime.h"

using fastmlp::index_t;
using fastmlp::make_metric;
using fastmlp::MetricSpec;
using fastmlp::Targets;

namespace {

MetricSpec spec(const char* kind, std::vector<std::pair<std::string, std::vector<double>>> args,
                std::vector<std::pair<std::string, std::string>> options = {}) {
  MetricSpec s(kind);
  s.args = std::move(args);
  s.options = std::move(options);
  return s;
}

std::vector<double> run(const MetricSpec& s, const std::vector<float>& p, index_t k,
                        const Targets& t) {
  auto m = make_metric(s);
  m->update_state(p.data(), static_cast<index_t>(p.size()) / k, k, t);
  return m->result_values();
}

void check_confusion_counts() {
  // Targets 1 1 0 0 0.7(positive), predictions 0.9 0.2 0.6 0.0 NaN.
  const std::vector<float> p = {0.9f, 0.2f, 0.6f, 0.0f, NAN}, y = {1, 1, 0, 0, 0.7f};
  Targets t;
  t.dense = y.data();
  // Thresholds as given (not sorted): 0.5 then 0.1.
  const auto th = std::vector<std::pair<std::string, std::vector<double>>>{
      {"thresholds", {0.5, 0.1}}};
  CHECK(run(spec("true_positives", th), p, 1, t) == (std::vector<double>{1, 2}));
  CHECK(run(spec("false_positives", th), p, 1, t) == (std::vector<double>{1, 1}));
  CHECK(run(spec("true_negatives", th), p, 1, t) == (std::vector<double>{1, 1}));
  CHECK(run(spec("false_negatives", th), p, 1, t) == (std::vector<double>{2, 1}));
  CHECK(make_metric(spec("true_positives", th))->result_shape() == std::vector<index_t>{2});
  CHECK(make_metric("true_positives")->result_shape().empty());
  CHECK(run(MetricSpec("true_positives"), p, 1, t) == std::vector<double>{1});
  // Evenly spaced [0, 0.5, 1]: Keras's bucket formula; NaN falls in bucket 0 (above 0 only),
  // 0.0 in no bucket (above none).
  const auto even = std::vector<std::pair<std::string, std::vector<double>>>{
      {"thresholds", {0.0, 0.5, 1.0}}};
  CHECK(run(spec("true_positives", even), p, 1, t) == (std::vector<double>{3, 1, 0}));
  CHECK(run(spec("false_positives", even), p, 1, t) == (std::vector<double>{1, 1, 0}));
  // Precision and Recall at several thresholds.
  CHECK(run(spec("precision", th), p, 1, t) == (std::vector<double>{0.5, 2.0 / 3.0}));
  CHECK(run(spec("recall", th), p, 1, t) == (std::vector<double>{1.0 / 3.0, 2.0 / 3.0}));
  // A shaped metric has no single result.
  bool refused = false;
  try {
    (void)make_metric(spec("true_positives", th))->result();
  } catch (const std::logic_error&) {
    refused = true;
  }
  CHECK(refused);
}

void check_f_scores() {
  // Two classes, rows: [0.9, 0.2] -> class 0, [0.6, 0.7] -> class 1, [0.8, 0.1] -> class 0.
  const std::vector<float> p = {0.9f, 0.2f, 0.6f, 0.7f, 0.8f, 0.1f};
  const std::vector<float> y = {1, 0, 1, 0, 0, 1};
  Targets t;
  t.dense = y.data();
  const double eps = 1e-7;
  auto f1 = [&](double tp, double fp, double fn) {
    const double pr = tp / (tp + fp + eps), re = tp / (tp + fn + eps);
    return 2 * pr * re / (pr + re + eps);
  };
  // argmax predictions: class 0 tp 1 fp 1 fn 1, class 1 tp 0 fp 1 fn 1
  const std::vector<double> none = run(MetricSpec("f1_score"), p, 2, t);
  CHECK(none.size() == 2);
  CHECK_CLOSE(none[0], f1(1, 1, 1), 1e-12, 0);
  CHECK_CLOSE(none[1], f1(0, 1, 1), 0, 1e-12);
  CHECK_CLOSE(run(spec("f1_score", {}, {{"average", "macro"}}), p, 2, t)[0],
              (f1(1, 1, 1) + f1(0, 1, 1)) / 2, 1e-12, 0);
  CHECK_CLOSE(run(spec("f1_score", {}, {{"average", "micro"}}), p, 2, t)[0], f1(1, 2, 2), 1e-12,
              0);
  // threshold 0.65: predicted (0.9), (0.7), (0.8): the same decisions here
  CHECK_CLOSE(run(spec("f1_score", {{"threshold", {0.65}}}, {{"average", "weighted"}}), p, 2, t)[0],
              (2 * f1(1, 1, 1) + 1 * f1(0, 1, 1)) / (3 + eps), 1e-12, 0);
  CHECK(make_metric(MetricSpec("f1_score"))->result_shape() == std::vector<index_t>{0});
}

void check_r2() {
  const std::vector<float> p = {1.0f, 2.5f, 2.0f, 4.5f}, y = {1.0f, 2.0f, 3.0f, 4.0f};
  Targets t;
  t.dense = y.data();
  // mean 2.5, total 5, residual 0 + 0.25 + 1 + 0.25 = 1.5
  CHECK_CLOSE(run(MetricSpec("r2_score"), p, 1, t)[0], 1.0 - 1.5 / 5.0, 1e-12, 0);
  // adjusted, p = 1 regressor over N = 4 values: 1 - (1 - r2) * 3 / 2
  CHECK_CLOSE(run(spec("r2_score", {{"num_regressors", {1}}}), p, 1, t)[0],
              1.0 - 0.3 * 3.0 / 2.0, 1e-12, 0);
  // per column over 2 columns
  const std::vector<double> cols = run(spec("r2_score", {}, {{"class_aggregation", ""}}), p, 2, t);
  CHECK(cols.size() == 2);
  CHECK_CLOSE(cols[0], 1.0 - 1.0 / 2.0, 1e-12, 0);  // y 1 3, p 1 2
  CHECK_CLOSE(cols[1], 1.0 - 0.5 / 2.0, 1e-12, 0);  // y 2 4, p 2.5 4.5
  CHECK(std::isnan(make_metric("r2_score")->result()));  // 0 / 0 before any update, as Keras
}

template <class F>
bool throws(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

void check_width_sized_states() {
  const std::vector<float> p = {0.9f, 0.2f, 0.6f, 0.7f}, y = {1, 0, 0, 1};
  Targets t;
  t.dense = y.data();
  auto a = make_metric("f1_score"), b = make_metric("f1_score");
  CHECK(a->state().empty());
  a->update_state(p.data(), 1, 2, t);
  Targets rest;
  rest.dense = y.data() + 2;
  b->update_state(p.data() + 2, 1, 2, rest);
  // a fresh metric takes a built one's state; shards' states add up to the whole's
  auto merged = make_metric("f1_score");
  std::vector<double> s = a->state();
  for (std::size_t i = 0; i < s.size(); ++i) s[i] += b->state()[i];
  merged->set_state(s);
  a->update_state(p.data() + 2, 1, 2, rest);
  CHECK(merged->result_values() == a->result_values());
  CHECK(a->clone()->state() == std::vector<double>(s.size(), 0.0));
  CHECK(throws([&] { a->update_state(p.data(), 2, 1, t); }));  // another width
  CHECK(throws([&] { merged->set_state(std::vector<double>(3, 0.0)); }));
  CHECK(throws([] { make_metric(spec("f1_score", {}, {{"average", "mean"}})); }));
  CHECK(throws([] { make_metric(spec("f1_score", {{"average", {1}}})); }));
  CHECK(throws([] { make_metric(spec("fbeta_score", {{"beta", {0}}})); }));
  CHECK(throws([] { make_metric(spec("f1_score", {{"threshold", {1.5}}})); }));
  CHECK(throws([] { make_metric(spec("r2_score", {{"num_regressors", {-1}}})); }));
  CHECK(throws([] { make_metric(spec("true_positives", {{"class_id", {0}}})); }));
}

fastmlp::LayerSpec dense(index_t units, const char* act) {
  fastmlp::LayerSpec s;
  s.units = units;
  s.activation = fastmlp::parse_activation(act);
  return s;
}

// The loop feeds weighted metrics the sample weights and the others not; nothing allocates per
// batch for the new metrics either.
void check_weighted_metrics_in_the_loop() {
  fastmlp::set_num_threads(1);
  fastmlp::Model m(3, {dense(2, "sigmoid")});
  fastmlp::LossSpec loss;
  loss.kind = fastmlp::LossKind::binary_crossentropy;
  fastmlp::OptimizerConfig sgd;
  sgd.name = "sgd";
  sgd.learning_rate.initial_learning_rate = 0.0;
  const std::vector<MetricSpec> metrics = {
      "binary_crossentropy", spec("true_positives", {{"thresholds", {0.3, 0.7}}}), "f1_score",
      "r2_score", "kl_divergence"};
  m.compile(loss, sgd, metrics, {}, metrics);
  const index_t n = 64;
  std::vector<float> x(n * 3), y(n * 2), w(n);
  for (index_t i = 0; i < n * 3; ++i) x[i] = std::sin(0.7f * i);
  for (index_t i = 0; i < n * 2; ++i) y[i] = static_cast<float>((i * 7) % 3 == 0);
  for (index_t i = 0; i < n; ++i) w[i] = i < n / 2 ? 0.0f : 2.0f;
  const fastmlp::InputView xv{x.data(), fastmlp::DType::float32, n, 3, 3};
  fastmlp::TargetInput yv;
  yv.dense = y.data();
  yv.sample_weight = w.data();
  yv.rows = yv.weight_rows = n;
  const fastmlp::Dataset data(xv, yv, 2);
  fastmlp::EpochOptions o;
  o.batch_size = 16;
  const fastmlp::Logs logs = m.train_epoch(data, o);
  CHECK(logs.size() == 1 + 2 * metrics.size());
  CHECK(logs[2].shape == std::vector<index_t>{2} && logs[3].shape.size() == 1);
  CHECK(logs[0].name == "loss" && logs[2].name == "true_positives");
  // weighted: the second half only, counted twice
  std::vector<float> pred(n * 2);
  m.predict(xv, pred.data());
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    auto plain = make_metric(metrics[i]), half = make_metric(metrics[i]);
    Targets all;
    all.dense = y.data();
    plain->update_state(pred.data(), n, 2, all);
    Targets weighted = all;
    weighted.sample_weight = w.data();
    half->update_state(pred.data(), n, 2, weighted);
    const auto& got = logs[1 + i].values;
    const auto& got_w = logs[1 + metrics.size() + i].values;
    for (std::size_t j = 0; j < got.size(); ++j) {
      CHECK_CLOSE(got[j], plain->result_values()[j], 1e-5, 1e-7);
      CHECK_CLOSE(got_w[j], half->result_values()[j], 1e-5, 1e-7);
    }
    CHECK(got != got_w);
    CHECK(m.metric_is_weighted(static_cast<index_t>(metrics.size() + i)) &&
          !m.metric_is_weighted(static_cast<index_t>(i)));
  }
  CHECK(std::isfinite(logs[0].value()));
  bool refused = false;  // a shaped entry is not a number
  try {
    (void)logs[2].value();
  } catch (const std::logic_error&) {
    refused = true;
  }
  CHECK(refused);
}

}  // namespace

int main() {
  try {
    check_confusion_counts();
    check_f_scores();
    check_r2();
    check_width_sized_states();
    check_weighted_metrics_in_the_loop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    return 1;
  }
  return check::exit_code("test_metrics_shaped");
}
