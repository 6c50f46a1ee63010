// Static, deterministic work splitting for the element-wise parts of the network (the GEMMs choose
// their own threads). How many threads a loop gets is the thread policy's answer
// (common/thread_policy.h); small work runs inline on the calling thread: no region at all.
#pragma once
#include <algorithm>

#include "common/thread_policy.h"
#include "common/thread_team.h"
#include "fastmlp/gemm.h"

namespace fastmlp {
namespace detail {

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

// split_range over [0, n) when each item costs `cost_per_item` in the unit of `kind`.
template <class F>
void parallel_chunks(WorkKind kind, index_t n, double cost_per_item, F&& fn) {
  const double cost = static_cast<double>(n) * cost_per_item;
  split_range(thread_policy().threads_for(kind, cost, static_cast<double>(n)), n, fn);
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
