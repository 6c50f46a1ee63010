// The spin-then-sleep worker team (see thread_team.h for why it replaces OpenMP regions).
#include "common/thread_team.h"

#include "common/fp_mode.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace fastmlp {
namespace detail {
namespace {

thread_local bool t_in_region = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// How long a waiting thread spins before it sleeps: FASTMLP_SPIN_US (0..100000), default 100.
std::int64_t spin_ns() {
  static const std::int64_t ns = [] {
    const char* v = std::getenv("FASTMLP_SPIN_US");
    char* end = nullptr;
    const long us = v ? std::strtol(v, &end, 10) : 100;
    const bool ok = v == nullptr || (end != v && *end == '\0' && us >= 0 && us <= 100000);
    return static_cast<std::int64_t>(ok ? us : 100) * 1000;
  }();
  return ns;
}

// Spins until pred() holds or the spin time is over; true if pred() held.
template <class Pred>
bool spin_until(Pred pred) {
  const std::int64_t limit = spin_ns();
  if (limit == 0) return pred();
  const std::int64_t deadline = now_ns() + limit;
  for (unsigned i = 1;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if (i % 64 == 0 && now_ns() >= deadline) return pred();
  }
}

// One per worker: the counter of the last region whose share `id` was taken, by the worker or by
// the caller. Whoever moves it to the region's counter first runs that share.
struct alignas(64) Share {
  std::atomic<std::uint64_t> taken{0};
  std::atomic<unsigned> fp_mode{0};  // for tests: 1 << 31 | the mode of its worker's last share
  bool take(std::uint64_t region) {
    std::uint64_t t = taken.load(std::memory_order_acquire);
    while (t < region) {
      if (taken.compare_exchange_weak(t, region, std::memory_order_acq_rel)) return true;
    }
    return false;
  }
};

// A region is published by bumping `job_`: the low 16 bits carry its thread count, the rest its
// counter, so a worker learns from one atomic word whether it takes part. After its own share the
// caller takes every share no worker has started yet and runs it itself: a worker that is asleep
// or descheduled never holds a region up (the region is then as fast as on one thread), and every
// share still runs exactly once. The caller's seq_cst store of job_ followed by a load of
// sleepers_ pairs with a worker's seq_cst increment of sleepers_ followed by a load of job_ (both
// under mutex_), so a wake-up is never lost; the same pairing guards the caller's sleep on done_.
class Team {
 public:
  int run(int threads, TeamBody body, void* ctx) {
    std::unique_lock<std::mutex> busy(call_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return run_alone(body, ctx);
    grow(std::min(threads, kMaxThreads) - 1);
    threads = std::min(threads, static_cast<int>(shares_.size()) + 1);
    body_ = body;
    ctx_ = ctx;
    fp_mode_ = read_fp_mode();  // the workers compute in the caller's floating-point mode
    done_.store(0, std::memory_order_relaxed);
    const std::uint64_t region = (job_.load(std::memory_order_relaxed) >> 16) + 1;
    job_.store(region << 16 | static_cast<unsigned>(threads), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      work_cv_.notify_all();
    }
    t_in_region = true;
    body(ctx, 0, threads);
    int by_workers = 0;
    for (int id = 1; id < threads; ++id) {
      if (shares_[static_cast<std::size_t>(id - 1)]->take(region)) {
        body(ctx, id, threads);
      } else {
        ++by_workers;
      }
    }
    t_in_region = false;
    wait_for_workers(by_workers);
    return 1 + by_workers;
  }

  int spinning() const { return spinning_.load(std::memory_order_relaxed); }

  std::vector<unsigned> worker_fp_modes(bool reset) {
    std::lock_guard<std::mutex> busy(call_mutex_);
    std::vector<unsigned> modes;
    for (const auto& s : shares_) {
      modes.push_back(reset ? s->fp_mode.exchange(0) : s->fp_mode.load(std::memory_order_relaxed));
    }
    return modes;
  }

  static int run_alone(TeamBody body, void* ctx) {
    const bool outer = t_in_region;
    t_in_region = true;
    body(ctx, 0, 1);
    t_in_region = outer;
    return 1;
  }

 private:
  static constexpr int kMaxThreads = 4096;

  // Starts workers up to `workers`; if the system refuses a thread, the team stays smaller.
  void grow(int workers) {
    while (static_cast<int>(shares_.size()) < workers) {
      auto share = std::make_unique<Share>();  // on the heap: its address never moves
      const int id = static_cast<int>(shares_.size()) + 1;
      // the counter before this region is published: the new worker must not skip it
      const std::uint64_t seen = job_.load(std::memory_order_relaxed);
      Share* s = share.get();
      try {
        std::thread([this, id, seen, s] { worker_loop(id, seen, *s); }).detach();
      } catch (const std::system_error&) {
        return;
      }
      shares_.push_back(std::move(share));
    }
  }

  void worker_loop(int id, std::uint64_t seen, Share& share) {
    pthread_setname_np(pthread_self(), "fastmlp-worker");
    t_in_region = true;  // a worker never opens a region of its own
    for (;;) {
      seen = wait_for_job(seen);
      const int threads = static_cast<int>(seen & 0xffff);
      if (id >= threads || !share.take(seen >> 16)) continue;
      if ((read_fp_mode() ^ fp_mode_) & ~0x3Fu) write_fp_mode(fp_mode_);  // control bits differ
      share.fp_mode.store(read_fp_mode() | 1u << 31, std::memory_order_relaxed);
      body_(ctx_, id, threads);
      done_.fetch_add(1, std::memory_order_seq_cst);
      if (caller_sleeping_.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_cv_.notify_one();
      }
    }
  }

  std::uint64_t wait_for_job(std::uint64_t seen) {
    std::uint64_t job = seen;
    spinning_.fetch_add(1, std::memory_order_relaxed);
    const bool got = spin_until([&] {
      job = job_.load(std::memory_order_acquire);
      return job != seen;
    });
    spinning_.fetch_sub(1, std::memory_order_relaxed);
    if (got) return job;
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    while ((job = job_.load(std::memory_order_seq_cst)) == seen) work_cv_.wait(lock);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return job;
  }

  // Until the `started` shares workers took have finished.
  void wait_for_workers(int started) {
    auto done = [&] { return done_.load(std::memory_order_acquire) == started; };
    if (started == 0 || spin_until(done)) return;
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_.store(true, std::memory_order_seq_cst);
    while (done_.load(std::memory_order_seq_cst) != started) done_cv_.wait(lock);
    caller_sleeping_.store(false, std::memory_order_relaxed);
  }

  std::mutex call_mutex_;  // one region at a time; other callers run alone
  std::mutex mutex_;       // guards the sleeps only
  std::condition_variable work_cv_, done_cv_;
  alignas(64) std::atomic<std::uint64_t> job_{0};
  alignas(64) std::atomic<int> done_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<int> spinning_{0};
  TeamBody body_ = nullptr;
  void* ctx_ = nullptr;
  unsigned fp_mode_ = 0;
  std::vector<std::unique_ptr<Share>> shares_;  // one per worker, grown under call_mutex_
};

// Never destroyed: detached workers may still be waiting on it while the process exits.
std::atomic<Team*> g_team{nullptr};

// A child created by fork() has none of the parent's workers, and the team's locks may have been
// held by a thread that does not exist there: the child starts a team of its own on first use (the
// parent's is left as it is). Registered when the library loads, so no lazy set-up (a once_flag
// caught mid-way by a fork would block the child forever) is involved.
void forget_team_after_fork() { g_team.store(nullptr, std::memory_order_relaxed); }
[[maybe_unused]] const int g_atfork = pthread_atfork(nullptr, nullptr, forget_team_after_fork);

Team& team() {
  Team* t = g_team.load(std::memory_order_acquire);
  if (t) return *t;
  Team* fresh = new Team;  // no workers until its first region
  if (g_team.compare_exchange_strong(t, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;  // another thread's was first
  return *t;
}

}  // namespace

int run_team_raw(int threads, TeamBody body, void* ctx) {
  if (threads <= 1 || t_in_region) return Team::run_alone(body, ctx);
  return team().run(threads, body, ctx);
}

bool in_team_region() { return t_in_region; }

std::vector<unsigned> team_worker_fp_modes(bool reset) { return team().worker_fp_modes(reset); }

int spinning_team_workers() {
  Team* t = g_team.load(std::memory_order_acquire);
  return t ? t->spinning() : 0;
}

}  // namespace detail
}  // namespace fastmlp
