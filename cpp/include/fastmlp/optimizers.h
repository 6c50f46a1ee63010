// Optimizers (Keras 3 semantics and defaults) and learning-rate schedules.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastmlp/gemm.h"

namespace fastmlp {

// Learning rate as a function of the optimizer's iteration count (steps taken so far).
struct LearningRateSchedule {
  enum class Kind { constant, exponential_decay, inverse_time_decay, piecewise_constant, cosine_decay };
  Kind kind = Kind::constant;
  double initial_learning_rate = 0.001;
  double decay_steps = 1.0;
  double decay_rate = 0.0;
  bool staircase = false;
  std::vector<double> boundaries, values;  // piecewise_constant
  double alpha = 0.0;                      // cosine_decay: floor as a fraction
  double warmup_target = -1.0;             // cosine_decay: < 0 means no warm-up
  double warmup_steps = 0.0;
  double operator()(std::int64_t step) const;  // Keras formulas; step = iterations so far
  void validate() const;  // throws std::invalid_argument naming the bad field
};

struct OptimizerConfig {
  std::string name = "adam";  // sgd, adam, adamw, rmsprop, adagrad, adamax, nadam
  LearningRateSchedule learning_rate;
  double momentum = 0.0;          // sgd, rmsprop
  bool nesterov = false;          // sgd
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  bool amsgrad = false;           // adam, adamw
  double rho = 0.9;               // rmsprop
  bool centered = false;          // rmsprop
  double initial_accumulator_value = 0.1;  // adagrad
  double weight_decay = 0.0;      // decoupled, as Keras 3 applies it (adamw default 0.004)
  double clipnorm = 0.0, clipvalue = 0.0, global_clipnorm = 0.0;  // 0 = off
};

// One trainable tensor as the optimizer sees it: values and their gradient, both `size` floats.
struct ParamRef {
  float* value;
  const float* grad;  // may be modified in place by clipping
  index_t size;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter; the list (sizes, order) must not change between calls.
  // Gradients may be rescaled in place by clipnorm/clipvalue/global_clipnorm.
  virtual void step(const std::vector<ParamRef>& params) = 0;
  std::int64_t iterations() const { return iterations_; }
  // When on, an element whose gradient is NaN or Inf keeps its weight and slots instead of
  // becoming NaN (the trainer's default; off, as in Keras, for TerminateOnNaN and by default);
  // skipped_nonfinite() tells whether the last step met such an element.
  void set_skip_nonfinite(bool on) { skip_nonfinite_ = on; }
  bool skipped_nonfinite() const { return skipped_nonfinite_; }
  // Overrides the schedule with a constant rate (ReduceLROnPlateau, LearningRateScheduler).
  void set_learning_rate(double lr);
  double current_learning_rate() const;  // the rate the next step will use
  const OptimizerConfig& config() const { return config_; }
  // Slots (moments, velocities, ...) for saving, parameter-major: for each parameter, its slots in
  // a fixed order (adam: m, v[, v_hat]; sgd: momentum; rmsprop: velocity[, momentum][, mean
  // gradient]; adagrad: accumulator; adamax: m, u; nadam: m, v). Empty before the first step.
  // set_state restores them (sizes are checked against the parameters at the next step).
  virtual std::vector<std::vector<float>> get_state() const = 0;
  virtual void set_state(const std::vector<std::vector<float>>& slots, std::int64_t iterations) = 0;

 protected:
  explicit Optimizer(OptimizerConfig config) : config_(std::move(config)) {}
  OptimizerConfig config_;
  std::int64_t iterations_ = 0;
  bool skip_nonfinite_ = false, skipped_nonfinite_ = false;
};

// Throws std::invalid_argument for an unknown name (listing the valid ones) or bad values
// (negative learning rate, beta outside [0, 1), more than one clipping option, ...).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config);
// A config with Keras's defaults for `name` (sgd: learning_rate 0.01; adamw: weight_decay 0.004;
// the rest as in OptimizerConfig). Throws for an unknown name.
OptimizerConfig optimizer_defaults(const std::string& name);
std::vector<std::string> optimizer_names();

}  // namespace fastmlp
