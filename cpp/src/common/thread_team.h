// The team of worker threads that runs every parallel region of the core (GEMM, predict,
// element-wise loops).
//
// Why not `#pragma omp parallel`: libgomp's passive wait policy, which the shared machines need
// (spinning collapses when another process holds the second core), puts idle workers to sleep on
// a futex, and waking a sleeping virtual CPU costs ~60 us; measured on the 2-core VM this project
// runs on: 128 us per empty 2-thread region, against ~1 us with spinning workers. A training step
// opens ~10 regions of 50-300 us of work each, so 2 threads were no faster than 1. This team's
// workers spin for a short while after each region (FASTMLP_SPIN_US, default 100 us, about the
// cost of one wake-up) and then sleep, so back-to-back regions start in about a microsecond and an
// idle process uses no CPU. How many threads a region gets is the thread policy's answer
// (common/thread_policy.h).
#pragma once
#include <vector>

namespace fastmlp {
namespace detail {

using TeamBody = void (*)(void* ctx, int id, int threads);

// Calls body(ctx, id, n) exactly once for every id in [0, n) and returns when all calls have
// finished. Id 0 runs on the calling thread, the others on workers; a share whose worker has not
// started it by the time the caller is done with its own runs on the caller too, so a sleeping or
// descheduled worker never holds the region up. Returns how many threads ran shares (1 when the
// caller ran them all). Runs body(ctx, 0, 1) alone when threads <= 1, when called from inside a
// region, or while another thread's region holds the team. body must not throw.
int run_team_raw(int threads, TeamBody body, void* ctx);

// True on a team worker and on a caller while its region runs.
bool in_team_region();

// Workers spinning right now, waiting for the next region: runnable threads of our own that
// the thread policy's load feedback must not count as other processes' work.
int spinning_team_workers();

// Test hook: for each worker, 1 << 31 | the floating-point mode (MXCSR) it ran its latest share
// in, or 0 if it ran none since the last call with reset = true (which returns, then clears).
std::vector<unsigned> team_worker_fp_modes(bool reset = false);

// run_team_raw for any callable f(int id, int threads).
template <class F>
int run_team(int threads, F& f) {
  return run_team_raw(
      threads, [](void* ctx, int id, int n) { (*static_cast<F*>(ctx))(id, n); }, &f);
}

}  // namespace detail
}  // namespace fastmlp
