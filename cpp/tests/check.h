// Minimal assertions for the C++ unit tests: failures are counted and reported, and
// check_exit() turns them into a non-zero exit status for ctest.
#pragma once
#include <cmath>
#include <cstdio>
#include <exception>

namespace check {

inline int& failures() {
  static int n = 0;
  return n;
}

inline void report(bool ok, const char* what, const char* file, int line) {
  if (!ok) {
    ++failures();
    std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  }
}

// |a - b| <= atol + rtol * |b|, and both NaN-free.
inline bool close(double a, double b, double rtol, double atol) {
  return std::isfinite(a) == std::isfinite(b) && std::fabs(a - b) <= atol + rtol * std::fabs(b);
}

inline int exit_code(const char* name) {
  if (failures() == 0) {
    std::printf("%s: all checks passed\n", name);
    return 0;
  }
  std::fprintf(stderr, "%s: %d check(s) failed\n", name, failures());
  return 1;
}

}  // namespace check

#define CHECK(cond) ::check::report(static_cast<bool>(cond), #cond, __FILE__, __LINE__)
#define CHECK_CLOSE(a, b, rtol, atol)                                                           \
  do {                                                                                          \
    const double check_a_ = (a), check_b_ = (b);                                                \
    if (!::check::close(check_a_, check_b_, (rtol), (atol))) {                                  \
      std::fprintf(stderr, "  %s = %.10g, %s = %.10g\n", #a, check_a_, #b, check_b_);           \
    }                                                                                           \
    ::check::report(::check::close(check_a_, check_b_, (rtol), (atol)), #a " ~= " #b, __FILE__, \
                    __LINE__);                                                                  \
  } while (0)
#define CHECK_THROWS(expr, Exc)                                               \
  do {                                                                        \
    bool check_threw_ = false;                                                \
    try {                                                                     \
      (void)(expr);                                                           \
    } catch (const Exc&) {                                                    \
      check_threw_ = true;                                                    \
    }                                                                         \
    ::check::report(check_threw_, #expr " throws " #Exc, __FILE__, __LINE__); \
  } while (0)
