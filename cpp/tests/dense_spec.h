// The Dense layer spec the C++ training tests build their models from: units, an activation by
// its Keras name and the kernel initializer's seed, all else Keras's defaults.
#pragma once
#include <cstdint>

#include "fastmlp/model.h"
#include "fastmlp/runtime.h"

inline fastmlp::LayerSpec dense_spec(fastmlp::index_t units, const char* act, std::uint64_t seed) {
  fastmlp::LayerSpec s;
  s.units = units;
  s.activation = fastmlp::parse_activation(act);
  s.kernel_initializer.seed = seed;
  return s;
}
