// The training loop (whole epochs: shuffle, batch, forward, loss, backward, optimizer step,
// running logs), evaluation and compile-time setup. The metrics themselves live in nn/metrics/.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "fastmlp/model.h"
#include "fastmlp/runtime.h"
#include "common/checks.h"
#include "common/fp_mode.h"
#include "common/thread_policy.h"
#include "nn/losses/unchecked.h"
#include "nn/training/allreduce.h"
#include "nn/training/input.h"
#include "nn/training/shuffle.h"

namespace fastmlp {
namespace {

// True if any value is NaN or Inf; for the weights once per epoch and in error messages (the
// per-step check of the gradients is part of the optimizer's guarded update).
bool any_nonfinite(const std::vector<float>& v) {
  const index_t n = static_cast<index_t>(v.size());
  return n > 0 && detail::first_nonfinite_row(v.data(), 1, n) >= 0;
}

}  // namespace

struct Model::BusyGuard {
  Model& m;
  BusyGuard(Model& model, const char* what) : m(model) {
    if (m.busy_.exchange(true)) {
      throw std::invalid_argument(std::string(what) +
                                  ": not allowed while this model is training or evaluating "
                                  "(called from a callback or another thread?)");
    }
    m.busy_thread_ = std::this_thread::get_id();
  }
  ~BusyGuard() { m.busy_.store(false); }
};

void Model::compile(const LossSpec& loss, const OptimizerConfig& optimizer,
                    const std::vector<MetricSpec>& metrics, const std::vector<bool>& frozen,
                    const std::vector<MetricSpec>& weighted_metrics) {
  BusyGuard busy(*this, "compile");
  loss.validate();
  if (!frozen.empty() && frozen.size() != layers_.size()) {
    detail::throw_invalid_value("frozen", "one flag per layer (" +
                                std::to_string(layers_.size()) + ")",
                                std::to_string(frozen.size()) + " flags");
  }
  const bool sparse = loss.kind == LossKind::sparse_categorical_crossentropy;
  std::vector<std::unique_ptr<Metric>> built;
  for (const auto* list : {&metrics, &weighted_metrics}) {
    for (const MetricSpec& spec : *list) {
      built.push_back(make_metric(spec));
      if (built.back()->needs_labels() && !sparse) {
        throw std::invalid_argument("compile: metric '" + built.back()->name() +
                                    "' needs integer labels, but the loss is " +
                                    loss_name(loss.kind));
      }
      built.back()->check_width(output_dim_);
      built.back()->build(output_dim_);
    }
  }
  auto opt = make_optimizer(optimizer);
  loss_ = loss;
  optimizer_ = std::move(opt);
  metrics_ = std::move(built);
  unweighted_metrics_ = static_cast<index_t>(metrics.size());
  frozen_.assign(layers_.size(), 0);
  for (std::size_t l = 0; l < frozen.size(); ++l) frozen_[l] = frozen[l] ? 1 : 0;
  select_trainable();
  reset_metrics();
  const Activation* act = layers_.back()->output_activation();
  fused_loss_ = act && num_layers() - 1 >= first_layer() && loss_fuses_with(loss_, *act);
}

Targets Model::batch_targets(const TargetView& y, const index_t* idx, index_t first, index_t n,
                             Workspace& ws) const {
  const index_t k = output_dim_;
  if (!idx) {
    return {y.dense ? y.dense + first * k : nullptr, y.labels ? y.labels + first : nullptr,
            y.sample_weight ? y.sample_weight + first : nullptr};
  }
  Targets t;
  if (y.labels) {
    for (index_t i = 0; i < n; ++i) ws.labels[i] = y.labels[idx[i]];
    t.labels = ws.labels.data();
  }
  if (y.dense) {
    for (index_t i = 0; i < n; ++i) std::memcpy(ws.targets + i * k, y.dense + idx[i] * k, sizeof(float) * k);
    t.dense = ws.targets;
  }
  if (y.sample_weight) {
    for (index_t i = 0; i < n; ++i) ws.sample_weight[i] = y.sample_weight[idx[i]];
    t.sample_weight = ws.sample_weight;
  }
  return t;
}

void Model::reset_metrics() {
  loss_total_ = loss_count_ = 0.0;
  for (const auto& m : metrics_) m->reset_state();
}

// The loss mean is weighted by batch rows (Keras's loss tracker); metrics see the targets without
// sample weights, weighted metrics with them.
void Model::update_metrics(double batch_loss, const float* y_pred, index_t n, const Targets& t) {
  loss_total_ += batch_loss * static_cast<double>(n);
  loss_count_ += static_cast<double>(n);
  const Targets unweighted{t.dense, t.labels, nullptr};
  for (index_t i = 0; i < static_cast<index_t>(metrics_.size()); ++i) {
    metrics_[i]->update_state(y_pred, n, output_dim_, metric_is_weighted(i) ? t : unweighted);
  }
}

Logs Model::make_logs() const {
  Logs logs{{"loss", loss_count_ > 0.0 ? loss_total_ / loss_count_ : 0.0}};
  for (const auto& m : metrics_) {
    logs.emplace_back(m->name(), m->result_values(), m->result_shape());
  }
  return logs;
}

Logs Model::sum_logs_over_ranks(GradientReducer& reducer) {
  std::vector<double> sums{loss_total_, loss_count_};
  for (const auto& m : metrics_) sums.insert(sums.end(), m->state().begin(), m->state().end());
  reducer.sum(sums.data(), index_t(sums.size()));
  loss_total_ = sums[0], loss_count_ = sums[1];
  auto at = sums.begin() + 2;
  for (const auto& m : metrics_) {  // every state is a sum over rows (counts, totals)
    const auto end = at + static_cast<std::ptrdiff_t>(m->state().size());
    m->set_state(std::vector<double>(at, end));
    at = end;
  }
  return make_logs();
}

void detail::shuffled_order(index_t n, std::uint64_t seed, std::vector<index_t>& order) {
  order.resize(n);
  for (index_t i = 0; i < n; ++i) order[i] = i;
  const Philox rng(seed);
  std::uint32_t w[4];
  for (index_t i = n - 1; i > 0; --i) {
    rng.generate(static_cast<std::uint64_t>(i), 0x5348u, w);
    const std::uint64_t r = (std::uint64_t(w[0]) << 32) | w[1];
    const index_t j = static_cast<index_t>(r % static_cast<std::uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
}

namespace {
// The options' one argument a caller can get wrong (the rest are flags and hooks).
void check_batch_size(index_t batch_size) {
  if (batch_size < 1) {
    detail::throw_invalid_value("batch_size", "a positive integer",
                                "batch_size=" + std::to_string(batch_size));
  }
}
}  // namespace

Logs Model::train_epoch(const Dataset& data, const EpochOptions& o) {
  check_dataset(data, "train_epoch");
  check_batch_size(o.batch_size);
  BusyGuard busy(*this, "train_epoch");
  const detail::FlushDenormalsScope fp_mode;
  const TargetView& y = data.y();
  const bool check_input = rescaling_may_overflow(data);
  const index_t n = data.rows();
  // The rows of each step: all of a batch here, this rank's part of it with a reducer.
  const detail::StepPlan plan = o.reducer ? o.reducer->begin_epoch(n, o.batch_size)
                                          : detail::StepPlan(n, o.batch_size);
  const index_t bs = plan.max_rows();
  layout(train_ws_, bs, true);
  std::vector<index_t> order;
  if (o.shuffle) detail::shuffled_order(n, o.seed, order);
  if (o.reset_metrics) reset_metrics();
  using clock = std::chrono::steady_clock;
  auto last_check = clock::now();
  const index_t batches = plan.batches(), every = std::max<index_t>(1, o.callback_every);
  // A step too small to split runs every region on one thread (WorkKind::train_step); the
  // table's answer for the configured threads, so the load feedback still acts region by region.
  const int step_threads = ThreadPolicy::table(WorkKind::train_step, bs * macs_per_row(),
                                               ThreadPolicy::kNoLimit, get_num_threads());
  struct SkipNonfinite {  // for this loop only: apply_gradients() on its own applies everything
    Optimizer& opt;
    ~SkipNonfinite() { opt.set_skip_nonfinite(false); }
  } skip{*optimizer_};
  optimizer_->set_skip_nonfinite(o.stop_on_nonfinite);
  index_t b = 0;
  for (; b < batches; ++b) {
    const detail::StepRows rows = plan.rows(b);
    const index_t first = rows.first, cnt = rows.count;
    const index_t* idx = o.shuffle ? order.data() + first : nullptr;
    double loss;
    Targets t;
    {
      ScopedThreadCap scope(step_threads);
      load_rows(data, idx, first, cnt, check_input);
      t = batch_targets(y, idx, first, cnt, train_ws_);
      const Pass pass{true, plan.dropout_stream(training_step_++), false};
      loss = loss_and_gradients(train_ws_, train_ws_.input, cnt, t, pass);
      if (o.reducer) {
        const StepResult global = o.reducer->reduce_step(grads_.data(), index_t(grads_.size()),
                                                         loss, cnt);
        if (global.stop) {  // another rank stopped the epoch before this step
          --training_step_;
          break;
        }
        loss = global.loss;
      }
      // Applied, a NaN/Inf loss or gradient turns the weights into NaN for good: a non-finite
      // loss stops before the step; NaN/Inf gradients with a finite loss (an overflow in the
      // backward pass) are left out by the optimizer (set_skip_nonfinite), which says so.
      if (o.stop_on_nonfinite && !std::isfinite(loss)) throw_nonfinite_step(b, batches, loss);
      step_optimizer();
      if (o.stop_on_nonfinite && optimizer_->skipped_nonfinite()) {
        throw_nonfinite_step(b, batches, loss);
      }
    }
    const float* out = train_ws_.outputs[num_layers() - 1];
    update_metrics(loss, out, cnt, t);
    if (o.y_pred_out) {
      for (index_t i = 0; i < cnt; ++i) {
        std::memcpy(o.y_pred_out + (idx ? idx[i] : first + i) * output_dim_, out + i * output_dim_,
                    sizeof(float) * output_dim_);
      }
    }
    if (o.batch_callback && (b + 1) % every == 0) {
      const detail::CallerFpModeScope user_code(fp_mode);
      if (o.batch_callback(b, make_logs())) break;
    }
    if (o.interrupt_check && clock::now() - last_check > std::chrono::milliseconds(15)) {
      last_check = clock::now();
      const detail::CallerFpModeScope user_code(fp_mode);
      if (o.interrupt_check()) break;
    }
  }
  if (o.reducer) {  // the moving statistics and the logs over every rank's rows
    o.reducer->end_epoch(b + 1 < batches, index_t(loss_count_), state_.data(),
                         index_t(state_.size()));
    sum_logs_over_ranks(*o.reducer);
  }
  // Finite gradients can still overflow the weights (a huge learning rate): said here, once per
  // epoch, rather than left for the next call to find.
  if (o.stop_on_nonfinite && any_nonfinite(params_)) {
    throw NonFiniteStep("the weights hold NaN or Inf after the last step of the epoch although "
                        "every batch's loss and gradients were finite: an update overflowed the "
                        "float32 range. Lower the learning rate or scale the inputs.");
  }
  return make_logs();
}

void Model::throw_nonfinite_step(index_t batch, index_t batches, double loss) const {
  std::ostringstream what;
  const bool finite = std::isfinite(loss);
  what << (finite ? "the gradients" : "the loss") << " of batch " << batch + 1 << " (of "
       << batches << ") " << (finite ? "hold NaN or Inf (the loss is " : "is ");
  if (std::isnan(loss)) {
    what << "nan";  // not "-nan"
  } else {
    what << loss;
  }
  what << (finite ? ")" : "") << ": ";
  if (!finite && (any_nonfinite(params_) || any_nonfinite(state_))) {
    what << "the weights already hold NaN or Inf (from set_weights, or an update that overflowed"
            " the float32 range).";
  } else {
    what << "a value overflowed the float32 range. "
         << (finite ? "The weights whose gradients are finite took the step, the others kept "
                      "their values."
                    : "The step was not applied: the weights are those after the previous step.")
         << " Lower the learning rate or scale the inputs (e.g. standardize x).";
  }
  what << " To stop training without an error instead, pass callbacks=[TerminateOnNaN()].";
  throw NonFiniteStep(what.str());
}

Logs Model::evaluate(const Dataset& data, index_t batch_size, float* y_pred_out,
                     const std::function<bool()>& interrupt, bool reset_first) {
  check_dataset(data, "evaluate");
  check_batch_size(batch_size);
  BusyGuard busy(*this, "evaluate");
  const detail::FlushDenormalsScope fp_mode;
  const TargetView& y = data.y();
  const bool check_input = rescaling_may_overflow(data);
  const index_t n = data.rows(), bs = std::min(batch_size, n);
  layout(train_ws_, bs, true);
  prepare_inference();
  Pass pass;
  pass.prepared = true;
  const double penalty = penalties();
  if (reset_first) reset_metrics();
  using clock = std::chrono::steady_clock;
  auto last_check = clock::now();
  for (index_t first = 0; first < n; first += bs) {
    if (interrupt && clock::now() - last_check > std::chrono::milliseconds(15)) {
      last_check = clock::now();
      const detail::CallerFpModeScope user_code(fp_mode);
      if (interrupt()) break;
    }
    const index_t cnt = std::min(bs, n - first);
    load_rows(data, nullptr, first, cnt, check_input);
    const Targets t = batch_targets(y, nullptr, first, cnt, train_ws_);
    float* out = y_pred_out ? y_pred_out + first * output_dim_ : nullptr;
    const float* pred = run_forward(train_ws_, train_ws_.input, cnt, pass, out);
    update_metrics(detail::loss_unchecked(loss_, pred, cnt, output_dim_, t, nullptr) + penalty,
                   pred, cnt, t);
  }
  return make_logs();
}

}  // namespace fastmlp
