// The thread table, the load feedback and the thread settings (see thread_policy.h for why the
// load feedback is the one kept).
#include "common/thread_policy.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/cpu.h"
#include "common/thread_team.h"
#include "fastmlp/runtime.h"

namespace fastmlp {
namespace {

// One row per WorkKind: work below min_cost or above max_cost runs on one thread; otherwise each
// thread gets at least cost_per_thread (0: no minimum) and no more threads than the work has
// parts. What a region costs sets the scale: ~1 us to start while the team's workers spin
// (common/thread_team.h), plus the cache lines the threads then share.
struct Row {
  double min_cost, max_cost, cost_per_thread;
};
constexpr double kInf = ThreadPolicy::kNoLimit;
constexpr Row kTable[] = {
    // gemm: 0.25 MFLOP is ~3-5 us of work for one thread, several times what a region and
    // sharing C and B cost. The tile count caps the split: a tile is one thread's.
    {0, kInf, 0.25e6},
    // gemm_pair: two products of 0.1-4 MFLOP run one per thread, whole: split, each half is too
    // small to run at speed and pays a region of its own. Below, one product is ~1-2 us and the
    // overlap saves less than the region costs; above, splitting each product (whose dynamic
    // units let either thread finish the other's share) does better.
    {1e5, 4e6, 0},
    // elementwise: 16k simple operations take ~3-5 us, several times a region's start.
    {0, kInf, 16384},
    // gather: a converted element also costs its share of a scattered row read, so the grain is
    // twice the element-wise one: rows are read from anywhere in the input, and a thread that
    // converts too few of them waits on memory rather than computes.
    {0, kInf, 32768},
    // activation: an element costs 2-20 operations (max, exp, tanh, erf): from 32k elements a
    // pass takes ~10 us or more, worth every thread.
    {32768, kInf, 0},
    // loss: ~15 ns an element (exp and log in double), so two threads pay from ~1000.
    {1024, kInf, 0},
    // optimizer: an adaptive rule's update waits on a square root and a division per element;
    // its second 8192-element chunk (~8 us) already pays for a second thread. The same for a
    // gradient norm (clipnorm), a sum of squares in double.
    {0, kInf, 0},
    // optimizer_light: SGD's update is one or two FMAs per element, bound by memory: it pays only
    // beyond three of the optimizer's 8192-element chunks (~5 us).
    {3 * 8192 + 1, kInf, 0},
    // init: one counter-based random draw (~10 ns) per element; 64k elements take ~0.5 ms.
    {65536, kInf, 0},
    // predict_rows: each thread of a predict call lays out a workspace and runs its blocks
    // through every layer; it pays from ~4M multiply-adds (~50 us) per thread.
    {0, kInf, 4e6},
    // train_step: a batch step below 1.5M forward multiply-adds (~50 us for the whole step) keeps
    // its activations, gradients and optimizer state in one core's caches; split, each of its
    // ~10 regions moves them between the cores' caches, which costs more than the second core
    // saves (10-128-128-10 at batch 32 ran 1.7x slower on two threads than on one). The cap
    // applies to the whole step; larger steps leave every region to its own row.
    {1.5e6, kInf, 0},
};
static_assert(sizeof(kTable) / sizeof(kTable[0]) == static_cast<int>(WorkKind::count_),
              "one table row per WorkKind");

// How often the load is sampled: reading /proc/loadavg costs ~10-20 us, so 50 ms keeps it under
// 0.05% of the time while following a process that starts or stops within a few steps.
constexpr std::chrono::milliseconds kSampleEvery{50};

// OMP_NUM_THREADS (its first entry, as OpenMP reads a list) when it is a positive number, else the
// CPUs in the process's affinity mask: what omp_get_max_threads() answers, without loading an
// OpenMP runtime next to the one PyTorch or NumPy's BLAS may bring.
int default_threads() {
  if (const char* v = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end != v && (*end == '\0' || *end == ',') && n >= 1) {
      return static_cast<int>(std::min<long>(n, 4096));
    }
  }
  return cpus_allowed();
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> n{default_threads()};
  return n;
}

std::atomic<bool>& adaptation() {
  static std::atomic<bool> on{[] {
    const char* v = std::getenv("FASTMLP_ADAPTIVE_THREADS");
    return !(v && std::strcmp(v, "0") == 0);
  }()};
  return on;
}

// The default LoadSource.
class Loadavg final : public LoadSource {
 public:
  int busy_cpus() override {
    std::FILE* f = std::fopen("/proc/loadavg", "r");
    if (!f) return 0;
    char line[128] = {};
    const bool got = std::fgets(line, sizeof line, f) != nullptr;
    std::fclose(f);
    return got ? std::max(0, detail::busy_cpus_from_loadavg(line, detail::spinning_team_workers()))
               : 0;
  }
};

// The feedback's state: the source, the latest sample and when the next one is due.
struct Feedback {
  std::atomic<LoadSource*> source{nullptr};  // null: the Loadavg below
  std::atomic<std::int64_t> next_sample{0};
  std::atomic<int> idle{1 << 30};
  Loadavg loadavg;

