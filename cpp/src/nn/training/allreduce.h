// Data-parallel training's hook into the epoch loop. Every rank holds the whole model and trains
// on its rows of each global batch; after a batch's gradients the trainer calls reduce_step,
// which sums every rank's share (weighted by its rows) in place, so each rank applies the same
// optimizer step to the same weights and they stay bitwise identical.
//
// The collectives (an MPI communicator in mpi_collectives.cpp, threads in the C++ tests) sit
// behind `Collectives`; the protocol on top of them is here. Every exchange between ranks starts
// with one status vector (kStatusSize doubles, summed): a failure flag, a stop flag and the sums
// of that point (rows, loss, metrics). A rank that fails anywhere (a bad argument, NaN in its
// rows, a callback that raised) joins the next status exchange with its failure flag set instead
// of leaving the others blocked in an allreduce it never reaches; every rank then raises the same
// RankFailure, with the message of the lowest failing rank.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "fastmlp/gemm.h"  // index_t

namespace fastmlp {

// Raised on every rank when one rank failed; kind is the failing rank's error class.
class RankFailure : public std::runtime_error {
 public:
  enum class Kind : int { runtime = 0, value = 1, type = 2, floating_point = 3, interrupt = 4 };
  RankFailure(Kind kind, int failed_rank, const std::string& what)
      : std::runtime_error(what), kind_(kind), failed_rank_(failed_rank) {}
  Kind kind() const { return kind_; }
  int failed_rank() const { return failed_rank_; }

 private:
  Kind kind_;
  int failed_rank_;
};

// In-place collectives over one group of ranks. Every rank calls them in the same order.
class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void sum(float* data, index_t n) = 0;
  virtual void sum(double* data, index_t n) = 0;
  virtual void min(double* data, index_t n) = 0;
  virtual void broadcast(char* data, index_t n, int root) = 0;
};

namespace detail {

// Which rows of the (shuffled) order one rank trains on at each step of an epoch.
struct StepRows {
  index_t first, count;
};

class StepPlan {
 public:
  // One process: batches of batch_size rows over all n rows.
  StepPlan(index_t n, index_t batch_size);
  // Rank `rank` of `size`. replicated: every rank holds the same n = total rows and takes its
  // contiguous part of each global batch. Otherwise each holds its own shard of n of `total`
  // rows and takes, at each step, its proportional part of the shard, so that every shard ends
  // after the same number of steps (each global batch then holds batch_size rows give or take
  // one per rank).
  StepPlan(index_t n, index_t total, index_t batch_size, int rank, int size, bool replicated);

  index_t batches() const { return batches_; }
  index_t max_rows() const { return max_rows_; }  // the most rows of any step on this rank
  StepRows rows(index_t batch) const;
  // Dropout's stream for a training step: one stream per (step, rank), so ranks draw
  // independent masks, and a single process keeps the streams it always had.
  std::uint64_t dropout_stream(std::uint64_t step) const { return step * size_ + rank_; }

 private:
  index_t n_, total_, bs_, batches_, max_rows_;
  int rank_ = 0, size_ = 1;
  bool replicated_ = true;
};

}  // namespace detail

struct StepResult {
  double loss;  // the global batch's loss (the rows-weighted mean of the ranks' losses)
  bool stop;    // another rank stopped the epoch: this step is not applied
};

class GradientReducer {
 public:
  static constexpr index_t kStatusSize = 64, kPayload = kStatusSize - 2;

  // replicated: every rank passes the same full arrays (see StepPlan).
  GradientReducer(std::shared_ptr<Collectives> collectives, bool replicated);
  int rank() const { return c_->rank(); }
  int size() const { return c_->size(); }
  bool replicated() const { return replicated_; }

  // Start of an epoch over this rank's n rows: agrees that every rank got here, checks that
  // the ranks' batch sizes (and, replicated, row counts) agree, and returns this rank's steps.
  detail::StepPlan begin_epoch(index_t n, index_t batch_size);
  // After one batch's local gradients (mean over `rows` rows, 0 rows allowed: then zeros):
  // weights them by rows / global rows and sums them over the ranks, in place.
  StepResult reduce_step(float* grads, index_t n, double loss, index_t rows);
  // End of an epoch in which this rank trained on `rows` rows: agrees that every rank got here
  // and makes `state` (BatchNormalization's moving statistics) the rows-weighted mean over the
  // ranks. stopped_early: this rank left the loop before the last batch (a callback or Ctrl-C);
  // the others are told at their next step first. The logs are summed next (sum).
  void end_epoch(bool stopped_early, index_t rows, float* state, index_t n_state);
  // Sums n values over the ranks in place. Only right after an agreement (end_epoch, agree):
  // every rank must get there, with the same n.
  void sum(double* data, index_t n) { c_->sum(data, n); }

  // An agreement between phases, outside the loop: every rank passes the same number of payload
  // values, summed in place. Returns whether any rank asked to stop. Throws RankFailure if one
  // failed.
  bool agree(double* payload, index_t n, bool stop);
  // A local failure: joins the current status exchange with it, then throws the agreed error.
  [[noreturn]] void fail(RankFailure::Kind kind, const std::string& message);
  // fail() for the exception being handled (a RankFailure is rethrown as it is: already agreed).
  [[noreturn]] void fail_current();

  // Collective time so far, for benchmarks: seconds inside reduce_step's gradient sum, and calls.
  double gradient_seconds() const { return gradient_seconds_; }
  std::int64_t gradient_calls() const { return gradient_calls_; }

 private:
  // One status exchange; returns the stop flag's sum (payload summed in place). On a failure
  // anywhere, runs the failure exchange and throws.
  double exchange(bool failed, bool stop, const double* payload, index_t n, double* out,
                  RankFailure::Kind kind = RankFailure::Kind::runtime,
                  const std::string& message = std::string());

  std::shared_ptr<Collectives> c_;
  bool replicated_;
  bool stopped_ = false;  // the last step's exchange said stop (the loop then ends everywhere)
  double gradient_seconds_ = 0.0;
  std::int64_t gradient_calls_ = 0;
};

// Runs fn(); on any exception, the failure protocol (every rank then throws the same error).
template <class F>
auto guarded(GradientReducer* r, F&& fn) -> decltype(fn()) {
  if (!r) return fn();
  try {
    return fn();
  } catch (...) {
    r->fail_current();
  }
}

}  // namespace fastmlp
