// The update rules of the Keras 3 optimizers, each transcribed from its `update_step` (the names,
// defaults and argument checks are in optimizers.cpp).
#include <algorithm>
#include <cmath>
#include <limits>

#include "nn/optimizers/optimizer_base.h"
#include "nn/optimizers/optimizer_loops.h"
#include "nn/kernels/isa_variants.h"

namespace fastmlp {
namespace detail {
namespace {

// The element-wise steps below are built for AVX2 too (isa_variants.h): Adam's sqrt and division
// and SGD's momentum at small batches run twice as wide.
//
// A guarded step (kGuard) leaves an element whose gradient is NaN or Inf as it was, weight and
// slots, instead of writing NaN into them, and returns true if it met one. The trainer asks for it
// unless TerminateOnNaN asks for Keras's behaviour (KerasOptimizer::apply says when it runs).
// Unguarded, the loops are the plain Keras updates.

// keras/src/optimizers/sgd.py: m (null without momentum) and w for n elements.
template <bool kGuard, class G>
FASTMLP_INLINE bool sgd_loop(float* w, const G& g, float* m, index_t n, float lr, float mu,
                             bool nesterov) {
  float bad = 0.0f;  // NaN once a non-finite gradient was seen
  if (!m) {
#pragma omp simd reduction(+ : bad)
    for (index_t i = 0; i < n; ++i) {
      const float gi = g.at(i);
      const float z = zero_if_finite(gi);
      const bool ok = !kGuard || z == 0.0f;
      if (kGuard) bad += z;
      w[i] = pick(ok, w[i] - gi * lr, w[i]);
    }
  } else if (nesterov) {
#pragma omp simd reduction(+ : bad)
    for (index_t i = 0; i < n; ++i) {
      const float gi = g.at(i);
      const float z = zero_if_finite(gi);
      const bool ok = !kGuard || z == 0.0f;
      if (kGuard) bad += z;
      const float mi = -gi * lr + m[i] * mu;
      w[i] = pick(ok, w[i] + (-gi * lr + mi * mu), w[i]);
      m[i] = pick(ok, mi, m[i]);
    }
  } else {
#pragma omp simd reduction(+ : bad)
    for (index_t i = 0; i < n; ++i) {
      const float gi = g.at(i);
      const float z = zero_if_finite(gi);
      const bool ok = !kGuard || z == 0.0f;
      if (kGuard) bad += z;
      const float mi = -gi * lr + m[i] * mu;
      w[i] = pick(ok, w[i] + mi, w[i]);
      m[i] = pick(ok, mi, m[i]);
    }
  }
  return bad != 0.0f;
}

FASTMLP_AVX2_VARIANT(bool, sgd_update, (float* w, GradIn g, float* m, index_t n, float lr, float mu,
                                        bool nesterov, bool guard),
                     (w, g, m, n, lr, mu, nesterov, guard)) {
  if (is_plain(g)) {
    return guard ? sgd_loop<true>(w, PlainGrad{g.g}, m, n, lr, mu, nesterov)
                 : sgd_loop<false>(w, PlainGrad{g.g}, m, n, lr, mu, nesterov);
  }
  return guard ? sgd_loop<true>(w, g, m, n, lr, mu, nesterov)
               : sgd_loop<false>(w, g, m, n, lr, mu, nesterov);
}

// An optimizer whose step needs the learning rate alone from prepare().
class LrOptimizer : public KerasOptimizer {
 public:
  using KerasOptimizer::KerasOptimizer;

 protected:
  void prepare(double lr) override { lr_ = static_cast<float>(lr); }
  float lr_ = 0.0f;
};

class Sgd final : public LrOptimizer {
 public:
  using LrOptimizer::LrOptimizer;

