// Thread-count setting shared by the GEMM and the neural-network code.
#include "fastmlp/runtime.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/thread_team.h"

namespace fastmlp {
namespace {

int cpus_allowed();

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

int cpus_allowed() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

// CPUs not taken by runnable threads of other processes (or of this one's other callers): the
// 4th field of /proc/loadavg counts runnable threads, the reader included. Our own team workers
// that are spinning for the next region count as runnable there and are taken off.
int idle_cpus() {
  static const int cpus = cpus_allowed();
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return cpus;
  double l1, l5, l15;
  int running = 0, total = 0;
  const int got = std::fscanf(f, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total);
  std::fclose(f);
  if (got != 5 || running < 1) return cpus;
  const int others = std::max(0, running - 1 - detail::spinning_team_workers());
  return std::max(1, std::min(cpus, cpus - others));
}

// The innermost ScopedThreadCap of this thread (0: none).
thread_local int t_thread_cap = 0;

}  // namespace

ScopedThreadCap::ScopedThreadCap(int n) : previous_(t_thread_cap) {
  t_thread_cap = std::max(1, n);
}
ScopedThreadCap::~ScopedThreadCap() { t_thread_cap = previous_; }

void set_thread_adaptation(bool on) { adaptation().store(on, std::memory_order_relaxed); }
bool thread_adaptation() { return adaptation().load(std::memory_order_relaxed); }

int threads_available() {
  const int requested = get_num_threads();
  const int setting = t_thread_cap > 0 ? std::min(requested, t_thread_cap) : requested;
  if (setting <= 1 || !thread_adaptation()) return setting;
  using clock = std::chrono::steady_clock;
  static std::atomic<std::int64_t> next_sample{0};
  static std::atomic<int> idle{setting};
  const std::int64_t now = clock::now().time_since_epoch().count();
  std::int64_t due = next_sample.load(std::memory_order_relaxed);
  // One caller refreshes the sample; the others keep using the previous one meanwhile.
  if (now >= due && next_sample.compare_exchange_strong(
                        due, now + std::chrono::duration_cast<clock::duration>(
                                       std::chrono::milliseconds(50)).count())) {
    idle.store(idle_cpus(), std::memory_order_relaxed);
  }
  return std::max(1, std::min(setting, idle.load(std::memory_order_relaxed)));
}

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
