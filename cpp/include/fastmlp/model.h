// A sequential multilayer perceptron: construction from layer specs, training over whole epochs,
// evaluation, prediction, and the split training step (gradients into one flat buffer, then the
// optimizer) that data-parallel training can put an allreduce between.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fastmlp/dataset.h"
#include "fastmlp/layers.h"
#include "fastmlp/losses.h"
#include "fastmlp/metrics.h"
#include "fastmlp/optimizers.h"
#include "fastmlp/workspace.h"

namespace fastmlp {

class Model;
class GradientReducer;  // data-parallel training (nn/training/allreduce.h)

namespace detail {
// Keeps a Model in the list the fork() handlers walk (predict.cpp), from construction on.
class ForkRegistration {
 public:
  explicit ForkRegistration(Model* m);
  ~ForkRegistration();
  ForkRegistration(const ForkRegistration&) = delete;
  ForkRegistration& operator=(const ForkRegistration&) = delete;

 private:
  Model* model_;
};
struct ForkHandlers;
}  // namespace detail

// One entry of the logs: the loss and most metrics are one number (value()); a metric with one
// value per threshold or class (Metric::result_shape() {m}) keeps them all in `values`. A struct
// with accessors rather than a (name, double) pair, so that no code reads a shaped entry as a
// number by mistake (printf would take one without complaint).
struct LogEntry {
  std::string name;
  std::vector<double> values;
  std::vector<index_t> shape;  // {} for one number

  LogEntry(std::string entry_name, double v) : name(std::move(entry_name)), values{v} {}
  LogEntry(std::string entry_name, std::vector<double> v, std::vector<index_t> s)
      : name(std::move(entry_name)), values(std::move(v)), shape(std::move(s)) {}
  bool is_scalar() const { return shape.empty(); }
  // The number of a scalar entry; std::logic_error for a shaped one.
  double value() const {
    if (!is_scalar()) {
      throw std::logic_error("log entry '" + name + "' holds one value per threshold or class");
    }
    return values[0];
  }
  bool operator==(const LogEntry& o) const {
    return name == o.name && values == o.values && shape == o.shape;
  }
  bool operator!=(const LogEntry& o) const { return !(*this == o); }
};

// The loss first, then the metrics in compile order (then the weighted ones).
using Logs = std::vector<LogEntry>;

struct EpochOptions {
  index_t batch_size = 32;
  bool shuffle = true;
  std::uint64_t seed = 0;
  float* y_pred_out = nullptr;  // rows x output_dim, each sample's forward output at its row
  // Called every `callback_every` batches with the running logs; returns true to stop.
  std::function<bool(index_t batch, const Logs& logs)> batch_callback;
  index_t callback_every = 1;
  // Called at batch boundaries at most every ~15 ms of wall time; returns true to stop (e.g. a
  // pending KeyboardInterrupt). The weights are consistent when the loop stops.
  std::function<bool()> interrupt_check;
  // A batch whose loss or gradients are not finite throws NonFiniteStep before its step is
  // applied. false (TerminateOnNaN, as in Keras): the step is applied and the loop goes on.
  bool stop_on_nonfinite = true;
  // false: the loss mean and the metrics go on from the previous call's state (one epoch fed in
  // several calls), so the logs cover every call since the last reset.
  bool reset_metrics = true;
  // Data-parallel training: this rank trains on its rows of each global batch of batch_size
  // rows, the reducer sums the ranks' gradients before each step and the logs over the epoch.
  GradientReducer* reducer = nullptr;
};

// train_epoch met a loss or gradients that are NaN or Inf (a value overflowed the float32 range,
// or the weights held NaN/Inf): the step was not applied. The bindings raise FloatingPointError.
class NonFiniteStep : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Model {
 public:
  Model(index_t input_dim, std::vector<LayerSpec> specs);
  ~Model();

  index_t input_dim() const { return input_dim_; }
  index_t output_dim() const { return output_dim_; }
  index_t num_layers() const { return static_cast<index_t>(layers_.size()); }
  std::vector<index_t> layer_output_dims() const;
  const std::vector<LayerSpec>& specs() const { return specs_; }

