#include "nn/input.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "nn/parallel.h"

namespace fastmlp {
namespace detail {
namespace {

// True if any of the n floats is NaN or Inf: a NaN fails every comparison, so !(|x| <= FLT_MAX)
// catches both, and being branch-free the loop vectorizes.
bool any_nonfinite(const float* v, index_t n) {
  int bad = 0;
#pragma omp simd reduction(| : bad)
  for (index_t j = 0; j < n; ++j) {
    bad |= !(std::fabs(v[j]) <= std::numeric_limits<float>::max());
  }
  return bad != 0;
}

// dst = f(src) over one row; returns true if any value is NaN or Inf (checked only when `check`,
// in the same pass, branch-free so the loop vectorizes).
template <class T, class F>
bool convert_with(const T* src, index_t cols, bool check, float* dst, F f) {
  if (!check) {
#pragma omp simd
    for (index_t j = 0; j < cols; ++j) dst[j] = f(src[j]);
    return false;
  }
  int bad = 0;
#pragma omp simd reduction(| : bad)
  for (index_t j = 0; j < cols; ++j) {
    const float v = f(src[j]);
    dst[j] = v;
    bad |= !(std::fabs(v) <= std::numeric_limits<float>::max());
  }
  return bad != 0;
}

template <class T>
bool convert_row(const T* src, index_t cols, bool rescale, float s, float o, bool check,
                 float* dst) {
  if (rescale) {
    return convert_with(src, cols, check, dst,
                        [s, o](T v) { return static_cast<float>(v) * s + o; });
  }
  return convert_with(src, cols, check, dst, [](T v) { return static_cast<float>(v); });
}

// Whether converted values can be NaN or Inf at all: not for uint8 input when the images of 0 and
// 255 are finite (v * s + o is monotonic in v, so every other value lies between them).
template <class T>
bool needs_check(bool rescale, float s, float o) {
  if (!std::is_same<T, std::uint8_t>::value) return true;
  if (!rescale) return false;
  const float lo = 0.0f * s + o, hi = 255.0f * s + o;
  return !(std::fabs(lo) <= std::numeric_limits<float>::max() &&
           std::fabs(hi) <= std::numeric_limits<float>::max());
}

// Asks for the cache lines of a row that will be converted soon: gathered rows are scattered over
// the whole input, and their loads would otherwise wait on memory one row at a time.
inline void prefetch_row(const void* row, index_t bytes) {
  const char* p = static_cast<const char*>(row);
  for (index_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off);
}

template <class T>
index_t convert_typed(const InputView& x, const index_t* idx, index_t first, index_t n,
                      bool rescale, float s, float o, float* out) {
  constexpr index_t kAhead = 2;  // rows prefetched ahead of the one being converted
  const T* base = static_cast<const T*>(x.data);
  const index_t cols = x.cols;
  const bool check = needs_check<T>(rescale, s, o);
  std::atomic<index_t> first_bad{-1};
  parallel_chunks(
      n, cols,
      [&](index_t b, index_t e) {
        for (index_t i = b; i < e; ++i) {
          if (idx && i + kAhead < e) prefetch_row(base + idx[i + kAhead] * x.ld, cols * sizeof(T));
          const index_t row = idx ? idx[i] : first + i;
          if (convert_row(base + row * x.ld, cols, rescale, s, o, check, out + i * cols)) {
            index_t cur = first_bad.load();
            while ((cur < 0 || i < cur) && !first_bad.compare_exchange_weak(cur, i)) {
            }
            break;
          }
        }
      },
      index_t(1) << 15);
  return first_bad.load();
}

}  // namespace

index_t convert_rows(const InputView& x, const index_t* idx, index_t first, index_t n,
                     bool rescale, float scale, float offset, float* out) {
  switch (x.dtype) {
    case DType::float32: return convert_typed<float>(x, idx, first, n, rescale, scale, offset, out);
    case DType::float64: return convert_typed<double>(x, idx, first, n, rescale, scale, offset, out);
    case DType::uint8:
      return convert_typed<std::uint8_t>(x, idx, first, n, rescale, scale, offset, out);
  }
  return -1;
}

index_t first_nonfinite_row(const float* rows, index_t n, index_t cols) {
  for (index_t i = 0; i < n; ++i) {
    if (any_nonfinite(rows + i * cols, cols)) return i;
  }
  return -1;
}

void check_input(const InputView& x, index_t dim, const char* name) {
  if (x.cols != dim) {
    throw std::invalid_argument(std::string(name) + " has " + std::to_string(x.cols) +
                                " columns, but the model's input_dim is " + std::to_string(dim));
  }
  if (x.rows < 0 || (x.rows > 0 && (!x.data || x.ld < x.cols))) {
    throw std::invalid_argument(std::string(name) + ": invalid data pointer or row stride");
  }
}

void throw_nonfinite(const char* name, index_t row) {
  throw std::invalid_argument(std::string(name) + " contains NaN or Inf (row " +
                              std::to_string(row) + ")");
}

}  // namespace detail
}  // namespace fastmlp
