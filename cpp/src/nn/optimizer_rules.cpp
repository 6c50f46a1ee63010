// The update rules of the Keras 3 optimizers, each transcribed from its `update_step`, plus the
// factory with Keras's defaults and argument checks.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "nn/optimizer_base.h"
#include "nn/target_clones.h"

namespace fastmlp {
namespace detail {
namespace {

constexpr const char* kNames[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "nadam"};

// The element-wise steps below are built for AVX2 too (target_clones.h): Adam's sqrt and division
// and SGD's momentum at small batches run twice as wide.

// The raw gradient, for steps with no clipvalue and no clipnorm scaling: GradIn::at would return
// the same values (g * 1, clamped to +-inf) at the cost of three more operations per element.
struct PlainGrad {
  const float* g;
  float at(index_t i) const { return g[i]; }
};

bool is_plain(const GradIn& g) {
  return g.scale == 1.0f && g.clip == std::numeric_limits<float>::infinity();
}

// keras/src/optimizers/sgd.py: m (null without momentum) and w for n elements.
template <class G>
inline void sgd_loop(float* w, const G& g, float* m, index_t n, float lr, float mu, bool nesterov) {
  if (!m) {
#pragma omp simd
    for (index_t i = 0; i < n; ++i) w[i] -= g.at(i) * lr;
  } else if (nesterov) {
#pragma omp simd
    for (index_t i = 0; i < n; ++i) {
      const float gi = g.at(i);
      m[i] = -gi * lr + m[i] * mu;
      w[i] += -gi * lr + m[i] * mu;
    }
  } else {
#pragma omp simd
    for (index_t i = 0; i < n; ++i) {
      m[i] = -g.at(i) * lr + m[i] * mu;
      w[i] += m[i];
    }
  }
}

FASTMLP_ELEMENTWISE_CLONES
void sgd_update(float* w, GradIn g, float* m, index_t n, float lr, float mu, bool nesterov) {
  if (is_plain(g)) {
    sgd_loop(w, PlainGrad{g.g}, m, n, lr, mu, nesterov);
  } else {
    sgd_loop(w, g, m, n, lr, mu, nesterov);
  }
}

class Sgd final : public KerasOptimizer {
 public:
  using KerasOptimizer::KerasOptimizer;

 protected:
  int slot_count() const override { return config_.momentum != 0.0 ? 1 : 0; }
  bool light_update() const override { return true; }
  void prepare(double lr) override { lr_ = static_cast<float>(lr); }
  void update(float* w, GradIn g, float* const* s, index_t n) const override {
    sgd_update(w, g, slot_count() ? s[0] : nullptr, n, lr_, static_cast<float>(config_.momentum),
               config_.nesterov);
  }

 private:
  float lr_ = 0.0f;
};

// keras/src/optimizers/adam.py (also AdamW: the same rule with decoupled weight decay).
// One Adam step on n elements; with kDecay, the decoupled weight decay first, as
// KerasOptimizer::apply would do it in a pass of its own.
template <bool kDecay, class G>
inline void adam_loop(float* w, const G& g, float* m, float* v, float* vh, index_t n, float decay,
                      float a, float eps, float c1, float c2) {
  if (vh) {
#pragma omp simd
    for (index_t i = 0; i < n; ++i) {
      if (kDecay) w[i] -= w[i] * decay;
      const float gi = g.at(i);
      m[i] += (gi - m[i]) * c1;
      v[i] += (gi * gi - v[i]) * c2;
      vh[i] = std::max(vh[i], v[i]);
      w[i] -= m[i] * a / (std::sqrt(vh[i]) + eps);
    }
    return;
  }
#pragma omp simd
  for (index_t i = 0; i < n; ++i) {
    if (kDecay) w[i] -= w[i] * decay;
    const float gi = g.at(i);
    m[i] += (gi - m[i]) * c1;
    v[i] += (gi * gi - v[i]) * c2;
    w[i] -= m[i] * a / (std::sqrt(v[i]) + eps);
  }
}

FASTMLP_ELEMENTWISE_CLONES
void adam_update(float* w, GradIn g, float* m, float* v, float* vh, index_t n, float decay,
                 float a, float eps, float c1, float c2) {
  if (is_plain(g) && decay != 0.0f) {
    adam_loop<true>(w, PlainGrad{g.g}, m, v, vh, n, decay, a, eps, c1, c2);
  } else if (is_plain(g)) {
    adam_loop<false>(w, PlainGrad{g.g}, m, v, vh, n, decay, a, eps, c1, c2);
  } else if (decay != 0.0f) {
    adam_loop<true>(w, g, m, v, vh, n, decay, a, eps, c1, c2);
  } else {
    adam_loop<false>(w, g, m, v, vh, n, decay, a, eps, c1, c2);
  }
}

class Adam final : public KerasOptimizer {
 public:
  using KerasOptimizer::KerasOptimizer;

