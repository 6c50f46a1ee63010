// The machinery shared by the Keras optimizers (clipping, weight decay, slots, threading); the
// update rules themselves live in optimizer_rules.cpp.
#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "fastmlp/optimizers.h"

namespace fastmlp {
namespace detail {

inline constexpr index_t kChunk = 8192;  // elements per parallel work item and per norm partial sum

// The gradient as the update sees it: clip(g * scale, -clip, clip).
struct GradIn {
  const float* g;
  float scale;
  float clip;  // +inf when clipvalue is off
  float at(index_t i) const { return std::min(std::max(g[i] * scale, -clip), clip); }
};

// The state shared by every Keras optimizer; subclasses supply the slots and the update.
class KerasOptimizer : public Optimizer {
 public:
  explicit KerasOptimizer(OptimizerConfig c) : Optimizer(std::move(c)) {}
  void step(const std::vector<ParamRef>& params) override;
  std::vector<std::vector<float>> get_state() const override { return slots_; }
  void set_state(const std::vector<std::vector<float>>& slots, std::int64_t iterations) override;

 protected:
  virtual int slot_count() const = 0;
  virtual float slot_init() const { return 0.0f; }
  // Per-step scalars (bias corrections, ...); called once per step with the current iterations_.
  virtual void prepare(double lr) = 0;
  // Updates elements [0, n) of one parameter; slots[s] points at its slot s at the same offset.
  // guard: elements whose gradient is NaN or Inf are left as they are; returns true if there was
  // such an element (optimizer_rules.cpp).
  virtual bool update(float* w, GradIn g, float* const* slots, index_t n, bool guard) const = 0;
  virtual void on_restore() {}
  // A rule may apply the decoupled weight decay (w -= w * decay()) at the start of its own element
  // loop, saving apply()'s separate pass over the weights; the arithmetic is the same.
  virtual bool fuses_weight_decay() const { return false; }
  // Whether update() streams memory at a few operations per element (SGD) rather than paying a
  // square root or a division for each (the adaptive rules): the thread policy splits the two
  // kinds from different sizes (WorkKind::optimizer_light / optimizer).
  virtual bool light_update() const { return false; }
  // Whether update(..., guard = true) costs about as much as the plain update, so that apply()
  // need not check the gradients first (optimizers.cpp).
  virtual bool cheap_guard() const { return false; }
  float decay() const { return decay_; }

 private:
  void ensure_slots(const std::vector<ParamRef>& params);
  void compute_clip_scales(const std::vector<ParamRef>& params);
  double sum_squares(const float* g, index_t n);
  bool apply(const ParamRef& p, float* const* slots, float scale);

  std::vector<std::vector<float>> slots_;
  float decay_ = 0.0f;            // weight_decay * learning rate for the current step
  std::vector<float> scales_;     // per-parameter gradient scale from clipnorm/global_clipnorm
  std::vector<double> partials_;  // norm partial sums, reused so a step allocates nothing
};

// The update rule for a config make_optimizer has checked (optimizer_rules.cpp).
std::unique_ptr<Optimizer> make_rule(const OptimizerConfig& c);

}  // namespace detail
}  // namespace fastmlp
