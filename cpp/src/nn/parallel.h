// Static, deterministic work splitting for the element-wise parts of the network (the GEMMs choose
// their own threads). Small work runs inline on the calling thread: no OpenMP region at all.
#pragma once
#include <omp.h>

#include <algorithm>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"

namespace fastmlp {
namespace detail {

// Threads that `work` element operations deserve: one per ~64k elements (a region start costs a
// few microseconds; 64k simple operations take ~10-20 us), at most threads_available().
inline int threads_for(index_t work, index_t grain = index_t(1) << 16) {
  const index_t t = work / grain;
  return static_cast<int>(std::max<index_t>(1, std::min<index_t>(threads_available(), t)));
}

// fn(begin, end) over contiguous chunks of [0, n); each item costs about `work_per_item`. The split
// never changes what an item computes, so results do not depend on the thread count. fn must not
// throw.
template <class F>
void parallel_chunks(index_t n, index_t work_per_item, F&& fn, index_t grain = index_t(1) << 16) {
  const int threads = threads_for(n * work_per_item, grain);
  if (threads <= 1 || n < 2) {
    fn(index_t(0), n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const index_t id = omp_get_thread_num(), nt = omp_get_num_threads();
    const index_t b = n * id / nt, e = n * (id + 1) / nt;
    if (b < e) fn(b, e);
  }
}

// fn(i) for every i in [0, n), statically split over `threads` threads. One thread runs the loop
// inline: an OpenMP region with a false `if` clause still sets up a team in libgomp, which
// allocates and costs ~1 us per call, too much for the per-batch loops of tiny networks.
template <class F>
void parallel_for(int threads, index_t n, F&& fn) {
  if (threads <= 1 || n < 2) {
    for (index_t i = 0; i < n; ++i) fn(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t i = 0; i < n; ++i) fn(i);
}

}  // namespace detail
}  // namespace fastmlp
