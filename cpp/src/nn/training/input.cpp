#include "nn/training/input.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "nn/kernels/parallel.h"

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

// Long rows (float32 or float64 images) are converted kGroup at a time, one 64-byte block of each
// row in turn, so that four scattered rows' loads are in flight together: a shuffled batch's rows
// lie anywhere in the input, and one row after another (the next two prefetched) gave the memory
// system one stream at a time. 128 rows of 784 floats out of 188 MB, alternating with that way in
// one process: 49-80 us against 62-90 on one thread, 26-37 against 32-41 on two (eight rows at a
// time did no better on one thread and worse on two). Short rows (784 uint8 pixels) gained
// nothing so: they go one at a time, whole, with the rows kAhead further prefetched.
constexpr index_t kGroup = 4;
constexpr index_t kGroupRowBytes = 2048;
constexpr index_t kAhead = 2;

inline void prefetch_row(const void* row, index_t bytes) {
  const char* p = static_cast<const char*>(row);
  for (index_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off);
}

template <class T>
constexpr index_t kBlock = 64 / sizeof(T);

// dst rows = f(src rows) for the m rows of a group; returns a bit mask of the rows that hold NaN
// or Inf after conversion (when kCheck; their later blocks are still written).
template <bool kCheck, class T, class F>
unsigned convert_group(const T* const* src, index_t m, index_t cols, float* dst, F f) {
  unsigned bad = 0;
  const index_t block = m > 1 ? kBlock<T> : cols;
  for (index_t c = 0; c < cols; c += block) {
    const index_t w = std::min(block, cols - c);
    for (index_t r = 0; r < m; ++r) {
      const T* s = src[r] + c;
      float* d = dst + r * cols + c;
      if (!kCheck) {
#pragma omp simd
        for (index_t j = 0; j < w; ++j) d[j] = f(s[j]);
        continue;
      }
      int b = 0;
      if (w == kBlock<T>) {  // a fixed trip count: one straight run of vector instructions
#pragma omp simd reduction(| : b)
        for (index_t j = 0; j < kBlock<T>; ++j) {
          const float v = f(s[j]);
          d[j] = v;
          b |= !(std::fabs(v) <= std::numeric_limits<float>::max());
        }
      } else {
#pragma omp simd reduction(| : b)
        for (index_t j = 0; j < w; ++j) {
          const float v = f(s[j]);
          d[j] = v;
          b |= !(std::fabs(v) <= std::numeric_limits<float>::max());
        }
      }
      bad |= static_cast<unsigned>(b != 0) << r;
    }
  }
  return bad;
}

// The group loop with the conversion and whether to check chosen once, outside it.
template <class T, class F>
unsigned convert_group(bool check, const T* const* src, index_t m, index_t cols, float* dst,
                       F f) {
  return check ? convert_group<true>(src, m, cols, dst, f)
               : convert_group<false>(src, m, cols, dst, f);
}

template <class T>
index_t convert_typed(const InputView& x, const index_t* idx, index_t first, index_t n,
                      bool rescale, float s, float o, float* out) {
  const T* base = static_cast<const T*>(x.data);
  const index_t cols = x.cols;
  const bool check = needs_check<T>(rescale, s, o);
  const index_t group = cols * index_t(sizeof(T)) >= kGroupRowBytes ? kGroup : 1;
  std::atomic<index_t> first_bad{-1};
  parallel_chunks(
      WorkKind::gather, n, static_cast<double>(cols),
      [&](index_t b, index_t e) {
        for (index_t g = b; g < e; g += group) {
          const index_t m = std::min(group, e - g);
          const T* src[kGroup];
          for (index_t r = 0; r < m; ++r) {
            src[r] = base + (idx ? idx[g + r] : first + g + r) * x.ld;
          }
          if (group == 1 && idx && g + kAhead < e) {
            prefetch_row(base + idx[g + kAhead] * x.ld, cols * index_t(sizeof(T)));
          }
          float* dst = out + g * cols;
          const unsigned bad =
              rescale ? convert_group(check, src, m, cols, dst,
                                      [s, o](T v) { return static_cast<float>(v) * s + o; })
                      : convert_group(check, src, m, cols, dst,
                                      [](T v) { return static_cast<float>(v); });
          if (bad != 0) {
            const index_t i = g + __builtin_ctz(bad);
            index_t cur = first_bad.load();
            while ((cur < 0 || i < cur) && !first_bad.compare_exchange_weak(cur, i)) {
            }
            return;
          }
        }
      });
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
