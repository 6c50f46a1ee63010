// The thread policy: the table's decisions for the benchmark networks' work (784-128-64-10 at
// batch 32/128/512, 784-1024-1024-10 at 256, 10k-row predict, the tiny 10-w-w-10 nets), the
// deterministic mode, and the load feedback reacting to a simulated busy core through an injected
// load source; a tiny network's training never wakes a worker.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "check.h"
#include "dense_spec.h"
#include "common/cpu.h"
#include "common/thread_policy.h"
#include "common/thread_team.h"
#include "fastmlp/model.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels.h"

using fastmlp::index_t;
using fastmlp::ThreadPolicy;
using fastmlp::WorkKind;

namespace {

int gemm_threads(index_t m, index_t n, index_t k, int threads) {
  const auto& kr = fastmlp::gemm::active_kernel();
  const double tiles = double((m + kr.mr - 1) / kr.mr) * double((n + kr.nr - 1) / kr.nr);
  return ThreadPolicy::table(WorkKind::gemm, 2.0 * m * n * k, tiles, threads);
}

int pair_threads(index_t batch, index_t in, index_t out, int threads) {
  return ThreadPolicy::table(WorkKind::gemm_pair, 2.0 * batch * in * out, 2, threads);
}

// Elements per chunk of the optimizers' and losses' fixed partial sums.
constexpr double kOptChunk = 8192, kLossChunk = 64;

int optimizer_threads(WorkKind kind, double size, int threads) {
  return ThreadPolicy::table(kind, size, std::ceil(size / kOptChunk), threads);
}

// Every decision a training step of 784-128-64-10 (SGD) makes, as the old per-site rules made
// them: forward products, the backward pairs or products, the input gather, the loss, the update.
void test_seed_network() {
  const WorkKind sgd = WorkKind::optimizer_light;
  for (int t : {2, 4}) {
    // batch 32: the 64-10 layer's products are too small for a second thread
    CHECK(gemm_threads(32, 128, 784, t) == t);
    CHECK(gemm_threads(32, 64, 128, t) == 2);  // 0.5 MFLOP: two threads at most
    CHECK(gemm_threads(32, 10, 64, t) == 1);
    CHECK(gemm_threads(784, 128, 32, t) == t);  // dW of the first layer (no dX)
    CHECK(pair_threads(32, 128, 64, t) == 2);
    CHECK(pair_threads(32, 64, 10, t) == 1);
    CHECK(gemm_threads(64, 10, 32, t) == 1);
    CHECK(gemm_threads(32, 64, 10, t) == 1);
    CHECK(ThreadPolicy::table(WorkKind::gather, 32 * 784.0, 32, t) == 1);
    CHECK(ThreadPolicy::table(WorkKind::loss, 32 * 10.0, 1, t) == 1);
    CHECK(ThreadPolicy::table(WorkKind::train_step, 32 * 109184.0, ThreadPolicy::kNoLimit, t) == t);
    // batch 128: the last layer's backward pair now pays, its forward product not
    CHECK(gemm_threads(128, 128, 784, t) == t);
    CHECK(gemm_threads(128, 64, 128, t) == t);
    CHECK(gemm_threads(128, 10, 64, t) == 1);
    CHECK(pair_threads(128, 128, 64, t) == 2);
    CHECK(pair_threads(128, 64, 10, t) == 2);
    CHECK(ThreadPolicy::table(WorkKind::gather, 128 * 784.0, 128, t) == std::min(t, 3));
    CHECK(ThreadPolicy::table(WorkKind::loss, 128 * 10.0, 2, t) == 2);
    // batch 512: the middle layer's products are past the pair's range and split each
    CHECK(gemm_threads(512, 10, 64, t) == 2);
    CHECK(pair_threads(512, 128, 64, t) == 1);
    CHECK(gemm_threads(128, 64, 512, t) == t);
    CHECK(gemm_threads(512, 128, 64, t) == t);
    CHECK(pair_threads(512, 64, 10, t) == 2);
    CHECK(ThreadPolicy::table(WorkKind::loss, 512 * 10.0, 8, t) == t);
    // SGD: only the 784 x 128 kernel is worth splitting
    CHECK(optimizer_threads(sgd, 784 * 128, t) == t);
    CHECK(optimizer_threads(sgd, 128 * 64, t) == 1);
    CHECK(optimizer_threads(sgd, 3 * kOptChunk, t) == 1);
    CHECK(optimizer_threads(sgd, 3 * kOptChunk + 1, t) == t);
    CHECK(optimizer_threads(sgd, 128, t) == 1);
  }
  CHECK(gemm_threads(32, 128, 784, 1) == 1);  // one configured thread: one, whatever the work
  CHECK(ThreadPolicy::table(WorkKind::loss, 1e9, 1e9, 1) == 1);
}

void test_wide_network_and_predict() {
  for (int t : {2, 4}) {
    // 784-1024-1024-10 at batch 256 (Adam): every product splits, no pair is small enough
    CHECK(gemm_threads(256, 1024, 784, t) == t);
    CHECK(gemm_threads(256, 1024, 1024, t) == t);
    CHECK(gemm_threads(256, 10, 1024, t) == t);
    CHECK(pair_threads(256, 1024, 1024, t) == 1);
    CHECK(pair_threads(256, 1024, 10, t) == 1);
    CHECK(gemm_threads(1024, 10, 256, t) == t);
    CHECK(gemm_threads(256, 1024, 10, t) == t);
    CHECK(optimizer_threads(WorkKind::optimizer, 1024 * 1024, t) == t);
    CHECK(optimizer_threads(WorkKind::optimizer, 1024 * 10, t) == 2);  // two chunks
    CHECK(optimizer_threads(WorkKind::optimizer, 1024, t) == 1);
    // predict of 784-128-64-10: 10k rows in 39 full blocks; 300 rows make one block
    const double macs = 784 * 128 + 128 * 64 + 64 * 10;
    CHECK(ThreadPolicy::table(WorkKind::predict_rows, 10000 * macs, 10000 / 256, t) == t);
    CHECK(ThreadPolicy::table(WorkKind::predict_rows, 600 * macs, 600 / 256, t) == 2);
    CHECK(ThreadPolicy::table(WorkKind::predict_rows, 300 * macs, 300 / 256, t) == 1);
    CHECK(ThreadPolicy::table(WorkKind::predict_rows, macs, 0, t) == 1);
    // the tiny 10-w-w-10 nets at batch 32: the whole step on one thread
    CHECK(ThreadPolicy::table(WorkKind::train_step, 32 * (10 * 128 + 128 * 128 + 1280.0), 1e9,
                              t) == 1);
    CHECK(ThreadPolicy::table(WorkKind::train_step, 32 * (10 * 46 + 46 * 46 + 460.0), 1e9, t) == 1);
    // element-wise work from 16k operations per thread; activations from 32k elements
    CHECK(ThreadPolicy::table(WorkKind::elementwise, 32767, 32767, t) == 1);
    CHECK(ThreadPolicy::table(WorkKind::elementwise, 65536, 65536, t) == std::min(t, 4));
    CHECK(ThreadPolicy::table(WorkKind::activation, 32767, 256, t) == 1);
    CHECK(ThreadPolicy::table(WorkKind::activation, 32768, 256, t) == t);
    CHECK(ThreadPolicy::table(WorkKind::activation, 1e6, 1, t) == 1);  // one row: nothing to cut
    CHECK(ThreadPolicy::table(WorkKind::init, 65535, 65535, t) == 1);
    CHECK(ThreadPolicy::table(WorkKind::init, 65536, 65536, t) == t);
  }
}

struct FakeLoad final : fastmlp::LoadSource {
  std::atomic<int> busy{0}, asked{0};
  int busy_cpus() override {
    ++asked;
    return busy.load();
  }
};

// Deterministic mode: the table's answer whatever the load; the source is never read.
void test_deterministic_mode() {
  ThreadPolicy& p = fastmlp::thread_policy();
  FakeLoad load;
  load.busy = 1000;
  p.set_load_source(&load);
  p.set_adaptive(false);
  fastmlp::set_num_threads(2);
  CHECK(p.threads_for(WorkKind::gemm, 1e9, 1e9) == 2);
  CHECK(p.threads_for(WorkKind::predict_rows, 1e9, 39) == 2);
  CHECK(p.available() == 2);
  CHECK(load.asked == 0);
  p.set_load_source(nullptr);
}

void sleep_past_sample() { std::this_thread::sleep_for(std::chrono::milliseconds(70)); }

// The feedback follows the injected source (sampled at most every 50 ms), caps what the table
// gives and is not asked for work that stays on one thread anyway.
void test_feedback_follows_the_load() {
  ThreadPolicy& p = fastmlp::thread_policy();
  const int cpus = fastmlp::cpus_allowed();
  FakeLoad load;
  fastmlp::set_num_threads(2);
  p.set_adaptive(true);
  p.set_load_source(&load);  // the next answer that needs the feedback samples at once
  const int idle_all = std::min(2, cpus);
  const auto sampled = std::chrono::steady_clock::now();
  CHECK(p.threads_for(WorkKind::gemm, 1e9, 1e9) == idle_all);
  CHECK(load.asked == 1);
  CHECK(p.threads_for(WorkKind::gemm, 1e3, 1e9) == 1);  // small work: no sample needed
  CHECK(p.threads_for(WorkKind::loss, 100, 1) == 1);
  load.busy = 1;  // another process takes a core
  const int fresh = p.threads_for(WorkKind::gemm, 1e9, 1e9);
  if (std::chrono::steady_clock::now() - sampled < std::chrono::milliseconds(40)) {
    CHECK(fresh == idle_all);  // the sample is still fresh (unless this test was descheduled)
  }
  sleep_past_sample();
  CHECK(p.threads_for(WorkKind::gemm, 1e9, 1e9) == std::max(1, std::min(2, cpus - 1)));
  CHECK(p.available() == std::max(1, std::min(2, cpus - 1)));
  load.busy = 64;  // every CPU taken: still one thread, never none
  sleep_past_sample();
  CHECK(p.threads_for(WorkKind::predict_rows, 1e9, 39) == 1);
  load.busy = 0;  // it went away
  sleep_past_sample();
  CHECK(p.threads_for(WorkKind::gemm, 1e9, 1e9) == idle_all);
  CHECK(load.asked >= 4);
  p.set_load_source(nullptr);
  p.set_adaptive(false);
}

void test_loadavg_arithmetic() {
  using fastmlp::detail::busy_cpus_from_loadavg;
  CHECK(busy_cpus_from_loadavg("0.52 0.61 0.93 1/97 19062\n", 0) == 0);  // the reader alone
  CHECK(busy_cpus_from_loadavg("2.10 1.00 0.90 3/120 999\n", 0) == 2);
  CHECK(busy_cpus_from_loadavg("2.10 1.00 0.90 3/120 999\n", 1) == 1);  // our spinning worker
  CHECK(busy_cpus_from_loadavg("2.10 1.00 0.90 2/120 999\n", 3) == 0);
  CHECK(busy_cpus_from_loadavg("garbage", 0) == -1);
  CHECK(busy_cpus_from_loadavg("", 0) == -1);
}

// Inside a region (a worker, or the caller running a share) everything gets one thread; a
// ScopedThreadCap narrows what is configured on its thread only.
void test_regions_and_caps() {
  ThreadPolicy& p = fastmlp::thread_policy();
  p.set_adaptive(false);
  fastmlp::set_num_threads(4);
  std::atomic<int> inside{0};
  auto body = [&](int, int) { inside.fetch_add(p.threads_for(WorkKind::gemm, 1e12, 1e9)); };
  const int ran = fastmlp::detail::run_team(2, body);
  CHECK(ran >= 1 && inside.load() == 2);  // each of the two shares saw 1
  {
    fastmlp::ScopedThreadCap cap(1);
    CHECK(p.configured() == 1);
    CHECK(p.threads_for(WorkKind::gemm, 1e12, 1e9) == 1);
    {
      fastmlp::ScopedThreadCap wider(3);
      CHECK(p.configured() == 3);
    }
    CHECK(p.configured() == 1);
  }
  CHECK(p.threads_for(WorkKind::gemm, 1e12, 1e9) == 4);
  CHECK(p.threads_for(WorkKind::gemm, std::nan(""), 1e9) == 1);
  fastmlp::set_num_threads(2);
}

// 10-128-128-10 (Adam, batch 32) with two threads configured: every step stays on the calling
// thread, so no worker runs a share (the old per-step trials ran whole windows on both).
void test_tiny_network_trains_on_one_thread() {
  fastmlp::set_thread_adaptation(false);
  fastmlp::set_num_threads(2);
  auto share = [](int, int) { std::this_thread::sleep_for(std::chrono::milliseconds(2)); };
  fastmlp::detail::run_team(2, share);  // the team has its worker
  const index_t n = 640, in = 10;
  std::vector<float> x(n * in);
  for (index_t i = 0; i < n * in; ++i) x[i] = float(i % 17) / 17.0f;
  std::vector<std::int32_t> y(n);
  for (index_t i = 0; i < n; ++i) y[i] = static_cast<std::int32_t>(i % 10);
  fastmlp::Model m(in, {dense_spec(128, "relu", 1), dense_spec(128, "relu", 2),
                        dense_spec(10, "linear", 3)});
  fastmlp::LossSpec loss;
  loss.kind = fastmlp::LossKind::sparse_categorical_crossentropy;
  loss.from_logits = true;
  fastmlp::OptimizerConfig adam;
  adam.name = "adam";
  m.compile(loss, adam, {});
  fastmlp::EpochOptions o;
  o.batch_size = 32;
  const fastmlp::InputView xv{x.data(), fastmlp::DType::float32, n, in, in};
  fastmlp::TargetInput yv;
  yv.labels = y.data();
  yv.rows = n;
  const fastmlp::Dataset data(xv, yv, m.output_dim());
  fastmlp::detail::team_worker_fp_modes(true);
  for (int epoch = 0; epoch < 3; ++epoch) m.train_epoch(data, o);
  const std::vector<unsigned> modes = fastmlp::detail::team_worker_fp_modes(true);
  CHECK(!modes.empty());
  for (unsigned mode : modes) CHECK(mode == 0);  // no worker ran a share
}

}  // namespace

int main() {
  fastmlp::set_thread_adaptation(false);
  test_seed_network();
  test_wide_network_and_predict();
  test_deterministic_mode();
  test_feedback_follows_the_load();
  test_loadavg_arithmetic();
  test_regions_and_caps();
  test_tiny_network_trains_on_one_thread();
  return check::exit_code("test_thread_policy");
}