  // Keras get_weights() order; set_weights checks count and sizes (std::invalid_argument).
  std::vector<TensorDecl> weight_decls() const;
  std::vector<std::vector<float>> get_weights() const;
  void set_weights(const std::vector<std::vector<float>>& values);
  // One tensor of that order without touching the others, so reading one layer's weights or a
  // shape costs that tensor, not the model. i in [0, num_tensors()), else std::out_of_range;
  // copy_tensor writes tensor_decl(i).size() floats to out.
  index_t num_tensors() const { return static_cast<index_t>(slots_.size()); }
  const TensorDecl& tensor_decl(index_t i) const;
  void copy_tensor(index_t i, float* out) const;

  // metrics: specs for make_metric (metric_kinds()); each is updated once per batch with the
  // batch's outputs and its targets, unweighted (Keras's `metrics`); weighted_metrics with the
  // sample weights as well (Keras's `weighted_metrics`; class weights are part of them). The
  // logs hold the metrics in that order, then the weighted ones, under their spec names.
  // frozen: one flag per layer (Keras's trainable=False; empty = none), fixed until the next
  // compile as in Keras: a frozen layer's tensors are left out of the optimizer, its parameter
  // gradients are not computed, its regularization penalty is not in the loss, and a frozen
  // BatchNormalization normalizes with its moving statistics in training and leaves them alone.
  void compile(const LossSpec& loss, const OptimizerConfig& optimizer,
               const std::vector<MetricSpec>& metrics, const std::vector<bool>& frozen = {},
               const std::vector<MetricSpec>& weighted_metrics = {});
  bool frozen(index_t layer) const { return frozen_[static_cast<std::size_t>(layer)] != 0; }
  bool compiled() const { return optimizer_ != nullptr; }
  // std::invalid_argument naming `what` unless compiled.
  void check_compiled(const char* what) const;
  const LossSpec& loss() const { return loss_; }

  // The data was checked when the Dataset was made; these check only that it fits this model
  // (its columns, outputs and kind of targets) and the options (std::invalid_argument).
  Logs train_epoch(const Dataset& data, const EpochOptions& options);
  // interrupt (optional), as EpochOptions::interrupt_check: asked between batches or row blocks
  // at most every ~15 ms; true ends the call early (the outputs are then incomplete).
  // reset_first: as EpochOptions::reset_metrics.
  Logs evaluate(const Dataset& data, index_t batch_size, float* y_pred_out,
                const std::function<bool()>& interrupt = {}, bool reset_first = true);
  // The compiled metrics (then the weighted ones), holding their state from the last
  // train_epoch / evaluate.
  const std::vector<std::unique_ptr<Metric>>& metrics() const { return metrics_; }
  bool metric_is_weighted(index_t i) const { return i >= unweighted_metrics_; }
  void reset_metrics();
  // Data-parallel training: the loss mean's and every metric's state summed over the ranks, so
  // the logs (returned) are those of all their rows. Every rank calls it at the same point, right
  // after an agreement (train_epoch does at the end of each epoch with a reducer).
  Logs sum_logs_over_ranks(GradientReducer& reducer);
  // out: rows x output_dim. Large inputs run in parallel row blocks; small ones directly on the
  // calling thread with no allocation.
  void predict(const InputView& x, float* out, const std::function<bool()>& interrupt = {});
  void forward(const InputView& x, bool training, float* out,
               const std::function<bool()>& interrupt = {});

  // One batch (all of `data`) in training mode: gradients of the trainable tensors into the flat
  // buffer (gradients()), returns the loss including regularization penalties.
  double compute_gradients(const Dataset& data);
  // One optimizer step with the gradients in the flat buffer.
  void apply_gradients();
  std::vector<float>& gradients() { return grads_; }
  std::vector<TensorDecl> trainable_decls() const;

  double learning_rate() const;
  void set_learning_rate(double lr);
  std::int64_t iterations() const;
  std::vector<std::vector<float>> get_optimizer_state() const;
  void set_optimizer_state(const std::vector<std::vector<float>>& slots, std::int64_t iterations);

  // Training forward passes so far; Dropout masks depend on it. Settable to replay a mask.
  std::uint64_t training_step() const { return training_step_; }
  void set_training_step(std::uint64_t step) { training_step_ = step; }

  // Test hook: how many times a work buffer was (re)allocated.
  std::int64_t workspace_allocations() const { return alloc_count_; }

