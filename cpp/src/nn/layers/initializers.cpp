// Initializers with Keras formulas and defaults, drawn from Philox-4x32-10 (Salmon et al., SC'11).
// Element i of a tensor uses only counter values derived from i, so any split of the fill across
// threads produces the same bits.
#include "fastmlp/initializers.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/thread_policy.h"
#include "nn/kernels/parallel.h"

namespace fastmlp {

void Philox::generate(std::uint64_t counter, std::uint64_t stream, std::uint32_t out[4]) const {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  std::uint32_t c0 = static_cast<std::uint32_t>(counter),
                c1 = static_cast<std::uint32_t>(counter >> 32);
  std::uint32_t c2 = static_cast<std::uint32_t>(stream),
                c3 = static_cast<std::uint32_t>(stream >> 32);
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const std::uint64_t p0 = std::uint64_t{kM0} * c0, p1 = std::uint64_t{kM1} * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32),
                        lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32),
                        lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

namespace {

constexpr const char* kNames[] = {"glorot_uniform", "glorot_normal", "he_uniform",
                                  "he_normal",      "lecun_uniform", "lecun_normal",
                                  "zeros",          "ones",          "constant",
                                  "random_uniform", "random_normal", "truncated_normal"};

// Keras VarianceScaling: stddev of the untruncated normal that, truncated at 2 sigma, has
// variance 1 (the standard deviation of a unit normal truncated to [-2, 2]).
constexpr double kTruncatedStd = 0.87962566103423978;
constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double kTwoPow32 = 4294967296.0;

// Uniform in the open interval (0, 1) from one 32-bit word (never 0, so log() is finite).
inline double open_unit(std::uint32_t x) { return (x + 0.5) / kTwoPow32; }

// Standard normal for element i, draw `attempt` (Box-Muller on two words of counter i/2).
inline double normal_at(const Philox& rng, index_t i, std::uint64_t attempt) {
  std::uint32_t w[4];
  rng.generate(static_cast<std::uint64_t>(i) / 2, attempt, w);
  const int j = static_cast<int>(i % 2) * 2;
  const double r = std::sqrt(-2.0 * std::log(open_unit(w[j])));
  return r * std::cos(kTwoPi * open_unit(w[j + 1]));
}

// Standard normal truncated to [-2, 2] by redrawing (as TensorFlow / Keras do). Each redraw reads
// another stream of the same counter, so element i still depends only on (seed, i); after 64
// misses (probability 0.0455^64) the last draw is clamped.
inline double truncated_normal_at(const Philox& rng, index_t i) {
  double z = 0.0;
  for (std::uint64_t attempt = 0; attempt < 64; ++attempt) {
    z = normal_at(rng, i, attempt);
    if (std::fabs(z) <= 2.0) {
      return z;
    }
  }
  return std::clamp(z, -2.0, 2.0);
}

template <class F>
void fill(float* w, index_t count, F value_of) {
  detail::parallel_chunks(WorkKind::init, count, 1, [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) w[i] = static_cast<float>(value_of(i));
  });
}

// Uniform in [lo, hi): u < 1 in double, but rounding to float could still land on hi, so the top
// is pulled down to the float just below it.
void fill_uniform(const Philox& rng, float* w, index_t count, double lo, double hi) {
  const float top = hi > lo ? std::nextafter(static_cast<float>(hi), static_cast<float>(lo))
                            : static_cast<float>(hi);
  fill(w, count, [&](index_t i) {
    std::uint32_t words[4];
    rng.generate(static_cast<std::uint64_t>(i) / 4, 0, words);
    return std::min(static_cast<float>(lo + (hi - lo) * (words[i % 4] / kTwoPow32)), top);
  });
}

void fill_normal(const Philox& rng, float* w, index_t count, double mean, double stddev,
                 bool truncated) {
  if (truncated) {
    fill(w, count, [&](index_t i) { return mean + stddev * truncated_normal_at(rng, i); });
  } else {
    fill(w, count, [&](index_t i) { return mean + stddev * normal_at(rng, i, 0); });
  }
}

// Keras VarianceScaling(scale, mode, distribution) for the glorot / he / lecun families.
void variance_scaling(const InitializerSpec& spec, float* w, index_t count, index_t fan_in,
                      index_t fan_out) {
  const std::string& n = spec.name;
  const bool uniform = n.size() > 8 && n.compare(n.size() - 8, 8, "_uniform") == 0;
  const std::string family = n.substr(0, n.find('_'));
  double fan = static_cast<double>(fan_in), scale = 1.0;
  if (family == "glorot") {
    fan = 0.5 * (static_cast<double>(fan_in) + static_cast<double>(fan_out));
  }
  if (family == "he") {
    scale = 2.0;
  }
  scale /= std::max(1.0, fan);
  const Philox rng(spec.seed);
  if (uniform) {
    const double limit = std::sqrt(3.0 * scale);
    fill_uniform(rng, w, count, -limit, limit);
  } else {
    fill_normal(rng, w, count, 0.0, std::sqrt(scale) / kTruncatedStd, true);
  }
}

void check_spec(const InitializerSpec& spec) {
  auto bad = [&](const std::string& what) {
    throw std::invalid_argument("initializer '" + spec.name + "': " + what);
  };
  if (!std::isfinite(spec.value) || !std::isfinite(spec.mean)) {
    bad("value and mean must be finite");
  }
  if (!(spec.stddev >= 0.0) || !std::isfinite(spec.stddev)) {
    bad("stddev must be finite and >= 0, got " + std::to_string(spec.stddev));
  }
  if (!(spec.minval <= spec.maxval) || !std::isfinite(spec.minval) || !std::isfinite(spec.maxval)) {
    bad("needs finite minval <= maxval, got minval=" + std::to_string(spec.minval) +
        " maxval=" + std::to_string(spec.maxval));
  }
}

}  // namespace

std::vector<std::string> initializer_names() { return {std::begin(kNames), std::end(kNames)}; }

void initialize(const InitializerSpec& spec, float* w, index_t count, index_t fan_in,
                index_t fan_out) {
  if (count < 0 || (w == nullptr && count > 0)) {
    throw std::invalid_argument("initialize: need a buffer of count >= 0 floats, got count=" +
                                std::to_string(count));
  }
  if (fan_in < 0 || fan_out < 0) {
    throw std::invalid_argument("initialize: fans must be >= 0, got fan_in=" +
                                std::to_string(fan_in) + " fan_out=" + std::to_string(fan_out));
  }
  check_spec(spec);
  const std::string& n = spec.name;
  const Philox rng(spec.seed);
  if (n == "zeros" || n == "ones" || n == "constant") {
    const float v = n == "zeros" ? 0.0f : (n == "ones" ? 1.0f : static_cast<float>(spec.value));
    std::fill(w, w + count, v);
  } else if (n == "random_uniform") {
    fill_uniform(rng, w, count, spec.minval, spec.maxval);
  } else if (n == "random_normal" || n == "truncated_normal") {
    fill_normal(rng, w, count, spec.mean, spec.stddev, n == "truncated_normal");
  } else if (std::find(std::begin(kNames), std::begin(kNames) + 6, n) != std::begin(kNames) + 6) {
    variance_scaling(spec, w, count, fan_in, fan_out);
  } else {
    std::string valid;
    for (const char* name : kNames) {
      valid += (valid.empty() ? "" : ", ") + std::string(name);
    }
    throw std::invalid_argument("unknown initializer '" + n + "'; valid names: " + valid);
  }
}

}  // namespace fastmlp