  // CPUs other processes leave idle, sampled at most every kSampleEvery; one caller refreshes
  // the sample, the others use the previous one meanwhile.
  int idle_cpus() {
    using clock = std::chrono::steady_clock;
    const std::int64_t now = clock::now().time_since_epoch().count();
    std::int64_t due = next_sample.load(std::memory_order_relaxed);
    if (now >= due &&
        next_sample.compare_exchange_strong(
            due, now + std::chrono::duration_cast<clock::duration>(kSampleEvery).count())) {
      static const int cpus = cpus_allowed();
      LoadSource* s = source.load(std::memory_order_acquire);
      const int busy = (s ? s : &loadavg)->busy_cpus();
      idle.store(std::max(1, cpus - std::max(0, busy)), std::memory_order_relaxed);
    }
    return idle.load(std::memory_order_relaxed);
  }
};

Feedback& feedback() {
  static Feedback f;
  return f;
}

// The innermost ScopedThreadCap of this thread (0: none).
thread_local int t_thread_cap = 0;

}  // namespace

int detail::busy_cpus_from_loadavg(const char* line, int own_spinning) {
  double l1, l5, l15;
  int running = 0, total = 0;
  if (std::sscanf(line, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total) != 5 ||
      running < 1) {
    return -1;
  }
  return std::max(0, running - 1 - own_spinning);
}

int ThreadPolicy::table(WorkKind kind, double cost, double parts, int threads) {
  const Row& r = kTable[static_cast<int>(kind)];
  if (!(cost >= r.min_cost && cost <= r.max_cost)) return 1;  // also NaN
  double t = std::min(static_cast<double>(threads), parts);
  if (r.cost_per_thread > 0) t = std::min(t, cost / r.cost_per_thread);
  return t >= 2.0 ? static_cast<int>(t) : 1;
}

int ThreadPolicy::threads_for(WorkKind kind, double cost, double parts) {
  if (detail::in_team_region()) return 1;
  const int t = table(kind, cost, parts, configured());
  if (t <= 1 || !adaptive()) return t;
  return std::min(t, feedback().idle_cpus());
}

int ThreadPolicy::configured() const {
  const int n = thread_setting().load(std::memory_order_relaxed);
  return t_thread_cap > 0 ? std::min(n, t_thread_cap) : n;
}

int ThreadPolicy::available() {
  const int n = configured();
  return n <= 1 || !adaptive() ? n : std::min(n, feedback().idle_cpus());
}

void ThreadPolicy::set_adaptive(bool on) { adaptation().store(on, std::memory_order_relaxed); }
bool ThreadPolicy::adaptive() const { return adaptation().load(std::memory_order_relaxed); }

void ThreadPolicy::set_load_source(LoadSource* source) {
  Feedback& f = feedback();
  f.source.store(source, std::memory_order_release);
  f.next_sample.store(0, std::memory_order_relaxed);
}

ThreadPolicy& thread_policy() {
  static ThreadPolicy policy;
  return policy;
}

ScopedThreadCap::ScopedThreadCap(int n) : previous_(t_thread_cap) {
  t_thread_cap = std::max(1, n);
}
ScopedThreadCap::~ScopedThreadCap() { t_thread_cap = previous_; }

// ---- the public settings (fastmlp/runtime.h) --------------------------------------------------

void set_thread_adaptation(bool on) { thread_policy().set_adaptive(on); }
bool thread_adaptation() { return thread_policy().adaptive(); }
int threads_available() { return thread_policy().available(); }

void set_num_threads(int n) {
  if (n < 1) {
    throw std::invalid_argument("set_num_threads: the thread count must be at least 1, got " +
                                std::to_string(n));
  }
  if (n > 4096) {
    throw std::invalid_argument("set_num_threads: the thread count must be at most 4096, got " +
                                std::to_string(n));
  }
  thread_setting().store(n, std::memory_order_relaxed);
}

int get_num_threads() { return thread_setting().load(std::memory_order_relaxed); }

}  // namespace fastmlp
