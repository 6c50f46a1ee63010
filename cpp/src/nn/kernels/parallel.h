// Static, deterministic work splitting for the element-wise parts of the network (the GEMMs choose
// their own threads). Small work runs inline on the calling thread: no region at all.
#pragma once
#include <algorithm>

#include "common/thread_team.h"
#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"

namespace fastmlp {
namespace detail {

// Threads that `work` element operations deserve: one per ~16k elements (16k simple operations
// take ~3-5 us, several times a region's ~1 us start-up while the team's workers spin), at most
// threads_available().
inline int threads_for(index_t work, index_t grain = index_t(1) << 14) {
  const index_t t = work / grain;
  return static_cast<int>(std::max<index_t>(1, std::min<index_t>(threads_available(), t)));
}

// fn(begin, end) over contiguous chunks of [0, n), one chunk per thread of a `threads` team (or
// all of [0, n) inline). The split never changes what an item computes, so results do not depend
// on the thread count. fn must not throw.
template <class F>
void split_range(int threads, index_t n, F&& fn) {
  if (threads <= 1 || n < 2) {
    fn(index_t(0), n);
    return;
  }
  auto body = [&](int id, int nt) {
    const index_t b = n * id / nt, e = n * (id + 1) / nt;
    if (b < e) fn(b, e);
  };
  run_team(static_cast<int>(std::min<index_t>(threads, n)), body);
}

// parallel over [0, n) when each item costs about `work_per_item` element operations.
template <class F>
void parallel_chunks(index_t n, index_t work_per_item, F&& fn, index_t grain = index_t(1) << 14) {
  split_range(threads_for(n * work_per_item, grain), n, fn);
}

// fn(i) for every i in [0, n), statically split over `threads` threads.
template <class F>
void parallel_for(int threads, index_t n, F&& fn) {
  split_range(threads, n, [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) fn(i);
  });
}

}  // namespace detail
}  // namespace fastmlp
