// Optimizers: several steps of each Keras 3 rule against a double-precision transcription of its
// formula, clipping and weight decay, schedules, state save/restore, thread invariance, errors.
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "fastmlp/optimizers.h"
#include "fastmlp/runtime.h"

using namespace fastmlp;

namespace {

constexpr int kSteps = 6;
constexpr int kSize = 5;

double grad_at(int t, int i) { return std::sin(1.3 * t + 0.7 * i) * (1 + i) * 0.5; }

// Reference state: w plus up to three slots per element, and the rule that advances one element.
struct Ref {
  std::vector<double> w, a, b, c;
};
using Rule = std::function<void(Ref&, int i, double g, int t, double lr)>;

void run(const OptimizerConfig& cfg, double slot_init, const Rule& rule, const char* what) {
  auto opt = make_optimizer(cfg);
  std::vector<float> w(kSize), g(kSize);
  Ref r;
  r.w.resize(kSize);
  r.a.assign(kSize, slot_init);
  r.b.assign(kSize, 0.0);
  r.c.assign(kSize, 0.0);
  for (int i = 0; i < kSize; ++i) r.w[i] = w[i] = 0.3f * i - 0.5f;
  for (int t = 0; t < kSteps; ++t) {
    for (int i = 0; i < kSize; ++i) g[i] = static_cast<float>(grad_at(t, i));
    const double lr = cfg.learning_rate(t);
    opt->step({ParamRef{w.data(), g.data(), kSize}});
    for (int i = 0; i < kSize; ++i) rule(r, i, g[i], t, lr);
  }
  const int before = check::failures();
  for (int i = 0; i < kSize; ++i) CHECK_CLOSE(w[i], r.w[i], 2e-5, 1e-6);
  if (check::failures() != before) std::fprintf(stderr, "  ^ optimizer case: %s\n", what);
  CHECK(opt->iterations() == kSteps);
}

// SGD (plain, momentum, Nesterov) and Adam / AMSGrad / AdamW.
void check_rules_sgd_adam() {
  OptimizerConfig c = optimizer_defaults("sgd");
  run(c, 0, [](Ref& r, int i, double g, int, double lr) { r.w[i] -= lr * g; }, "sgd");
  c.momentum = 0.9;
  run(
      c, 0,
      [](Ref& r, int i, double g, int, double lr) {
        r.a[i] = 0.9 * r.a[i] - lr * g;
        r.w[i] += r.a[i];
      },
      "sgd momentum");
  c.nesterov = true;
  run(
      c, 0,
      [](Ref& r, int i, double g, int, double lr) {
        r.a[i] = 0.9 * r.a[i] - lr * g;
        r.w[i] += 0.9 * r.a[i] - lr * g;
      },
      "sgd nesterov");
  for (bool ams : {false, true}) {
    c = optimizer_defaults("adam");
    c.amsgrad = ams;
    c.learning_rate.initial_learning_rate = 0.05;
    run(
        c, 0,
        [ams](Ref& r, int i, double g, int t, double lr) {
          const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
          r.a[i] = b1 * r.a[i] + (1 - b1) * g;
          r.b[i] = b2 * r.b[i] + (1 - b2) * g * g;
          r.c[i] = std::max(r.c[i], r.b[i]);
          const double alpha = lr * std::sqrt(1 - std::pow(b2, t + 1)) / (1 - std::pow(b1, t + 1));
          r.w[i] -= r.a[i] * alpha / (std::sqrt(ams ? r.c[i] : r.b[i]) + eps);
        },
        ams ? "adam amsgrad" : "adam");
  }
  c = optimizer_defaults("adamw");  // weight_decay 0.004 applied before the Adam step
  c.learning_rate.initial_learning_rate = 0.05;
  run(
      c, 0,
      [](Ref& r, int i, double g, int t, double lr) {
        r.w[i] -= r.w[i] * 0.004 * lr;
        r.a[i] = 0.9 * r.a[i] + 0.1 * g;
        r.b[i] = 0.999 * r.b[i] + 0.001 * g * g;
        const double alpha =
            lr * std::sqrt(1 - std::pow(0.999, t + 1)) / (1 - std::pow(0.9, t + 1));
        r.w[i] -= r.a[i] * alpha / (std::sqrt(r.b[i]) + 1e-7);
      },
      "adamw");
}

// RMSprop (plain, momentum, centered), Adagrad, Adamax and Nadam.
void check_rules_rest() {
  OptimizerConfig c;
  for (int variant = 0; variant < 3; ++variant) {  // plain, momentum, centered + momentum
    c = optimizer_defaults("rmsprop");
    c.learning_rate.initial_learning_rate = 0.01;
    c.momentum = variant > 0 ? 0.5 : 0.0;
    c.centered = variant == 2;
    run(
        c, 0,
        [variant](Ref& r, int i, double g, int, double lr) {
          r.a[i] = 0.9 * r.a[i] + 0.1 * g * g;
          double denom = r.a[i] + 1e-7;
          if (variant == 2) {
            r.c[i] = 0.9 * r.c[i] + 0.1 * g;
            denom = r.a[i] - r.c[i] * r.c[i] + 1e-7;
          }
          const double inc = lr * g / std::sqrt(denom);
          if (variant > 0) {
            r.b[i] = 0.5 * r.b[i] + inc;
            r.w[i] -= r.b[i];
          } else {
            r.w[i] -= inc;
          }
        },
        "rmsprop");
  }
  c = optimizer_defaults("adagrad");
  c.learning_rate.initial_learning_rate = 0.1;
  run(
      c, 0.1,
      [](Ref& r, int i, double g, int, double lr) {
        r.a[i] += g * g;
        r.w[i] -= lr * g / std::sqrt(r.a[i] + 1e-7);
      },
      "adagrad");
  c = optimizer_defaults("adamax");
  c.learning_rate.initial_learning_rate = 0.02;
  run(
      c, 0,
      [](Ref& r, int i, double g, int t, double lr) {
        r.a[i] = 0.9 * r.a[i] + 0.1 * g;
        r.b[i] = std::max(0.999 * r.b[i], std::fabs(g));
        r.w[i] -= lr * r.a[i] / ((1 - std::pow(0.9, t + 1)) * (r.b[i] + 1e-7));
      },
      "adamax");
  c = optimizer_defaults("nadam");
  c.learning_rate.initial_learning_rate = 0.02;
  auto u_product = std::make_shared<double>(1.0);
  run(
      c, 0,
      [u_product](Ref& r, int i, double g, int t, double lr) {
        const double b1 = 0.9, b2 = 0.999;
        const double u_t = b1 * (1 - 0.5 * std::pow(0.96, t + 1)),
                     u_t1 = b1 * (1 - 0.5 * std::pow(0.96, t + 2));
        if (i == 0) *u_product *= u_t;
        const double up = *u_product, up1 = up * u_t1;
        r.a[i] = b1 * r.a[i] + (1 - b1) * g;
        r.b[i] = b2 * r.b[i] + (1 - b2) * g * g;
        const double m_hat = u_t1 * r.a[i] / (1 - up1) + (1 - u_t) * g / (1 - up);
        const double v_hat = r.b[i] / (1 - std::pow(b2, t + 1));
        r.w[i] -= m_hat * lr / (std::sqrt(v_hat) + 1e-7);
      },
      "nadam");
}

// Clipping (Keras: g * c / max(||g||, c) per tensor or over all tensors; clamp for clipvalue).
void check_clipping() {
  std::vector<float> w1 = {1, 2, 3}, g1 = {3, 4, 0}, w2 = {1}, g2 = {12};
  OptimizerConfig c = optimizer_defaults("sgd");
  c.learning_rate.initial_learning_rate = 1.0;
  c.clipnorm = 1.0;
  auto opt = make_optimizer(c);
  opt->step({{w1.data(), g1.data(), 3}, {w2.data(), g2.data(), 1}});
  CHECK_CLOSE(w1[0], 1 - 0.6, 1e-6, 0);
  CHECK_CLOSE(w1[1], 2 - 0.8, 1e-6, 0);
  CHECK_CLOSE(w2[0], 0.0, 0, 1e-6);
  c.clipnorm = 0;
  c.global_clipnorm = 6.5;  // global norm 13 -> scale 0.5
  w1 = {0, 0, 0};
  w2 = {0};
  make_optimizer(c)->step({{w1.data(), g1.data(), 3}, {w2.data(), g2.data(), 1}});
  CHECK_CLOSE(w1[0], -1.5, 1e-6, 0);
  CHECK_CLOSE(w2[0], -6.0, 1e-6, 0);
  c.global_clipnorm = 0;
  c.clipvalue = 2.5;
  w1 = {0, 0, 0};
  make_optimizer(c)->step({{w1.data(), g1.data(), 3}});
  CHECK(w1[0] == -2.5f && w1[1] == -2.5f && w1[2] == 0.0f);
}

void check_schedules() {
  LearningRateSchedule s;
  s.kind = LearningRateSchedule::Kind::exponential_decay;
  s.initial_learning_rate = 0.1;
  s.decay_steps = 10;
  s.decay_rate = 0.5;
  CHECK_CLOSE(s(15), 0.1 * std::pow(0.5, 1.5), 1e-12, 0);
  s.staircase = true;
  CHECK_CLOSE(s(15), 0.05, 1e-12, 0);
  s.kind = LearningRateSchedule::Kind::inverse_time_decay;
  CHECK_CLOSE(s(25), 0.1 / (1 + 0.5 * 2), 1e-12, 0);
  s.kind = LearningRateSchedule::Kind::piecewise_constant;
  s.boundaries = {5, 10};
  s.values = {1.0, 0.5, 0.1};
  CHECK(s(5) == 1.0 && s(6) == 0.5 && s(10) == 0.5 && s(11) == 0.1);
  s.kind = LearningRateSchedule::Kind::cosine_decay;
  s.decay_steps = 100;
  s.alpha = 0.1;
  CHECK_CLOSE(s(50), 0.1 * (0.9 * 0.5 + 0.1), 1e-12, 0);
  CHECK_CLOSE(s(500), 0.1 * 0.1, 1e-12, 0);
  s.warmup_target = 1.0;
  s.warmup_steps = 10;
  CHECK_CLOSE(s(5), 0.1 + 0.9 * 0.5, 1e-12, 0);
  CHECK_CLOSE(s(60), 1.0 * (0.9 * 0.5 + 0.1), 1e-12, 0);
  s.values = {1.0};
  s.kind = LearningRateSchedule::Kind::piecewise_constant;
  CHECK_THROWS(s.validate(), std::invalid_argument);
}

void check_state_threads_errors() {
  const int n = 70001;  // several parallel chunks
  std::vector<float> g(n), wa(n, 0.5f), wb(n, 0.5f), wc(n, 0.5f);
  for (int i = 0; i < n; ++i) g[i] = std::sin(0.01 * i);
  OptimizerConfig c = optimizer_defaults("nadam");
  c.global_clipnorm = 10;
  set_num_threads(1);
  auto a = make_optimizer(c);
  for (int t = 0; t < 3; ++t) a->step({{wa.data(), g.data(), n}});
  set_num_threads(2);
  auto b = make_optimizer(c);
  for (int t = 0; t < 2; ++t) b->step({{wb.data(), g.data(), n}});
  // Restore b's state into a fresh optimizer and take the third step there.
  auto r = make_optimizer(c);
  r->set_state(b->get_state(), b->iterations());
  wc = wb;
  r->step({{wc.data(), g.data(), n}});
  CHECK(std::memcmp(wa.data(), wc.data(), n * sizeof(float)) == 0);
  CHECK(a->get_state().size() == 2 && r->iterations() == 3);
  // Sizes must match the parameters.
  std::vector<float> small(3), gs(3);
  CHECK_THROWS(r->step({{small.data(), gs.data(), 3}}), std::invalid_argument);
  CHECK_THROWS(r->set_state({{1.f}}, 1), std::invalid_argument);  // odd slot count
  // set_learning_rate overrides a schedule.
  c.learning_rate.kind = LearningRateSchedule::Kind::exponential_decay;
  c.learning_rate.decay_steps = 1;
  c.learning_rate.decay_rate = 0.5;
  auto d = make_optimizer(c);
  CHECK_CLOSE(d->current_learning_rate(), 0.001, 1e-12, 0);
  d->set_learning_rate(0.25);
  CHECK(d->current_learning_rate() == 0.25);
  CHECK_THROWS(d->set_learning_rate(-1), std::invalid_argument);
  OptimizerConfig bad = optimizer_defaults("adam");
  bad.beta_1 = 1.0;
  CHECK_THROWS(make_optimizer(bad), std::invalid_argument);
  bad = optimizer_defaults("sgd");
  bad.learning_rate.initial_learning_rate = -0.1;
  CHECK_THROWS(make_optimizer(bad), std::invalid_argument);
  bad = optimizer_defaults("sgd");
  bad.clipnorm = 1;
  bad.clipvalue = 1;
  CHECK_THROWS(make_optimizer(bad), std::invalid_argument);
  CHECK_THROWS(optimizer_defaults("adamm"), std::invalid_argument);
  CHECK(optimizer_defaults("SGD").learning_rate.initial_learning_rate == 0.01);
}

}  // namespace

int main() {
  check_rules_sgd_adam();
  check_rules_rest();
  check_clipping();
  check_schedules();
  check_state_threads_errors();
  return check::exit_code("test_optimizers");
}
