// Metric tests without Python: hand-computed values (with Keras's NaN handling), the streaming
// contract (batches, reset, clone, states of shards adding up), argument checks, and a training
// loop that allocates nothing per batch for its built-in metrics.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "fastmlp/metrics.h"
#include "fastmlp/model.h"
#include "fastmlp/runtime.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// Counts every allocation of the process, so a test can see whether a loop allocates.
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using fastmlp::index_t;
using fastmlp::make_metric;
using fastmlp::MetricSpec;
using fastmlp::Targets;

namespace {

MetricSpec spec(const char* kind, std::vector<std::pair<std::string, std::vector<double>>> args) {
  MetricSpec s(kind);
  s.args = std::move(args);
  return s;
}

double run(const MetricSpec& s, const std::vector<float>& p, index_t k, const Targets& t) {
  auto m = make_metric(s);
  m->update_state(p.data(), static_cast<index_t>(p.size()) / k, k, t);
  return m->result();
}

void check_values() {
  const float nan = NAN;
  // Rows: hit, miss, NaN (argmax is the NaN's column, as numpy's), tie (first maximum).
  const std::vector<float> p = {0.1f, 0.8f, 0.1f, 0.7f, 0.2f, 0.1f, 0.2f, nan, 0.3f,
                                0.4f, 0.4f, 0.2f};
  const std::vector<std::int32_t> labels = {1, 1, 1, 0};
  Targets t;
  t.labels = labels.data();
  CHECK_CLOSE(run("sparse_categorical_accuracy", p, 3, t), 3.0 / 4.0, 0, 1e-15);
  CHECK_CLOSE(run("categorical_accuracy", p, 3, t), 3.0 / 4.0, 0, 1e-15);
  // top-2: row 1's label scores 0.2 (second), row 2's NaN score ranks as -inf (two above it).
  CHECK_CLOSE(run(spec("sparse_top_k_categorical_accuracy", {{"k", {2}}}), p, 3, t), 3.0 / 4.0,
              0, 1e-15);

  // Binary: a target hits only when it equals the thresholded prediction exactly (0.7 never).
  const std::vector<float> pb = {0.9f, 0.2f, nan, 0.6f};
  const std::vector<float> yb = {1.0f, 0.0f, 0.0f, 0.7f};
  Targets d;
  d.dense = yb.data();
  CHECK_CLOSE(run("binary_accuracy", pb, 1, d), 3.0 / 4.0, 0, 1e-15);
  // Precision / recall: 0.7 is a positive target (non-zero); NaN predicts negative.
  CHECK_CLOSE(run("precision", pb, 1, d), 1.0, 0, 1e-15);
  CHECK_CLOSE(run("recall", pb, 1, d), 1.0, 0, 1e-15);
  const std::vector<float> w = {1.0f, 1.0f, 1.0f, 3.0f};
  d.sample_weight = w.data();
  CHECK(std::isnan(run("mean_absolute_error", pb, 1, d)));  // NaN stays NaN, as in Keras
  const std::vector<float> pm = {0.9f, 0.2f, 0.0f, 0.6f};
  CHECK_CLOSE(run("mean_absolute_error", pm, 1, d), (0.1 + 0.2 + 0.0 + 3 * 0.1) / 6, 1e-6, 0);
  CHECK_CLOSE(run("root_mean_squared_error", pm, 1, d),
              std::sqrt((0.01 + 0.04 + 0.0 + 3 * 0.01) / 6), 1e-6, 0);
  // AUC of a perfect ranking is 1, of a reversed one 0.
  const std::vector<float> ya = {0.0f, 0.0f, 1.0f, 1.0f}, pa = {0.1f, 0.3f, 0.6f, 0.9f};
  const std::vector<float> pr = {0.9f, 0.6f, 0.3f, 0.1f};
  Targets a;
  a.dense = ya.data();
  CHECK_CLOSE(run("auc", pa, 1, a), 1.0, 0, 1e-12);
  CHECK_CLOSE(run("auc", pr, 1, a), 0.0, 0, 1e-12);
}

void check_streaming() {
  std::vector<float> p(40), y(40);
  for (int i = 0; i < 40; ++i) {
    p[i] = static_cast<float>((i * 37) % 11) / 10.0f;
    y[i] = static_cast<float>(i % 3 == 0);
  }
  for (const char* kind : {"auc", "precision", "binary_accuracy", "mean_squared_error"}) {
    auto whole = make_metric(kind), shards = make_metric(kind), second = make_metric(kind);
    Targets t;
    t.dense = y.data();
    whole->update_state(p.data(), 40, 1, t);
    shards->update_state(p.data(), 15, 1, t);
    Targets rest;
    rest.dense = y.data() + 15;
    second->update_state(p.data() + 15, 25, 1, rest);
    // Two batches into one metric, and two shards' states added, both give the whole's result.
    auto merged = shards->clone();
    std::vector<double> s = shards->state();
    for (std::size_t i = 0; i < s.size(); ++i) s[i] += second->state()[i];
    merged->set_state(s);
    shards->update_state(p.data() + 15, 25, 1, rest);
    CHECK_CLOSE(shards->result(), whole->result(), 1e-12, 1e-15);
    CHECK_CLOSE(merged->result(), whole->result(), 1e-12, 1e-15);
    shards->reset_state();
    CHECK(shards->result() == 0.0);
    CHECK(shards->clone()->state() == std::vector<double>(s.size(), 0.0));
  }
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

void check_arguments() {
  CHECK(throws([] { make_metric("f2_score"); }));
  CHECK(throws([] { make_metric(spec("top_k_categorical_accuracy", {{"k", {0}}})); }));
  CHECK(throws([] { make_metric(spec("auc", {{"num_thresholds", {1}}})); }));
  CHECK(throws([] { make_metric(spec("precision", {{"thresholds", {0.2, 1.4}}})); }));
  CHECK(throws([] { make_metric(spec("recall", {{"top_k", {1}}})); }));
  CHECK(throws([] { make_metric(spec("precision", {{"class_id", {3}}})).get()->check_width(3); }));
  CHECK(make_metric(MetricSpec("auc")).get()->name() == "auc");
}

fastmlp::LayerSpec dense(index_t units, const char* act) {
  fastmlp::LayerSpec s;
  s.units = units;
  s.activation = fastmlp::parse_activation(act);
  return s;
}

// Allocations of one epoch with the metrics, after a first epoch has laid the workspace out.
long epoch_allocations(fastmlp::Model& m, const std::vector<float>& x,
                       const std::vector<std::int32_t>& y, index_t batch_size) {
  fastmlp::InputView xv;
  xv.data = x.data();
  xv.rows = static_cast<index_t>(y.size());
  xv.cols = xv.ld = 6;
  fastmlp::TargetInput yv;
  yv.labels = y.data();
  yv.rows = xv.rows;
  const fastmlp::Dataset data(xv, yv, m.output_dim());
  fastmlp::EpochOptions o;
  o.batch_size = batch_size;
  m.train_epoch(data, o);
  const long before = g_allocations.load();
  m.train_epoch(data, o);
  return g_allocations.load() - before;
}

void check_no_allocation_per_batch() {
  fastmlp::set_num_threads(1);
  fastmlp::Model m(6, {dense(8, "relu"), dense(4, "softmax")});
  fastmlp::LossSpec loss;
  loss.kind = fastmlp::LossKind::sparse_categorical_crossentropy;
  fastmlp::OptimizerConfig sgd;
  sgd.name = "sgd";
  m.compile(loss, sgd,
            {"sparse_categorical_accuracy", "categorical_accuracy", "auc",
             spec("sparse_top_k_categorical_accuracy", {{"k", {2}}}), "precision", "recall",
             "mean_absolute_error", "root_mean_squared_error", "f1_score", "r2_score",
             spec("true_positives", {{"thresholds", {0.3, 0.6}}}), "kl_divergence"},
            {}, {"sparse_categorical_crossentropy", "f1_score", "false_negatives"});
  const index_t n = 640;
  std::vector<float> x(n * 6);
  std::vector<std::int32_t> y(n);
  for (index_t i = 0; i < n * 6; ++i) x[i] = static_cast<float>((i * 7919) % 101) / 50.0f - 1.0f;
  for (index_t i = 0; i < n; ++i) y[i] = static_cast<std::int32_t>(i % 4);
  const long few = epoch_allocations(m, x, y, 160);   // 4 batches
  const long many = epoch_allocations(m, x, y, 16);   // 40 batches
  std::printf("allocations per epoch: %ld with 4 batches, %ld with 40\n", few, many);
  CHECK(many == few);
}

}  // namespace

int main() {
  try {
    check_values();
    check_streaming();
    check_arguments();
    check_no_allocation_per_batch();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    return 1;
  }
  return check::exit_code("test_metrics");
}
