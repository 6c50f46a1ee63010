#include "nn/training/input.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "common/checks.h"
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

// Lowers first_bad to i (the rows of a parallel region report in any order).
void note_bad(std::atomic<index_t>& first_bad, index_t i) {
  index_t cur = first_bad.load();
  while ((cur < 0 || i < cur) && !first_bad.compare_exchange_weak(cur, i)) {
  }
}

template <class T>
index_t convert_typed(const InputView& x, const index_t* idx, index_t first, index_t n,
                      bool rescale, float s, float o, bool check_rows, float* out) {
  const T* base = static_cast<const T*>(x.data);
  const index_t cols = x.cols;
  const bool check = check_rows && needs_check<T>(rescale, s, o);
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
            note_bad(first_bad, g + __builtin_ctz(bad));
            return;
          }
        }
      });
  return first_bad.load();
}

// CSR rows: zeros, the row's values scattered in (its columns are distinct), then the rescaling
// over the whole row as the dense path applies it (0 becomes the offset).
index_t convert_csr(const InputView& x, const index_t* idx, index_t first, index_t n,
                    bool rescale, float s, float o, bool check, float* out) {
  const float* values = static_cast<const float*>(x.data);
  const index_t cols = x.cols;
  std::atomic<index_t> first_bad{-1};
  parallel_chunks(
      WorkKind::gather, n, static_cast<double>(cols),
      [&](index_t b, index_t e) {
        for (index_t i = b; i < e; ++i) {
          const index_t r = idx ? idx[i] : first + i;
          float* d = out + i * cols;
          std::memset(d, 0, sizeof(float) * cols);
          for (index_t k = x.indptr[r]; k < x.indptr[r + 1]; ++k) d[x.indices[k]] = values[k];
          if (rescale) {
#pragma omp simd
            for (index_t j = 0; j < cols; ++j) d[j] = d[j] * s + o;
          }
          if (check && any_nonfinite(d, cols)) {
            note_bad(first_bad, i);
            return;
          }
        }
      });
  return first_bad.load();
}

template <class T>
float converted(const InputView& x, index_t row, index_t col, bool rescale, float s, float o) {
  const float v = static_cast<float>(static_cast<const T*>(x.data)[row * x.ld + col]);
  return rescale ? v * s + o : v;
}

}  // namespace

index_t convert_rows(const InputView& x, const index_t* idx, index_t first, index_t n,
                     bool rescale, float scale, float offset, bool check, float* out) {
  if (x.indptr) return convert_csr(x, idx, first, n, rescale, scale, offset, check, out);
  switch (x.dtype) {
    case DType::float32:
      return convert_typed<float>(x, idx, first, n, rescale, scale, offset, check, out);
    case DType::float64:
      return convert_typed<double>(x, idx, first, n, rescale, scale, offset, check, out);
    case DType::uint8:
      return convert_typed<std::uint8_t>(x, idx, first, n, rescale, scale, offset, check, out);
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
    throw_invalid_value(name, std::to_string(dim) + " values per sample (the model's input_dim)",
                        std::string(name) + ".shape[1]=" + std::to_string(x.cols));
  }
  if (x.indptr) {
    check_csr(x, name);
  } else if (x.rows < 0 || (x.rows > 0 && (!x.data || x.ld < x.cols))) {
    throw_invalid_value(name, "dense rows at a row stride >= the columns",
                        std::string(name) + " with ld=" + std::to_string(x.ld));
  }
}

void check_csr(const InputView& x, const std::string& name, index_t first_row) {
  const index_t* p = x.indptr;
  if (x.rows < 0 || x.nnz < 0 || x.dtype != DType::float32 ||
      (x.nnz > 0 && (!x.indices || !x.data)) || p[0] != 0 || p[x.rows] != x.nnz) {
    throw_invalid_value(name, "a float32 CSR matrix with row offsets from 0 to nnz=" +
                        std::to_string(x.nnz), name + ".indptr[0]=" + std::to_string(p[0]) +
                        ", " + name + ".indptr[" + std::to_string(x.rows) + "]=" +
                        std::to_string(p[x.rows]));
  }
  for (index_t i = 0; i < x.rows; ++i) {
    if (p[i + 1] < p[i]) {
      throw_invalid_value(name, "non-decreasing CSR row offsets",
                          name + ".indptr[" + std::to_string(i + 1) + "]=" +
                              std::to_string(p[i + 1]));
    }
    for (index_t k = p[i]; k < p[i + 1]; ++k) {
      const index_t c = x.indices[k];
      if (c < 0 || c >= x.cols || (k > p[i] && c <= x.indices[k - 1])) {
        throw_invalid_value(name, "column indices in [0, " + std::to_string(x.cols) +
                            "), sorted and without duplicates in each row",
                            name + ".indices[" + std::to_string(k) + "]=" + std::to_string(c) +
                                " in row " + std::to_string(first_row + i));
      }
    }
  }
}

void throw_nonfinite(const InputView& x, index_t row, bool rescale, float s, float o,
                     const std::string& name, index_t first_row) {
  index_t col = 0;
  double given = 0.0;
  float value = 0.0f;
  for (index_t j = 0; j < x.cols; ++j) {
    if (x.indptr) {  // the row's stored values; an implicit zero is finite unless rescaled
      const float* v = static_cast<const float*>(x.data) + x.indptr[row];
      const std::int32_t* c = x.indices + x.indptr[row];
      const index_t stored = std::lower_bound(c, c + (x.indptr[row + 1] - x.indptr[row]), j) - c;
      const bool has = x.indptr[row] + stored < x.indptr[row + 1] && c[stored] == j;
      given = has ? v[stored] : 0.0f;
      value = rescale ? float(given) * s + o : float(given);
    } else if (x.dtype == DType::float64) {
      given = static_cast<const double*>(x.data)[row * x.ld + j];
      value = converted<double>(x, row, j, rescale, s, o);
    } else if (x.dtype == DType::uint8) {
      given = static_cast<const std::uint8_t*>(x.data)[row * x.ld + j];
      value = converted<std::uint8_t>(x, row, j, rescale, s, o);
    } else {
      given = static_cast<const float*>(x.data)[row * x.ld + j];
      value = converted<float>(x, row, j, rescale, s, o);
    }
    col = j;
    if (!(std::fabs(value) <= std::numeric_limits<float>::max())) break;
  }
  std::string received = name + "[" + std::to_string(first_row + row) + ", " +
                         std::to_string(col) + "]=" + number_text(given);
  if (std::isfinite(given)) {
    received += !(std::fabs(float(given)) <= std::numeric_limits<float>::max())
                    ? " (beyond the float32 range)"
                    : ", which the model's Rescaling layer makes " + number_text(value);
  }
  throw_invalid_value(name, "finite values", received);
}

}  // namespace detail
}  // namespace fastmlp
