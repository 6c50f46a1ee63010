// The one way the core reports a bad argument (Keras's message shape, as fastmlp's Python API):
//
//     Received an invalid value for `y`, expected integer class labels in [0, 2] (the model has
//     3 outputs). Received: y[7]=3
//
// Arguments are checked once, where they enter: the bindings for what only a NumPy array shows
// (dimensions, dtype), the public C++ entry points (fastmlp/*.h) for the rest. Code behind them
// trusts what it is handed and states its preconditions with FASTMLP_DEBUG_CHECK (debug builds).
#pragma once
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace fastmlp {
namespace detail {

// A number as Python prints it: the shortest text that reads back as v ("0.1", "3", "nan",
// "inf", "-1e+300").
inline std::string number_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

inline std::string invalid_value_message(const std::string& name, const std::string& expected,
                                         const std::string& received) {
  return "Received an invalid value for `" + name + "`, expected " + expected +
         ". Received: " + received;
}

[[noreturn]] inline void throw_invalid_value(const std::string& name, const std::string& expected,
                                             const std::string& received) {
  throw std::invalid_argument(invalid_value_message(name, expected, received));
}

}  // namespace detail
}  // namespace fastmlp

// A precondition the caller has already established (checked at the boundary): asserted in debug
// builds, free in release builds.
#ifdef NDEBUG
#define FASTMLP_DEBUG_CHECK(cond) static_cast<void>(0)
#else
#define FASTMLP_DEBUG_CHECK(cond) assert(cond)
#endif