 protected:
  int slot_count() const override { return config_.amsgrad ? 3 : 2; }
  void prepare(double lr) override {
    const double t = static_cast<double>(iterations_ + 1);
    alpha_ = static_cast<float>(lr * std::sqrt(1.0 - std::pow(config_.beta_2, t)) /
                                (1.0 - std::pow(config_.beta_1, t)));
  }
  void update(float* w, GradIn g, float* const* s, index_t n) const override {
    const float a = alpha_, eps = static_cast<float>(config_.epsilon);
    const float c1 = static_cast<float>(1.0 - config_.beta_1),
                c2 = static_cast<float>(1.0 - config_.beta_2);
    adam_update(w, g, s[0], s[1], config_.amsgrad ? s[2] : nullptr, n, decay(), a, eps, c1, c2);
  }
  bool fuses_weight_decay() const override { return true; }

 private:
  float alpha_ = 0.0f;
};

// keras/src/optimizers/rmsprop.py; slots: velocity[, momentum][, average gradient].
class RmsProp final : public KerasOptimizer {
 public:
  using KerasOptimizer::KerasOptimizer;

 protected:
  int slot_count() const override { return 1 + (config_.momentum > 0.0) + config_.centered; }
  void prepare(double lr) override { lr_ = static_cast<float>(lr); }
  void update(float* w, GradIn g, float* const* s, index_t n) const override {
    const float lr = lr_, rho = static_cast<float>(config_.rho),
                eps = static_cast<float>(config_.epsilon);
    const float mu = static_cast<float>(config_.momentum);
    const bool use_mom = config_.momentum > 0.0, centered = config_.centered;
    float *vel = s[0], *mom = use_mom ? s[1] : nullptr,
          *avg = centered ? s[use_mom ? 2 : 1] : nullptr;
    for (index_t i = 0; i < n; ++i) {  // branches are loop-invariant; GCC unswitches them
      const float gi = g.at(i);
      vel[i] = rho * vel[i] + (1.0f - rho) * gi * gi;
      float denom = vel[i] + eps;
      if (centered) {
        avg[i] = rho * avg[i] + (1.0f - rho) * gi;
        denom = vel[i] - avg[i] * avg[i] + eps;
      }
      const float inc = lr * gi / std::sqrt(denom);
      if (use_mom) {
        mom[i] = mu * mom[i] + inc;
        w[i] -= mom[i];
      } else {
        w[i] -= inc;
      }
    }
  }

 private:
  float lr_ = 0.0f;
};

// keras/src/optimizers/adagrad.py
class Adagrad final : public KerasOptimizer {
 public:
  using KerasOptimizer::KerasOptimizer;

 protected:
  int slot_count() const override { return 1; }
  float slot_init() const override { return static_cast<float>(config_.initial_accumulator_value); }
  void prepare(double lr) override { lr_ = static_cast<float>(lr); }
  void update(float* w, GradIn g, float* const* s, index_t n) const override {
    const float lr = lr_, eps = static_cast<float>(config_.epsilon);
    float* acc = s[0];
#pragma omp simd
    for (index_t i = 0; i < n; ++i) {
      const float gi = g.at(i);
      acc[i] += gi * gi;
      w[i] -= lr * gi / std::sqrt(acc[i] + eps);
    }
  }

 private:
  float lr_ = 0.0f;
};

// keras/src/optimizers/adamax.py
class Adamax final : public KerasOptimizer {
 public:
  using KerasOptimizer::KerasOptimizer;

 protected:
  int slot_count() const override { return 2; }
  void prepare(double lr) override {
    lr_ = static_cast<float>(lr);
    corr_ =
        static_cast<float>(1.0 - std::pow(config_.beta_1, static_cast<double>(iterations_ + 1)));
  }
  void update(float* w, GradIn g, float* const* s, index_t n) const override {
    const float lr = lr_, corr = corr_, eps = static_cast<float>(config_.epsilon);
    const float c1 = static_cast<float>(1.0 - config_.beta_1),
                b2 = static_cast<float>(config_.beta_2);
    float *m = s[0], *u = s[1];
#pragma omp simd
    for (index_t i = 0; i < n; ++i) {
      const float gi = g.at(i);
      m[i] += (gi - m[i]) * c1;
      u[i] = std::max(b2 * u[i], std::fabs(gi));
      w[i] -= (lr * m[i]) / (corr * (u[i] + eps));
    }
  }

 private:
  float lr_ = 0.0f, corr_ = 1.0f;
};

// keras/src/optimizers/nadam.py: Adam with Nesterov momentum and the 0.96 momentum-cache
// schedule; u_product (the running product of the u_t) is recomputed from `iterations` on restore.
class Nadam final : public KerasOptimizer {
 public:
  using KerasOptimizer::KerasOptimizer;

