// Weight initializers drawn from a counter-based generator (Philox-4x32-10): element i of a tensor
// depends only on (seed, i), so results never depend on the thread count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fastmlp/gemm.h"

namespace fastmlp {

struct InitializerSpec {
  // glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, zeros, ones,
  // constant, random_uniform, random_normal, truncated_normal (Keras names and defaults).
  std::string name = "glorot_uniform";
  double value = 0.0;                    // constant
  double minval = -0.05, maxval = 0.05;  // random_uniform
  double mean = 0.0, stddev = 0.05;      // random_normal, truncated_normal
  std::uint64_t seed = 0;
};

// Fills w (count values) for a tensor with the given fans; throws std::invalid_argument naming the
// valid initializers on an unknown name.
void initialize(const InitializerSpec& spec, float* w, index_t count, index_t fan_in,
                index_t fan_out);
std::vector<std::string> initializer_names();

// Counter-based random numbers, also used by Dropout and shuffling.
struct Philox {
  std::uint64_t key;
  explicit Philox(std::uint64_t seed) : key(seed) {}
  // Four independent 32-bit words for counter value `counter` (and stream `stream`).
  void generate(std::uint64_t counter, std::uint64_t stream, std::uint32_t out[4]) const;
  // Uniform in [0, 1) from one word.
  static float to_unit_float(std::uint32_t x) { return (x >> 8) * (1.0f / 16777216.0f); }
};

}  // namespace fastmlp
