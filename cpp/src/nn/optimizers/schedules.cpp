// Learning-rate schedules, transcribed from
// keras/src/optimizers/schedules/learning_rate_schedule.py.
#include <cmath>
#include <stdexcept>
#include <string>

#include "fastmlp/optimizers.h"

namespace fastmlp {

namespace {

constexpr double kPi = 3.14159265358979323846;

[[noreturn]] void bad(const std::string& what) {
  throw std::invalid_argument("learning-rate schedule: " + what);
}

bool finite_nonneg(double x) { return std::isfinite(x) && x >= 0.0; }

}  // namespace

void LearningRateSchedule::validate() const {
  if (!finite_nonneg(initial_learning_rate)) {
    bad("initial_learning_rate must be finite and >= 0, got " +
        std::to_string(initial_learning_rate));
  }
  const bool decays = kind == Kind::exponential_decay || kind == Kind::inverse_time_decay ||
                      kind == Kind::cosine_decay;
  if (decays && !(decay_steps > 0.0 && std::isfinite(decay_steps))) {
    bad("decay_steps must be > 0, got " + std::to_string(decay_steps));
  }
  if ((kind == Kind::exponential_decay || kind == Kind::inverse_time_decay) &&
      !finite_nonneg(decay_rate)) {
    bad("decay_rate must be finite and >= 0, got " + std::to_string(decay_rate));
  }
  if (kind == Kind::piecewise_constant) {
    if (values.size() != boundaries.size() + 1) {
      bad("piecewise_constant needs len(values) == len(boundaries) + 1, got " +
          std::to_string(values.size()) + " values and " + std::to_string(boundaries.size()) +
          " boundaries");
    }
    for (size_t i = 1; i < boundaries.size(); ++i) {
      if (!(boundaries[i] > boundaries[i - 1])) {
        bad("boundaries must be strictly increasing");
      }
    }
    for (double v : values) {
      if (!finite_nonneg(v)) {
        bad("values must be finite and >= 0, got " + std::to_string(v));
      }
    }
  }
  if (kind == Kind::cosine_decay) {
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      bad("alpha must be in [0, 1], got " + std::to_string(alpha));
    }
    if (!finite_nonneg(warmup_steps)) {
      bad("warmup_steps must be >= 0, got " + std::to_string(warmup_steps));
    }
    if (warmup_target >= 0.0 && !std::isfinite(warmup_target)) {
      bad("warmup_target must be finite");
    }
  }
}

double LearningRateSchedule::operator()(std::int64_t step) const {
  const double s = static_cast<double>(step);
  switch (kind) {
    case Kind::constant:
      return initial_learning_rate;
    case Kind::exponential_decay: {
      double p = s / decay_steps;
      if (staircase) {
        p = std::floor(p);
      }
      return initial_learning_rate * std::pow(decay_rate, p);
    }
    case Kind::inverse_time_decay: {
      double p = s / decay_steps;
      if (staircase) {
        p = std::floor(p);
      }
      return initial_learning_rate / (1.0 + decay_rate * p);
    }
    case Kind::piecewise_constant: {
      // values[0] for step <= boundaries[0], values[i] for boundaries[i-1] < step <= boundaries[i].
      size_t i = 0;
      while (i < boundaries.size() && s > boundaries[i]) {
        ++i;
      }
      return values[i];
    }
    case Kind::cosine_decay: {
      auto decay = [&](double t, double from) {
        const double cosine = 0.5 * (1.0 + std::cos(kPi * t / decay_steps));
        return ((1.0 - alpha) * cosine + alpha) * from;
      };
      if (warmup_target < 0.0) {
        return decay(std::min(s, decay_steps), initial_learning_rate);
      }
      const double t = std::min(s, decay_steps + warmup_steps);
      if (t < warmup_steps) {  // linear warm-up from initial_learning_rate to warmup_target
        return initial_learning_rate + (warmup_target - initial_learning_rate) * (t / warmup_steps);
      }
      return decay(t - warmup_steps, warmup_target);
    }
  }
  return initial_learning_rate;
}

}  // namespace fastmlp
