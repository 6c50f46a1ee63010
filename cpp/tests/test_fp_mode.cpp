// Denormals are flushed (FTZ + DAZ) on the caller and on every team worker while a Model call
// runs, user callbacks see the caller's own mode, and the caller's mode is restored on return.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "check.h"
#include "common/fp_mode.h"
#include "common/thread_team.h"
#include "fastmlp/model.h"
#include "fastmlp/runtime.h"

using fastmlp::index_t;
using fastmlp::detail::read_fp_mode;

namespace {

constexpr unsigned kFlushBits = (1u << 15) | (1u << 6), kControl = ~0x3Fu;

bool all_flushed(const std::vector<unsigned>& modes) {
  for (unsigned m : modes) {
    if ((m & kFlushBits) != kFlushBits) return false;
  }
  return !modes.empty();
}

// Every share's mode, on whichever thread ran it. Each share lasts a few milliseconds, so the
// workers (not only the caller) take theirs.
std::vector<unsigned> region_modes(int threads) {
  std::vector<std::atomic<unsigned>> modes(threads);
  auto body = [&](int id, int) {
    modes[id].store(read_fp_mode());
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(3);
    while (std::chrono::steady_clock::now() < end) {
    }
  };
  fastmlp::detail::run_team(threads, body);
  std::vector<unsigned> out;
  for (auto& m : modes) out.push_back(m.load());
  return out;
}

// The modes of the workers that ran a share since the last call (team_worker_fp_modes' hook).
std::vector<unsigned> worker_modes_since_last() {
  std::vector<unsigned> ran;
  for (unsigned m : fastmlp::detail::team_worker_fp_modes(true)) {
    if (m != 0) ran.push_back(m);
  }
  return ran;
}

// Runs 2-thread regions until a worker (not only the caller) has run a share, then returns the
// modes every share ran in; a worker asleep on a busy machine may miss a few regions.
std::vector<unsigned> modes_with_a_worker() {
  worker_modes_since_last();
  for (int attempt = 0;; ++attempt) {
    std::vector<unsigned> modes = region_modes(2);
    std::vector<unsigned> workers = worker_modes_since_last();
    if (!workers.empty() || attempt == 200) {
      modes.insert(modes.end(), workers.begin(), workers.end());
      CHECK(!workers.empty());
      return modes;
    }
  }
}

void test_scope_sets_and_restores() {
  const unsigned before = read_fp_mode() & kControl;
  CHECK((before & kFlushBits) == 0);
  modes_with_a_worker();  // the workers start outside any scope
  {
    const fastmlp::detail::FlushDenormalsScope scope;
    CHECK(all_flushed(modes_with_a_worker()));
    {
      const fastmlp::detail::CallerFpModeScope user(scope);
      CHECK((read_fp_mode() & kControl) == before);
    }
    CHECK((read_fp_mode() & kFlushBits) == kFlushBits);
  }
  CHECK((read_fp_mode() & kControl) == before);
  for (unsigned m : modes_with_a_worker()) CHECK((m & kFlushBits) == 0);

  fastmlp::set_flush_denormals(false);
  {
    const fastmlp::detail::FlushDenormalsScope scope;
    for (unsigned m : modes_with_a_worker()) CHECK((m & kFlushBits) == 0);
  }
  fastmlp::set_flush_denormals(true);
}

void test_train_epoch_flushes_and_callbacks_do_not() {
  const index_t n = 512, in = 256;
  fastmlp::LayerSpec dense;
  dense.units = 256;
  dense.activation = fastmlp::parse_activation("relu");
  fastmlp::LayerSpec out = dense;
  out.units = 1;
  out.activation = fastmlp::parse_activation("linear");
  fastmlp::Model m(in, {dense, out});
  fastmlp::LossSpec loss;
  loss.kind = fastmlp::LossKind::mean_squared_error;
  fastmlp::OptimizerConfig sgd;
  sgd.name = "sgd";
  m.compile(loss, sgd, {});
  std::vector<float> x(n * in, 0.5f), y(n, 1.0f);
  const fastmlp::InputView xv{x.data(), fastmlp::DType::float32, n, in, in};
  fastmlp::TargetInput yv;
  yv.dense = y.data();
  yv.rows = n;
  const fastmlp::Dataset data(xv, yv, 1);
  fastmlp::EpochOptions o;
  o.batch_size = 128;
  const unsigned before = read_fp_mode() & kControl;
  int calls = 0;
  std::vector<unsigned> workers;
  worker_modes_since_last();
  o.batch_callback = [&](index_t, const fastmlp::Logs&) {
    ++calls;
    CHECK((read_fp_mode() & kControl) == before);
    for (unsigned w : worker_modes_since_last()) workers.push_back(w);
    return false;
  };
  m.train_epoch(data, o);
  CHECK(calls == 4);
  // Whatever ran on a worker ran flushed (a worker asleep the whole epoch leaves nothing here).
  for (unsigned w : workers) CHECK((w & kFlushBits) == kFlushBits);
  CHECK((read_fp_mode() & kControl) == before);
}

}  // namespace

int main() {
  if (read_fp_mode() == 0) {
    std::printf("test_fp_mode: no MXCSR on this CPU, nothing to check\n");
    return 0;
  }
  fastmlp::set_num_threads(2);
  fastmlp::set_thread_adaptation(false);
  test_scope_sets_and_restores();
  test_train_epoch_flushes_and_callbacks_do_not();
  return check::exit_code("test_fp_mode");
}