 protected:
  int slot_count() const override { return config_.momentum != 0.0 ? 1 : 0; }
  bool light_update() const override { return true; }
  bool update(float* w, GradIn g, float* const* s, index_t n, bool guard) const override {
    return sgd_update(w, g, slot_count() ? s[0] : nullptr, n, lr_,
                      static_cast<float>(config_.momentum), config_.nesterov, guard);
  }
};

// keras/src/optimizers/adam.py (also AdamW: the same rule with decoupled weight decay).
// One Adam step on n elements; with kDecay, the decoupled weight decay first, as
// KerasOptimizer::apply would do it in a pass of its own.
// The second moment is v * b2 + (g * c2) * g, as PyTorch computes it, not Keras's
// v + (g * g - v) * c2: once g * g overflows (|g| > 1.8e19, e.g. inputs of 1e10 under MSE) v
// becomes inf and Keras's form gives inf - inf = NaN on the next step, NaN weights from finite
// gradients. This form stays finite up to |g| = sqrt(FLT_MAX / c2) (5.8e20 at the default beta_2)
// and beyond that leaves v = inf, an update of 0, never NaN.
struct AdamArgs {
  float decay, a, eps;
  Betas b;
};

template <bool kGuard, bool kDecay, bool kAms, class G>
FASTMLP_INLINE bool adam_loop(float* w, const G& g, float* m, float* v, float* vh, index_t n,
                      const AdamArgs& p) {
  float bad = 0.0f;  // NaN once a non-finite gradient was seen
#pragma omp simd reduction(+ : bad)
  for (index_t i = 0; i < n; ++i) {
    const float gi = g.at(i);
    const float z = zero_if_finite(gi);
    const bool ok = !kGuard || z == 0.0f;
    if (kGuard) bad += z;
    float wi = w[i];
    if (kDecay) wi -= wi * p.decay;
    const float mi = first_moment(m[i], gi, p.b.b1, p.b.c1);
    const float vi = v[i] * p.b.b2 + (gi * p.b.c2) * gi;
    const float vhi = kAms ? std::max(vh[i], vi) : vi;
    wi -= mi * p.a / (std::sqrt(vhi) + p.eps);
    m[i] = pick(ok, mi, m[i]);
    v[i] = pick(ok, vi, v[i]);
    if (kAms) vh[i] = pick(ok, vhi, vh[i]);
    w[i] = pick(ok, wi, w[i]);
  }
  return bad != 0.0f;
}

template <bool kGuard, class G>
FASTMLP_INLINE bool adam_dispatch(float* w, const G& g, float* m, float* v, float* vh, index_t n,
                          const AdamArgs& p) {
  if (p.decay != 0.0f) {
    return vh ? adam_loop<kGuard, true, true>(w, g, m, v, vh, n, p)
              : adam_loop<kGuard, true, false>(w, g, m, v, vh, n, p);
  }
  return vh ? adam_loop<kGuard, false, true>(w, g, m, v, vh, n, p)
            : adam_loop<kGuard, false, false>(w, g, m, v, vh, n, p);
}

FASTMLP_AVX2_VARIANT(bool, adam_update, (float* w, GradIn g, float* m, float* v, float* vh,
                                         index_t n, AdamArgs p, bool guard),
                     (w, g, m, v, vh, n, p, guard)) {
  if (is_plain(g)) {
    return guard ? adam_dispatch<true>(w, PlainGrad{g.g}, m, v, vh, n, p)
                 : adam_dispatch<false>(w, PlainGrad{g.g}, m, v, vh, n, p);
  }
  return guard ? adam_dispatch<true>(w, g, m, v, vh, n, p)
               : adam_dispatch<false>(w, g, m, v, vh, n, p);
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
  bool update(float* w, GradIn g, float* const* s, index_t n, bool guard) const override {
    const AdamArgs p{decay(), alpha_, static_cast<float>(config_.epsilon), betas(config_)};
    return adam_update(w, g, s[0], s[1], config_.amsgrad ? s[2] : nullptr, n, p, guard);
  }
  bool fuses_weight_decay() const override { return true; }

 private:
  float alpha_ = 0.0f;
};

// The rules below: Rule::step(w, gi, i) is the body for element i, the slot pointers are members
// (copied into the loop's frame, so that the vectorizer sees them as invariant), and returns
// zero_if_finite(gi). Each rule's entry point is built for AVX2 too, like SGD's and Adam's
// (bitwise the same results: no FMA contraction, and sqrt and division are exact either way).
template <bool kGuard, class Rule>
FASTMLP_INLINE bool rule_loop(const Rule r, float* w, GradIn g, index_t n) {
  float bad = 0.0f;  // NaN once a non-finite gradient was seen
#pragma omp simd reduction(+ : bad)
  for (index_t i = 0; i < n; ++i) {
    const float z = r.template step<kGuard>(w, g.at(i), i);
    if (kGuard) bad += z;
  }
  return bad != 0.0f;
}

template <class Rule>
FASTMLP_INLINE bool run_rule(const Rule& r, float* w, GradIn g, index_t n, bool guard) {
  return guard ? rule_loop<true>(r, w, g, n) : rule_loop<false>(r, w, g, n);
}

// name(r, w, g, n, guard): the entry point of one Rule type, built for both targets.
#define FASTMLP_RULE_ENTRY(name, Rule)                                                         \
  FASTMLP_AVX2_VARIANT(bool, name, (const Rule& r, float* w, GradIn g, index_t n, bool guard), \
                       (r, w, g, n, guard)) {                                                  \
    return run_rule(r, w, g, n, guard);                                                        \
  }

// keras/src/optimizers/rmsprop.py; slots: velocity[, momentum][, average gradient].
struct RmsArgs {
  float lr, rho, eps, mu;
  float *vel, *mom, *avg;
};

template <bool kMom, bool kCentered>
struct RmsRule {
  RmsArgs p;
  template <bool kGuard>
  FASTMLP_INLINE float step(float* w, float gi, index_t i) const {
    const float z = zero_if_finite(gi);
    const bool ok = !kGuard || z == 0.0f;
    const float v = p.rho * p.vel[i] + (1.0f - p.rho) * gi * gi;
    float denom = v + p.eps, a = 0.0f;
    if (kCentered) {
      a = p.rho * p.avg[i] + (1.0f - p.rho) * gi;
      // Keras's v - a * a, unless a * a overflows (|a| > 1.8e19): v - inf (or inf - inf once v
      // is inf too) would make the step -inf or NaN; (sqrt(v) - |a|)(sqrt(v) + |a|) does not
      const float a2 = a * a, sv = std::sqrt(v), fa = std::fabs(a);
      denom = (a2 <= std::numeric_limits<float>::max() ? v - a2 : (sv - fa) * (sv + fa)) + p.eps;
    }
    const float inc = p.lr * gi / std::sqrt(denom);
    const float m = kMom ? p.mu * p.mom[i] + inc : inc;
    p.vel[i] = pick(ok, v, p.vel[i]);
    if (kCentered) p.avg[i] = pick(ok, a, p.avg[i]);
    if (kMom) p.mom[i] = pick(ok, m, p.mom[i]);
    w[i] = pick(ok, w[i] - m, w[i]);
    return z;
  }
};

FASTMLP_AVX2_VARIANT(bool, rmsprop_update, (const RmsArgs& p, bool mom, bool centered, float* w,
                                            GradIn g, index_t n, bool guard),
                     (p, mom, centered, w, g, n, guard)) {
  if (mom) {
    return centered ? run_rule(RmsRule<true, true>{p}, w, g, n, guard)
                    : run_rule(RmsRule<true, false>{p}, w, g, n, guard);
  }
  return centered ? run_rule(RmsRule<false, true>{p}, w, g, n, guard)
                  : run_rule(RmsRule<false, false>{p}, w, g, n, guard);
}

class RmsProp final : public LrOptimizer {
 public:
  using LrOptimizer::LrOptimizer;

