// Optimizers transcribed from Keras 3 (keras/src/optimizers/*.py): the same update formulas,
// defaults, decoupled weight decay (w -= w * weight_decay * lr before the update) and gradient
// clipping. Per-step scalars are computed in double; the element-wise updates run in float32 as
// Keras's do, vectorized, and split across threads for large tensors (element-wise, so the result
// is the same for any split). Norms for clipping are summed in fixed chunks, also split-invariant.
#include "fastmlp/optimizers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "fastmlp/runtime.h"
#include "nn/optimizer_base.h"
#include "nn/parallel.h"

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
  const int nt = chunks > 1 ? threads_available() : 1;
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

void KerasOptimizer::apply(const ParamRef& p, float* const* slots, float scale) {
  const float clip = config_.clipvalue > 0.0 ? static_cast<float>(config_.clipvalue)
                                             : std::numeric_limits<float>::infinity();
  const index_t chunks = (p.size + kChunk - 1) / kChunk;
  const int nt = chunks > (light_update() ? 3 : 1) ? threads_available() : 1;
  const int k = slot_count();
  const float decay = fuses_weight_decay() ? 0.0f : decay_;
  detail::parallel_for(nt, chunks, [&](index_t c) {
    const index_t begin = c * kChunk, n = std::min(p.size, begin + kChunk) - begin;
    float* w = p.value + begin;
    if (decay != 0.0f) {
#pragma omp simd
      for (index_t i = 0; i < n; ++i) {
        w[i] -= w[i] * decay;
      }
    }
    float* s[4] = {nullptr, nullptr, nullptr, nullptr};
    for (int j = 0; j < k; ++j) {
      s[j] = slots[j] + begin;
    }
    update(w, GradIn{p.grad + begin, scale, clip}, s, n);
  });
}

void KerasOptimizer::step(const std::vector<ParamRef>& params) {
  ensure_slots(params);
  const double lr = current_learning_rate();
  compute_clip_scales(params);
  decay_ = static_cast<float>(config_.weight_decay * lr);
  prepare(lr);
  const size_t k = static_cast<size_t>(slot_count());
  for (size_t p = 0; p < params.size(); ++p) {
    float* slots[4] = {nullptr, nullptr, nullptr, nullptr};
    for (size_t j = 0; j < k; ++j) {
      slots[j] = slots_[p * k + j].data();
    }
    apply(params[p], slots, scales_[p]);
  }
  ++iterations_;
}

}  // namespace detail

void Optimizer::set_learning_rate(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) {
    throw std::invalid_argument("learning_rate must be finite and >= 0, got " + std::to_string(lr));
  }
  config_.learning_rate = LearningRateSchedule{};
  config_.learning_rate.initial_learning_rate = lr;
}

double Optimizer::current_learning_rate() const { return config_.learning_rate(iterations_); }

}  // namespace fastmlp
