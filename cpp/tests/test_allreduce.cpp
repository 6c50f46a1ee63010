// Data-parallel training without MPI: threads play the ranks of a group (ThreadRank below), each
// training its own Model with a GradientReducer. Checks which rows each rank trains on
// (StepPlan), that N ranks with global batch B give one process's weights and stay bitwise
// identical, that a failure or a stop on one rank reaches every rank, and that every collective
// of the protocol is called with the same size and kind on every rank.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "dense_spec.h"
#include "fastmlp/model.h"
#include "fastmlp/runtime.h"
#include "nn/training/allreduce.h"

using fastmlp::index_t;

namespace {

// One rendezvous per collective: each rank's values (as doubles, exact for float), combined in
// rank order, so every rank gets the same bits.
class Group {
 public:
  explicit Group(int size) : size_(size), in_(size), kind_(size) {}
  int size() const { return size_; }
  bool mismatched() const { return mismatched_; }

  void run(int rank, std::vector<double>& v, int kind, int root) {
    std::unique_lock<std::mutex> lock(mu_);
    const std::uint64_t round = round_;
    in_[rank] = v;
    kind_[rank] = kind * 1000 + root;
    if (++arrived_ == size_) {
      out_ = in_[root];
      for (int r = 0; r < size_; ++r) {
        if (in_[r].size() != in_[0].size() || kind_[r] != kind_[0]) mismatched_ = true;
        for (std::size_t i = 0; kind != 2 && r != root && i < out_.size() && i < in_[r].size();
             ++i) {
          out_[i] = kind == 0 ? out_[i] + in_[r][i] : std::min(out_[i], in_[r][i]);
        }
      }
      arrived_ = 0;
      ++round_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return round_ != round; });
    }
    v = out_;
  }

 private:
  int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  std::uint64_t round_ = 0;
  std::vector<std::vector<double>> in_;
  std::vector<int> kind_;
  std::vector<double> out_;
  bool mismatched_ = false;
};

class ThreadRank final : public fastmlp::Collectives {
 public:
  ThreadRank(Group& g, int rank) : g_(g), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return g_.size(); }
  void sum(float* d, index_t n) override { run(d, n, 0, 0); }
  void sum(double* d, index_t n) override { run(d, n, 0, 0); }
  void min(double* d, index_t n) override { run(d, n, 1, 0); }
  void broadcast(char* d, index_t n, int root) override { run(d, n, 2, root); }

 private:
  template <class T>
  void run(T* d, index_t n, int kind, int root) {
    std::vector<double> v(d, d + n);
    g_.run(rank_, v, kind, root);
    for (index_t i = 0; i < n; ++i) d[i] = static_cast<T>(v[i]);
  }
  Group& g_;
  int rank_;
};

