// Thread-count setting shared by the GEMM and the neural-network code.
#include "fastmlp/runtime.h"

#include <omp.h>

#include <atomic>
#include <stdexcept>
#include <string>

namespace fastmlp {
namespace {

int default_threads() {
  // omp_get_max_threads honours OMP_NUM_THREADS and the process's CPU affinity mask.
  int n = omp_get_max_threads();
  return n > 0 ? n : 1;
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> n{default_threads()};
  return n;
}

}  // namespace

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