 protected:
  int slot_count() const override { return 1 + (config_.momentum > 0.0) + config_.centered; }
  bool update(float* w, GradIn g, float* const* s, index_t n, bool guard) const override {
    const bool use_mom = config_.momentum > 0.0;
    const RmsArgs p{lr_, static_cast<float>(config_.rho), static_cast<float>(config_.epsilon),
                    static_cast<float>(config_.momentum), s[0], use_mom ? s[1] : nullptr,
                    s[use_mom ? 2 : 1]};
    return rmsprop_update(p, use_mom, config_.centered, w, g, n, guard);
  }
  bool cheap_guard() const override { return true; }
};

// keras/src/optimizers/adagrad.py
struct AdagradRule {
  float lr, eps;
  float* acc;
  template <bool kGuard>
  FASTMLP_INLINE float step(float* w, float gi, index_t i) const {
    const float z = zero_if_finite(gi);
    const bool ok = !kGuard || z == 0.0f;
    const float a = acc[i] + gi * gi;
    acc[i] = pick(ok, a, acc[i]);
    w[i] = pick(ok, w[i] - lr * gi / std::sqrt(a + eps), w[i]);
    return z;
  }
};

FASTMLP_RULE_ENTRY(adagrad_update, AdagradRule)

class Adagrad final : public LrOptimizer {
 public:
  using LrOptimizer::LrOptimizer;