// Runs fn(rank, reducer) on `size` threads; returns each rank's exception text ("" if none).
std::vector<std::string> on_ranks(int size, bool replicated, Group& group,
                                  const std::function<void(int, fastmlp::GradientReducer&)>& fn) {
  std::vector<std::string> errors(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      fastmlp::GradientReducer reducer(std::make_shared<ThreadRank>(group, r), replicated);
      try {
        fastmlp::guarded(&reducer, [&] { fn(r, reducer); });
      } catch (const fastmlp::RankFailure& e) {
        errors[r] = std::to_string(int(e.kind())) + "/" + std::to_string(e.failed_rank()) + ": " +
                    e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

void check_plans() {
  // One process: the classic batching.
  const fastmlp::detail::StepPlan one(10, 4);
  CHECK(one.batches() == 3 && one.max_rows() == 4 && one.rows(2).first == 8 &&
        one.rows(2).count == 2 && one.dropout_stream(7) == 7);
  for (int size : {2, 3, 5}) {
    for (index_t bs : {1, 4, 7, 64}) {
      // Replicated: the ranks' parts of each batch tile it, every row once.
      const index_t n = 23;
      std::vector<int> seen(n, 0);
      for (int r = 0; r < size; ++r) {
        const fastmlp::detail::StepPlan p(n, n, bs, r, size, true);
        CHECK(p.batches() == (n + std::min(bs, n) - 1) / std::min(bs, n));
        for (index_t b = 0; b < p.batches(); ++b) {
          const auto rows = p.rows(b);
          CHECK(rows.count <= p.max_rows());
          for (index_t i = 0; i < rows.count; ++i) ++seen[rows.first + i];
        }
      }
      CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
      // Sharded, shards of different sizes: same steps everywhere, each shard once, and each
      // global batch within a row per rank of bs.
      const std::vector<index_t> shard = {5, 17, 9, 30, 2};
      index_t total = 0;
      for (int r = 0; r < size; ++r) total += shard[r];
      std::vector<index_t> per_step(fastmlp::detail::StepPlan(shard[0], total, bs, 0, size, false)
                                        .batches(), 0);
      for (int r = 0; r < size; ++r) {
        const fastmlp::detail::StepPlan p(shard[r], total, bs, r, size, false);
        CHECK(p.batches() == index_t(per_step.size()));
        index_t next = 0;
        for (index_t b = 0; b < p.batches(); ++b) {
          const auto rows = p.rows(b);
          CHECK(rows.first == next && rows.count <= p.max_rows());
          next += rows.count;
          per_step[b] += rows.count;
        }
        CHECK(next == shard[r]);
      }
      for (index_t b = 0; b < index_t(per_step.size()); ++b) {
        const index_t want = std::min(std::min(bs, total), total - b * std::min(bs, total));
        CHECK(std::abs(per_step[b] - want) <= size);
      }
    }
  }
}

struct Problem {
  index_t n = 101, in = 6;
  std::vector<float> x;
  std::vector<std::int32_t> y;
  std::vector<float> w;
  Problem() : x(n * in), y(n), w(n) {
    for (index_t i = 0; i < n * in; ++i) x[i] = float((i * 37) % 17) / 8.0f - 1.0f;
    for (index_t i = 0; i < n; ++i) y[i] = std::int32_t((i * 7) % 3), w[i] = 0.5f + (i % 4) / 4.0f;
  }
};

std::unique_ptr<fastmlp::Model> model(const Problem& p) {
  auto m = std::make_unique<fastmlp::Model>(
      p.in, std::vector<fastmlp::LayerSpec>{dense_spec(8, "tanh", 1), dense_spec(3, "softmax", 2)});
  fastmlp::LossSpec loss;
  loss.kind = fastmlp::LossKind::sparse_categorical_crossentropy;
  fastmlp::OptimizerConfig opt;
  opt.name = "sgd";
  opt.learning_rate.initial_learning_rate = 0.1;
  opt.momentum = 0.9;
  m->compile(loss, opt, {"sparse_categorical_accuracy"});
  return m;
}

fastmlp::Logs epoch(fastmlp::Model& m, const Problem& p, fastmlp::GradientReducer* r,
                    index_t bad_row = -1, int stop_at = -1) {
  std::vector<float> x = p.x;
  if (bad_row >= 0) x[bad_row * p.in] = NAN;
  const fastmlp::InputView xv{x.data(), fastmlp::DType::float32, p.n, p.in, p.in};
  fastmlp::TargetInput yv;
  yv.labels = p.y.data();
  yv.sample_weight = p.w.data();
  yv.rows = yv.weight_rows = p.n;
  const fastmlp::Dataset data(xv, yv, 3);  // checks x: a NaN throws here, on that rank alone
  fastmlp::EpochOptions o;
  o.batch_size = 16;
  o.seed = 5;
  o.reducer = r;
  if (stop_at >= 0) {
    o.batch_callback = [=](index_t b, const fastmlp::Logs&) { return b == stop_at; };
  }
  return m.train_epoch(data, o);
}

void check_training(int size) {
  const Problem p;
  auto ref = model(p);
  const fastmlp::Logs ref_logs = epoch(*ref, p, nullptr);
  std::vector<std::vector<std::vector<float>>> weights(size);
  std::vector<fastmlp::Logs> logs(size);
  Group group(size);
  const auto errors = on_ranks(size, true, group, [&](int r, fastmlp::GradientReducer& red) {
    auto m = model(p);
    logs[r] = epoch(*m, p, &red);
    weights[r] = m->get_weights();
  });
  CHECK(!group.mismatched());
  const auto want = ref->get_weights();
  for (int r = 0; r < size; ++r) {
    CHECK(errors[r].empty());
    CHECK(weights[r] == weights[0]);  // bitwise
    CHECK(logs[r] == logs[0]);
    for (std::size_t t = 0; t < want.size(); ++t) {
      for (std::size_t i = 0; i < want[t].size(); ++i) {
        CHECK_CLOSE(weights[r][t][i], want[t][i], 1e-4, 1e-5);
      }
    }
  }
  CHECK_CLOSE(logs[0][0].value(), ref_logs[0].value(), 1e-6, 1e-7);  // loss
  CHECK_CLOSE(logs[0][1].value(), ref_logs[1].value(), 1e-12, 1e-12);  // accuracy
}

void check_failure_and_stop(int size) {
  const Problem p;
  {  // NaN in one rank's data: every rank throws the same error.
    Group group(size);
    const auto errors = on_ranks(size, false, group, [&](int r, fastmlp::GradientReducer& red) {
      auto m = model(p);
      epoch(*m, p, &red, r == size - 1 ? 47 : -1);
    });
    CHECK(!group.mismatched());
    for (int r = 0; r < size; ++r) {
      CHECK(errors[r] == errors[0]);
      CHECK(errors[r].find("1/" + std::to_string(size - 1) + ": ") == 0);  // a ValueError
      CHECK(errors[r].find("x[47, 0]") != std::string::npos);
    }
  }
  {  // One rank's callback stops after batch 2: everyone stops there, identically.
    Group group(size);
    std::vector<std::int64_t> iterations(size);
    std::vector<std::vector<std::vector<float>>> weights(size);
    const auto errors = on_ranks(size, true, group, [&](int r, fastmlp::GradientReducer& red) {
      auto m = model(p);
      epoch(*m, p, &red, -1, r == size - 1 ? 2 : -1);
      epoch(*m, p, &red);  // and the next epoch runs together
      iterations[r] = m->iterations();
      weights[r] = m->get_weights();
    });
    CHECK(!group.mismatched());
    for (int r = 0; r < size; ++r) {
      CHECK(errors[r].empty());
      CHECK(iterations[r] == 3 + 7);
      CHECK(weights[r] == weights[0]);
    }
  }
  {  // A failure outside the loop meets the others' agreement; payloads are summed.
    Group group(size);
    std::vector<double> sums(size);
    const auto errors = on_ranks(size, true, group, [&](int r, fastmlp::GradientReducer& red) {
      double v[2] = {1.0, double(r)};
      red.agree(v, 2, false);
      sums[r] = v[0] * 100 + v[1];
      if (r == 1) throw std::invalid_argument("bad argument on rank 1");
      red.agree(v, 2, false);
    });
    CHECK(!group.mismatched());
    for (int r = 0; r < size; ++r) {
      CHECK(sums[r] == size * 100 + size * (size - 1) / 2);
      CHECK(errors[r].find("1/1: bad argument on rank 1 [raised on rank 1 of") == 0);
    }
  }
}

}  // namespace

int main() {
  fastmlp::set_num_threads(1);
  check_plans();
  for (int size : {1, 2, 3}) {
    check_training(size);
    check_failure_and_stop(size == 1 ? 2 : size);
  }
  return check::exit_code("test_allreduce");
}