 private:
  struct Batch;
  void check_dataset(const Dataset& data, const char* what) const;
  // Whether the fused Rescaling can take a value of data's range beyond the float32 range.
  bool rescaling_may_overflow(const Dataset& data) const;
  void step_optimizer();
  // The optimizer's tensors and where backward stops, for the layers not frozen.
  void select_trainable();
  double penalties() const;  // of the layers not frozen
  index_t first_layer() const { return fused_rescaling_ ? 1 : 0; }
  // Converts rows (idx or first..first+n) into ws.input; with `check`, returns the first row
  // holding NaN or Inf after conversion (else -1).
  index_t load_input(const InputView& x, const index_t* idx, index_t first, index_t n,
                     Workspace& ws, bool check = true);
  // Input rows of a Dataset into train_ws_.input (throwing for a value the fused Rescaling takes
  // beyond the float32 range, when `check`).
  void load_rows(const Dataset& data, const index_t* idx, index_t first, index_t n, bool check);
  [[noreturn]] void throw_nonfinite_input(const InputView& x, index_t row,
                                          const DatasetNames& names = {}) const;
  void layout(Workspace& ws, index_t rows, bool training);
  void prepare_inference();
  // Multiply-adds of one row through the layers (in x out each): the thread policy's cost unit.
  double macs_per_row() const;
  const float* run_forward(Workspace& ws, const float* input, index_t n, const Pass& pass,
                           float* final_out);
  double loss_and_gradients(Workspace& ws, const float* input, index_t n, const Targets& t,
                            const Pass& pass);
  [[noreturn]] void throw_nonfinite_step(index_t batch, index_t batches, double loss) const;
  void run_backward(Workspace& ws, const float* input, index_t n, const Pass& pass);
  void update_metrics(double batch_loss, const float* y_pred, index_t n, const Targets& t);
  Logs make_logs() const;
  // Rows first .. first + n of x through the network into out (same rows); returns the first
  // row of the block holding NaN or Inf (nothing computed then), or -1.
  index_t predict_block(Workspace& ws, const InputView& x, index_t first, index_t n, float* out);
  Targets batch_targets(const TargetView& y, const index_t* idx, index_t first, index_t n,
                        Workspace& ws) const;

  index_t input_dim_, output_dim_;
  std::vector<LayerSpec> specs_;
  std::vector<std::unique_ptr<Layer>> layers_;
  bool fused_rescaling_ = false;
  float in_scale_ = 1.0f, in_offset_ = 0.0f;
  index_t lowest_trainable_ = 0;  // backward stops here (no dX below it)
  std::vector<char> frozen_;      // per layer, set by compile

  struct TensorSlot {
    TensorDecl decl;
    float* value;
    float* grad;  // null for non-trainable tensors
    index_t layer;
  };
  std::vector<float> params_, grads_, state_;  // trainable values, their gradients, the rest
  std::vector<TensorSlot> slots_;              // every tensor in get_weights() order
  std::vector<ParamRef> param_refs_;  // the trainable tensors of the layers not frozen

  LossSpec loss_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  index_t unweighted_metrics_ = 0;  // metrics_[unweighted_metrics_..] see the sample weights
  double loss_total_ = 0.0, loss_count_ = 0.0;  // the loss mean over the batches since a reset
  bool fused_loss_ = false;
  std::uint64_t training_step_ = 0;
  std::uint64_t weights_version_ = 1;  // bumped whenever the weights change
  std::mutex prepare_mutex_;

  // Set while a training or evaluation loop runs, so a callback cannot recompile the model or
  // start another loop on the same workspace underneath it.
  std::atomic<bool> busy_{false};  // atomic: two Python threads may call fit on one model
  struct BusyGuard;

  std::int64_t alloc_count_ = 0;
  Workspace train_ws_;
  Workspace small_ws_;  // single-threaded inference on few rows
  std::mutex small_mutex_;
  std::vector<Workspace> block_ws_;  // one per thread for parallel predict
  std::mutex block_mutex_;

  // fork(): in the child, locks that other threads of the parent held at the fork are given
  // back unlocked and the buffers those threads were using are dropped (predict.cpp).
  friend struct detail::ForkHandlers;
  void reset_after_fork();
  std::thread::id busy_thread_;  // the thread that set busy_
  detail::ForkRegistration fork_registration_{this};  // last: registered once all else exists
};

}  // namespace fastmlp
