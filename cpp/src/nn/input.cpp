#include "nn/input.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>
#include <stdexcept>

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

// Converts one row; returns true if any converted value is NaN or Inf. The check looks at the
// exponent bits so it vectorizes (an isfinite() branch would not).
template <class T>
bool convert_row(const T* src, index_t cols, bool rescale, float s, float o, float* dst) {
  if (rescale) {
    for (index_t j = 0; j < cols; ++j) dst[j] = static_cast<float>(src[j]) * s + o;
  } else {
    for (index_t j = 0; j < cols; ++j) dst[j] = static_cast<float>(src[j]);
  }
  if (std::is_same<T, std::uint8_t>::value && !rescale) return false;
  return any_nonfinite(dst, cols);
}

template <class T>
index_t convert_typed(const InputView& x, const index_t* idx, index_t first, index_t n,
                      bool rescale, float s, float o, float* out) {
  const T* base = static_cast<const T*>(x.data);
  const index_t cols = x.cols;
  std::atomic<index_t> first_bad{-1};
  parallel_chunks(
      n, cols,
      [&](index_t b, index_t e) {
        for (index_t i = b; i < e; ++i) {
          const index_t row = idx ? idx[i] : first + i;
          if (convert_row(base + row * x.ld, cols, rescale, s, o, out + i * cols)) {
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
