// The data-parallel protocol over Collectives: status exchanges, the failure exchange, the
// weighted gradient sum, and which rows each rank trains on.
#include "nn/training/allreduce.h"

#include <algorithm>
#include <chrono>
#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif
#include <cstring>
#include <utility>

#include "fastmlp/model.h"  // NonFiniteStep

namespace fastmlp {
namespace detail {
namespace {

// floor(a * b / c) without overflow for any row counts.
index_t mul_div(index_t a, index_t b, index_t c) {
  return static_cast<index_t>(static_cast<__int128>(a) * b / c);
}

}  // namespace

StepPlan::StepPlan(index_t n, index_t batch_size)
    : n_(n), total_(n), bs_(std::max<index_t>(1, std::min(batch_size, n))) {
  batches_ = (n_ + bs_ - 1) / bs_;
  max_rows_ = bs_;
}

StepPlan::StepPlan(index_t n, index_t total, index_t batch_size, int rank, int size,
                   bool replicated)
    : n_(n), total_(replicated ? n : total), rank_(rank), size_(size), replicated_(replicated) {
  bs_ = std::max<index_t>(1, std::min(batch_size, total_));
  batches_ = (total_ + bs_ - 1) / bs_;
  max_rows_ = replicated ? (bs_ + size - 1) / size
                         : std::min(n_, (bs_ * n_ + total_ - 1) / total_ + 1);
}

StepRows StepPlan::rows(index_t batch) const {
  const index_t first = batch * bs_;
  if (replicated_) {
    const index_t count = std::min(bs_, n_ - first);
    const index_t lo = count * rank_ / size_, hi = count * (rank_ + 1) / size_;
    return {first + lo, hi - lo};
  }
  const index_t lo = mul_div(first, n_, total_);
  const index_t hi = mul_div(std::min(first + bs_, total_), n_, total_);
  return {lo, hi - lo};
}

}  // namespace detail

namespace {

constexpr index_t kMessageBytes = 2048;

std::string plural(int n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// What every rank raises: the failing rank's message, and which rank it was.
std::string agreed_message(const char* text, int root, int failed, int size) {
  if (size == 1) return text;
  std::string who;
  if (failed == size) {
    who = "on every rank (" + plural(size, "rank") + "; rank " + std::to_string(root) + " said)";
  } else {
    who = "on rank " + std::to_string(root) + " of " + std::to_string(size) +
          (failed > 1 ? " (and on " + plural(failed - 1, "other rank") + ")" : "");
  }
  return std::string(text) + " [raised " + who + "; every rank stopped]";
}

}  // namespace

GradientReducer::GradientReducer(std::shared_ptr<Collectives> collectives, bool replicated)
    : c_(std::move(collectives)), replicated_(replicated) {
  if (!c_) throw std::invalid_argument("GradientReducer: no collectives");
}

double GradientReducer::exchange(bool failed, bool stop, const double* payload, index_t n,
                                 double* out, RankFailure::Kind kind,
                                 const std::string& message) {
  if (n > kPayload) {
    throw std::invalid_argument("GradientReducer: at most " + std::to_string(kPayload) +
                                " values per exchange, got " + std::to_string(n));
  }
  double status[kStatusSize] = {};
  status[0] = failed ? 1.0 : 0.0;
  status[1] = stop ? 1.0 : 0.0;
  if (n > 0) std::copy(payload, payload + n, status + 2);
  c_->sum(status, kStatusSize);
  if (status[0] > 0.0) {
    // The lowest failing rank tells the others what went wrong.
    double who = failed ? rank() : size();
    c_->min(&who, 1);
    const int root = static_cast<int>(who);
    char text[kMessageBytes] = {};
    if (rank() == root) {
      text[0] = static_cast<char>(kind);
      std::strncpy(text + 1, message.c_str(), kMessageBytes - 2);
    }
    c_->broadcast(text, kMessageBytes, root);
    text[kMessageBytes - 1] = '\0';
    throw RankFailure(static_cast<RankFailure::Kind>(text[0]), root,
                      agreed_message(text + 1, root, static_cast<int>(status[0]), size()));
  }
  if (n > 0) std::copy(status + 2, status + 2 + n, out);
  return status[1];
}

detail::StepPlan GradientReducer::begin_epoch(index_t n, index_t batch_size) {
  double total = static_cast<double>(n);
  exchange(false, false, &total, 1, &total);
  stopped_ = false;
  // Both signs under one min: each value's minimum and maximum over the ranks.
  double m[4] = {double(n), -double(n), double(batch_size), -double(batch_size)};
  c_->min(m, 4);
  if (m[2] != -m[3]) {
    throw std::invalid_argument(
        "batch_size differs between ranks (from " + std::to_string(index_t(m[2])) + " to " +
        std::to_string(index_t(-m[3])) + "): it is the global batch and every rank must pass the "
        "same value");
  }
  if (replicated_ && m[0] != -m[1]) {
    throw std::invalid_argument(
        "the ranks passed from " + std::to_string(index_t(m[0])) + " to " +
        std::to_string(index_t(-m[1])) + " rows: with DataParallel(auto_shard_dataset=True) "
        "every rank passes the same full arrays and trains on its part of each batch; to pass "
        "each rank's own shard, use DataParallel(auto_shard_dataset=False)");
  }
  return detail::StepPlan(n, static_cast<index_t>(total), batch_size, rank(), size(),
                          replicated_);
}

StepResult GradientReducer::reduce_step(float* grads, index_t n, double loss, index_t rows) {
  double sums[2] = {double(rows), rows > 0 ? loss * double(rows) : 0.0};
  if (exchange(false, false, sums, 2, sums) > 0.0) {
    stopped_ = true;
    return {0.0, true};
  }
  const double total = sums[0];
  if (size() > 1) {
    const auto start = std::chrono::steady_clock::now();
    const float w = static_cast<float>(double(rows) / total);
    if (w != 1.0f) {
      for (index_t i = 0; i < n; ++i) grads[i] *= w;
    }
    c_->sum(grads, n);
    gradient_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++gradient_calls_;
  }
  return {sums[1] / total, false};
}

void GradientReducer::end_epoch(bool stopped_early, index_t rows, float* state,
                                index_t n_state) {
  // A rank that left the loop early tells the others, who are at their next step's exchange.
  if (stopped_early && !stopped_) exchange(false, true, nullptr, 0, nullptr);
  stopped_ = false;
  double total = static_cast<double>(rows);
  exchange(false, false, &total, 1, &total);
  if (n_state > 0 && size() > 1) {
    const float w = static_cast<float>(total > 0 ? double(rows) / total : 1.0 / size());
    for (index_t i = 0; i < n_state; ++i) state[i] *= w;
    c_->sum(state, n_state);
  }
}

bool GradientReducer::agree(double* payload, index_t n, bool stop) {
  return exchange(false, stop, payload, n, payload) > 0.0;
}

void GradientReducer::fail(RankFailure::Kind kind, const std::string& message) {
  stopped_ = false;
  exchange(true, false, nullptr, 0, nullptr, kind, message);
  throw std::logic_error("GradientReducer::fail: the failure exchange did not throw");
}

void GradientReducer::fail_current() {
  using Kind = RankFailure::Kind;
  try {
    throw;
  }
#if defined(__GLIBCXX__)
  catch (abi::__forced_unwind&) {  // a thread ended by pthread_exit: not an error to report
    throw;
  }
#endif
  catch (const RankFailure&) {
    throw;  // already agreed by every rank
  } catch (const NonFiniteStep& e) {
    fail(Kind::floating_point, e.what());
  } catch (const std::invalid_argument& e) {
    fail(Kind::value, e.what());
  } catch (const std::exception& e) {
    fail(Kind::runtime, e.what());
  } catch (...) {
    fail(Kind::runtime, "an unknown C++ exception");
  }
}

}  // namespace fastmlp