 protected:
  int slot_count() const override { return 2; }
  double u_at(double t) const { return config_.beta_1 * (1.0 - 0.5 * std::pow(0.96, t)); }
  void on_restore() override {
    u_product_ = 1.0;
    for (std::int64_t t = 1; t <= iterations_; ++t) {
      u_product_ *= u_at(static_cast<double>(t));
    }
  }
  void prepare(double lr) override {
    const double t = static_cast<double>(iterations_ + 1);
    const double u_t = u_at(t), u_t1 = u_at(t + 1);
    u_product_ *= u_t;
    const double u_product_next = u_product_ * u_t1;
    lr_ = static_cast<float>(lr);
    c_m_ = static_cast<float>(u_t1 / (1.0 - u_product_next));
    c_g_ = static_cast<float>((1.0 - u_t) / (1.0 - u_product_));
    v_corr_ = static_cast<float>(1.0 - std::pow(config_.beta_2, t));
  }
  void update(float* w, GradIn g, float* const* s, index_t n) const override {
    const float lr = lr_, cm = c_m_, cg = c_g_, vc = v_corr_,
                eps = static_cast<float>(config_.epsilon);
    const float c1 = static_cast<float>(1.0 - config_.beta_1),
                c2 = static_cast<float>(1.0 - config_.beta_2);
    float *m = s[0], *v = s[1];
#pragma omp simd
    for (index_t i = 0; i < n; ++i) {
      const float gi = g.at(i);
      m[i] += (gi - m[i]) * c1;
      v[i] += (gi * gi - v[i]) * c2;
      const float m_hat = cm * m[i] + cg * gi, v_hat = v[i] / vc;
      w[i] -= (m_hat * lr) / (std::sqrt(v_hat) + eps);
    }
  }

 private:
  double u_product_ = 1.0;
  float lr_ = 0.0f, c_m_ = 0.0f, c_g_ = 0.0f, v_corr_ = 1.0f;
};

std::string lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

void check_name(const std::string& name) {
  if (std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames)) {
    return;
  }
  std::string valid;
  for (const char* n : kNames) {
    valid += (valid.empty() ? "" : ", ") + std::string(n);
  }
  throw std::invalid_argument("unknown optimizer '" + name + "'; valid names: " + valid);
}

void check_range(const std::string& opt, const char* field, double v, double lo, double hi,
                 bool hi_open) {
  const bool ok = std::isfinite(v) && v >= lo && (hi_open ? v < hi : v <= hi);
  if (!ok) {
    throw std::invalid_argument(opt + ": " + field + " must be in [" + std::to_string(lo) + ", " +
                                (std::isinf(hi) ? "inf" : std::to_string(hi)) +
                                (hi_open ? ")" : "]") + ", got " + std::to_string(v));
  }
}

void validate(const OptimizerConfig& c) {
  const double inf = INFINITY;
  c.learning_rate.validate();
  check_range(c.name, "momentum", c.momentum, 0.0, 1.0, false);
  check_range(c.name, "beta_1", c.beta_1, 0.0, 1.0, true);
  check_range(c.name, "beta_2", c.beta_2, 0.0, 1.0, true);
  check_range(c.name, "epsilon", c.epsilon, 0.0, inf, true);
  check_range(c.name, "rho", c.rho, 0.0, 1.0, false);
  check_range(c.name, "initial_accumulator_value", c.initial_accumulator_value, 0.0, inf, true);
  check_range(c.name, "weight_decay", c.weight_decay, 0.0, inf, true);
  check_range(c.name, "clipnorm", c.clipnorm, 0.0, inf, true);
  check_range(c.name, "clipvalue", c.clipvalue, 0.0, inf, true);
  check_range(c.name, "global_clipnorm", c.global_clipnorm, 0.0, inf, true);
  if ((c.clipnorm > 0) + (c.clipvalue > 0) + (c.global_clipnorm > 0) > 1) {
    throw std::invalid_argument(c.name +
                                ": only one of clipnorm, clipvalue and global_clipnorm can be set");
  }
}

}  // namespace
}  // namespace detail

std::vector<std::string> optimizer_names() {
  return {std::begin(detail::kNames), std::end(detail::kNames)};
}

OptimizerConfig optimizer_defaults(const std::string& name) {
  OptimizerConfig c;
  c.name = detail::lower(name);
  detail::check_name(c.name);
  if (c.name == "sgd") {
    c.learning_rate.initial_learning_rate = 0.01;
  }
  if (c.name == "adamw") {
    c.weight_decay = 0.004;
  }
  return c;
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config) {
  OptimizerConfig c = config;
  c.name = detail::lower(c.name);
  detail::check_name(c.name);
  detail::validate(c);
  using namespace detail;
  if (c.name == "sgd") {
    return std::make_unique<Sgd>(c);
  }
  if (c.name == "adam" || c.name == "adamw") {
    return std::make_unique<Adam>(c);
  }
  if (c.name == "rmsprop") {
    return std::make_unique<RmsProp>(c);
  }
  if (c.name == "adagrad") {
    return std::make_unique<Adagrad>(c);
  }
  if (c.name == "adamax") {
    return std::make_unique<Adamax>(c);
  }
  return std::make_unique<Nadam>(c);
}

}  // namespace fastmlp