 protected:
  int slot_count() const override { return 1; }
  float slot_init() const override { return static_cast<float>(config_.initial_accumulator_value); }
  bool update(float* w, GradIn g, float* const* s, index_t n, bool guard) const override {
    return adagrad_update({lr_, static_cast<float>(config_.epsilon), s[0]}, w, g, n, guard);
  }
  bool cheap_guard() const override { return true; }
};

// keras/src/optimizers/adamax.py
struct AdamaxRule {
  float lr, corr, eps;
  Betas b;
  float *m, *u;
  template <bool kGuard>
  FASTMLP_INLINE float step(float* w, float gi, index_t i) const {
    const float z = zero_if_finite(gi);
    const bool ok = !kGuard || z == 0.0f;
    const float mi = first_moment(m[i], gi, b.b1, b.c1), ui = std::max(b.b2 * u[i], std::fabs(gi));
    m[i] = pick(ok, mi, m[i]);
    u[i] = pick(ok, ui, u[i]);
    w[i] = pick(ok, w[i] - (lr * mi) / (corr * (ui + eps)), w[i]);
    return z;
  }
};

FASTMLP_RULE_ENTRY(adamax_update, AdamaxRule)

class Adamax final : public LrOptimizer {
 public:
  using LrOptimizer::LrOptimizer;

 protected:
  int slot_count() const override { return 2; }
  void prepare(double lr) override {
    LrOptimizer::prepare(lr);
    corr_ =
        static_cast<float>(1.0 - std::pow(config_.beta_1, static_cast<double>(iterations_ + 1)));
  }
  bool update(float* w, GradIn g, float* const* s, index_t n, bool guard) const override {
    const AdamaxRule r{lr_, corr_, static_cast<float>(config_.epsilon), betas(config_), s[0], s[1]};
    return adamax_update(r, w, g, n, guard);
  }

 private:
  float corr_ = 1.0f;
};

// keras/src/optimizers/nadam.py (the class below)
struct NadamRule {
  float cm_lr, cg_lr, rs, eps;
  Betas b;
  float *m, *v;
  template <bool kGuard>
  FASTMLP_INLINE float step(float* w, float gi, index_t i) const {
    const float z = zero_if_finite(gi);
    const bool ok = !kGuard || z == 0.0f;
    const float mi = first_moment(m[i], gi, b.b1, b.c1);
    const float vi = v[i] * b.b2 + (gi * b.c2) * gi;  // as Adam's (no inf - inf)
    // sqrt(v_hat) as sqrt(v) / sqrt(1 - beta_2^t): v / (1 - beta_2^t) itself overflows when
    // v > 3.4e35 on the first step (|g| > 1.8e19), which froze the weight (update 0); and
    // m_hat * lr as (cm * lr) * m + (cg * lr) * g: m_hat itself overflows for |g| near FLT_MAX
    const float step = cm_lr * mi + cg_lr * gi;
    m[i] = pick(ok, mi, m[i]);
    v[i] = pick(ok, vi, v[i]);
    w[i] = pick(ok, w[i] - step / (std::sqrt(vi) * rs + eps), w[i]);
    return z;
  }
};

FASTMLP_RULE_ENTRY(nadam_update, NadamRule)

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
    c_m_lr_ = static_cast<float>(u_t1 / (1.0 - u_product_next) * lr);
    c_g_lr_ = static_cast<float>((1.0 - u_t) / (1.0 - u_product_) * lr);
    v_corr_rsqrt_ = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(config_.beta_2, t)));
  }
  bool update(float* w, GradIn g, float* const* s, index_t n, bool guard) const override {
    const NadamRule r{c_m_lr_, c_g_lr_, v_corr_rsqrt_, static_cast<float>(config_.epsilon),
                      betas(config_), s[0], s[1]};
    return nadam_update(r, w, g, n, guard);
  }

 private:
  double u_product_ = 1.0;
  float c_m_lr_ = 0.0f, c_g_lr_ = 0.0f, v_corr_rsqrt_ = 1.0f;
};

#undef FASTMLP_RULE_ENTRY

}  // namespace

// The rule for a checked config (make_optimizer in optimizers.cpp checks it).
std::unique_ptr<Optimizer> make_rule(const OptimizerConfig& c) {
  if (c.name == "sgd") return std::make_unique<Sgd>(c);
  if (c.name == "adam" || c.name == "adamw") return std::make_unique<Adam>(c);
  if (c.name == "rmsprop") return std::make_unique<RmsProp>(c);
  if (c.name == "adagrad") return std::make_unique<Adagrad>(c);
  if (c.name == "adamax") return std::make_unique<Adamax>(c);
  return std::make_unique<Nadam>(c);
}

}  // namespace detail
}  // namespace fastmlp
