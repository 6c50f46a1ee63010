// Optimizers transcribed from Keras 3 (keras/src/optimizers/*.py): the same update formulas,
// defaults, decoupled weight decay (w -= w * weight_decay * lr before the update) and gradient
// clipping. Per-step scalars are computed in double; the element-wise updates run in float32 as
// Keras's do, vectorized, and split across threads for large tensors (element-wise, so the result
// is the same for any split). Norms for clipping are summed in fixed chunks, also split-invariant.
// The names, Keras's defaults and the argument checks are here too; the rules in
// optimizer_rules.cpp.
#include "fastmlp/optimizers.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "common/checks.h"
#include "common/thread_policy.h"
#include "nn/optimizers/optimizer_base.h"
#include "nn/kernels/parallel.h"
#include "nn/kernels/isa_variants.h"

namespace fastmlp {
namespace detail {

void KerasOptimizer::set_state(const std::vector<std::vector<float>>& slots,
                               std::int64_t iterations) {
  if (iterations < 0) {
    throw std::invalid_argument("set_state: iterations must be >= 0, got " +
                                std::to_string(iterations));
  }
  const size_t k = static_cast<size_t>(slot_count());
  if ((k == 0 && !slots.empty()) || (k > 0 && slots.size() % k != 0)) {
    throw std::invalid_argument("set_state: " + config_.name + " keeps " + std::to_string(k) +
                                " slot(s) per parameter, got " + std::to_string(slots.size()) +
                                " arrays");
  }
  slots_ = slots;
  iterations_ = iterations;
  on_restore();
}

void KerasOptimizer::ensure_slots(const std::vector<ParamRef>& params) {
  const size_t k = static_cast<size_t>(slot_count());
  for (size_t p = 0; p < params.size(); ++p) {
    if (params[p].size < 0 || (params[p].size > 0 && (!params[p].value || !params[p].grad))) {
      throw std::invalid_argument("optimizer step: parameter " + std::to_string(p) +
                                  " has a null buffer or negative size");
    }
  }
  if (k == 0) {
    return;
  }
  if (slots_.empty()) {
    slots_.reserve(params.size() * k);
    for (const ParamRef& p : params) {
      for (size_t s = 0; s < k; ++s) {
        slots_.emplace_back(static_cast<size_t>(p.size), slot_init());
      }
    }
    return;
  }
  if (slots_.size() != params.size() * k) {
    throw std::invalid_argument("optimizer step: state holds " + std::to_string(slots_.size() / k) +
                                " parameters, got " + std::to_string(params.size()));
  }
  for (size_t p = 0; p < params.size(); ++p) {
    for (size_t s = 0; s < k; ++s) {
      if (slots_[p * k + s].size() != static_cast<size_t>(params[p].size)) {
        throw std::invalid_argument("optimizer step: parameter " + std::to_string(p) + " has " +
                                    std::to_string(params[p].size) + " values but its state has " +
                                    std::to_string(slots_[p * k + s].size()));
      }
    }
  }
}

// Sum of squares in double over fixed chunks (summed in order), so the norm is the same for any
// thread count.
double KerasOptimizer::sum_squares(const float* g, index_t n) {
  const index_t chunks = (n + kChunk - 1) / kChunk;
  partials_.assign(static_cast<size_t>(chunks), 0.0);
  const int nt = thread_policy().threads_for(WorkKind::optimizer, static_cast<double>(n),
                                             static_cast<double>(chunks));
  detail::parallel_for(nt, chunks, [&](index_t c) {
    double s = 0.0;
    const index_t end = std::min(n, (c + 1) * kChunk);
    for (index_t i = c * kChunk; i < end; ++i) {
      s += double(g[i]) * g[i];
    }
    partials_[c] = s;
  });
  double total = 0.0;
  for (double s : partials_) {
    total += s;
  }
  return total;
}

// Keras: clipnorm rescales each gradient to norm <= clipnorm; global_clipnorm rescales all of
// them together; clipvalue clamps elements (applied in GradIn). At most one is set.
void KerasOptimizer::compute_clip_scales(const std::vector<ParamRef>& params) {
  scales_.assign(params.size(), 1.0f);
  if (config_.clipnorm > 0.0) {
    for (size_t p = 0; p < params.size(); ++p) {
      const double norm = std::sqrt(sum_squares(params[p].grad, params[p].size));
      scales_[p] = static_cast<float>(config_.clipnorm / std::max(norm, config_.clipnorm));
    }
  } else if (config_.global_clipnorm > 0.0) {
    double total = 0.0;
    for (const ParamRef& p : params) {
      total += sum_squares(p.grad, p.size);
    }
    const double norm = std::sqrt(total);
    std::fill(
        scales_.begin(), scales_.end(),
        static_cast<float>(config_.global_clipnorm / std::max(norm, config_.global_clipnorm)));
  }
}

namespace {
// True if any of the n gradients is NaN or Inf: all its exponent bits are set. Branch-free integer
// work (bit-and, max), the fastest of the forms measured (~5 us per 100k values from L2).
FASTMLP_AVX2_VARIANT(bool, any_nonfinite, (const float* g, index_t n),
                     (g, n)) {
  std::uint32_t top = 0;
#pragma omp simd reduction(max : top)
  for (index_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, g + i, sizeof u);
    u &= 0x7f800000u;
    top = u > top ? u : top;
  }
  return top == 0x7f800000u;
}
constexpr index_t kCheckBlock = 4096;
}  // namespace

bool KerasOptimizer::apply(const ParamRef& p, float* const* slots, float scale) {
  const float clip = config_.clipvalue > 0.0 ? static_cast<float>(config_.clipvalue)
                                             : std::numeric_limits<float>::infinity();
  const index_t chunks = (p.size + kChunk - 1) / kChunk;
  const int nt = thread_policy().threads_for(
      light_update() ? WorkKind::optimizer_light : WorkKind::optimizer,
      static_cast<double>(p.size), static_cast<double>(chunks));
  const int k = slot_count();
  const float decay = fuses_weight_decay() ? 0.0f : decay_;
  std::atomic<bool> skipped{false};
  detail::parallel_for(nt, chunks, [&](index_t c) {
    const index_t begin = c * kChunk, n = std::min(p.size, begin + kChunk) - begin;
    float* w = p.value + begin;
    if (decay != 0.0f) {
#pragma omp simd
      for (index_t i = 0; i < n; ++i) {
        w[i] -= w[i] * decay;
      }
    }
    // Guarded steps (skip_nonfinite_): where the selects cost nothing measurable (cheap_guard:
    // RMSprop, Adagrad, whose loops wait on a square root and a division per element) the
    // guarded loop runs throughout. Elsewhere it would cost 6-9 us per 100k elements (1 thread):
    // the guarded loop runs only on blocks that a check finds not finite (+3.6 us per 100k for
    // SGD, +6 us for Adam, Adamax, Nadam), blocks small enough to stay in L1 for the update.
    if (!skip_nonfinite_ || cheap_guard()) {
      float* s[4] = {nullptr, nullptr, nullptr, nullptr};
      for (int j = 0; j < k; ++j) s[j] = slots[j] + begin;
      if (update(w, GradIn{p.grad + begin, scale, clip}, s, n, skip_nonfinite_)) {
        skipped.store(true, std::memory_order_relaxed);
      }
      return;
    }
    for (index_t b = 0; b < n; b += kCheckBlock) {
      const index_t m = std::min(kCheckBlock, n - b);
      float* s[4] = {nullptr, nullptr, nullptr, nullptr};
      for (int j = 0; j < k; ++j) s[j] = slots[j] + begin + b;
      const float* g = p.grad + begin + b;
      if (update(w + b, GradIn{g, scale, clip}, s, m, any_nonfinite(g, m))) {
        skipped.store(true, std::memory_order_relaxed);
      }
    }
  });
  return skipped.load();
}

void KerasOptimizer::step(const std::vector<ParamRef>& params) {
  ensure_slots(params);
  const double lr = current_learning_rate();
  compute_clip_scales(params);
  decay_ = static_cast<float>(config_.weight_decay * lr);
  prepare(lr);
  const size_t k = static_cast<size_t>(slot_count());
  skipped_nonfinite_ = false;
  for (size_t p = 0; p < params.size(); ++p) {
    float* slots[4] = {nullptr, nullptr, nullptr, nullptr};
    for (size_t j = 0; j < k; ++j) {
      slots[j] = slots_[p * k + j].data();
    }
    if (apply(params[p], slots, scales_[p])) skipped_nonfinite_ = true;
  }
  ++iterations_;
}

namespace {

constexpr const char* kNames[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "nadam"};

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
  return detail::make_rule(c);
}

void Optimizer::set_learning_rate(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) {
    detail::throw_invalid_value("learning_rate", "a finite float >= 0",
                                "learning_rate=" + detail::number_text(lr));
  }
  config_.learning_rate = LearningRateSchedule{};
  config_.learning_rate.initial_learning_rate = lr;
}

double Optimizer::current_learning_rate() const { return config_.learning_rate(iterations_); }

}  // namespace fastmlp
