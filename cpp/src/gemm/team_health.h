// The GEMM driver's watch on how promptly a team's workers finish (gemm.cpp's run()).
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace fastmlp {
namespace gemm {

// The team's caller runs any share a worker has not started, but it must wait for a unit a
// worker started and then lost its core for (another process took it): a 3 ms time slice makes a
// 100 us product 30x slower. So the driver watches the join: when the caller waited there longer
// than 200 us plus the work it did itself (far beyond a wake-up or an interrupt, which must not
// count) twice within 100 ms, further calls run on one thread until a retry time (backing off
// from 50 ms to 1 s while it keeps happening, halving the back-off after each prompt join). One
// slow join alone is not enough: on a VM the hypervisor takes a vCPU away now and then, which
// says nothing about the next call, while a busy core makes slow joins frequent.
// Which threads run never changes the result, only the speed.
class TeamHealth {
 public:
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  bool fork_pays(std::int64_t now) const {
    return now >= retry_at_.load(std::memory_order_relaxed);
  }
  void report(std::int64_t start, std::int64_t own_done, std::int64_t joined) {
    const std::int64_t own = own_done - start, wait = joined - own_done;
    const std::int64_t b = backoff_.load(std::memory_order_relaxed);
    if (wait <= kSlackNs + own) {
      // one prompt join may be luck on a busy machine: trust it back gradually
      backoff_.store(std::max(b / 2, kMinBackoffNs), std::memory_order_relaxed);
      return;
    }
    if (joined - last_slow_.exchange(joined, std::memory_order_relaxed) > kPairNs) return;
    backoff_.store(std::min(2 * b, kMaxBackoffNs), std::memory_order_relaxed);
    retry_at_.store(joined + b, std::memory_order_relaxed);
  }

 private:
  static constexpr std::int64_t kSlackNs = 200000;
  static constexpr std::int64_t kMinBackoffNs = 50000000, kMaxBackoffNs = 1000000000;
  std::atomic<std::int64_t> retry_at_{0};
  std::atomic<std::int64_t> backoff_{kMinBackoffNs};
  static constexpr std::int64_t kPairNs = 100000000;
  std::atomic<std::int64_t> last_slow_{-kPairNs - 1};  // when the previous slow join ended
};

inline TeamHealth& team_health() {
  static TeamHealth health;
  return health;
}

}  // namespace gemm
}  // namespace fastmlp
