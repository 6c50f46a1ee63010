// Per-batch conversion of caller input (float32, float64, uint8) to float32, with a leading
// Rescaling fused in and the finiteness check done while the rows are in cache.
#pragma once
#include <string>

#include "fastmlp/model.h"

namespace fastmlp {
namespace detail {

// out (n x x.cols) = rows idx[i] (or first + i when idx is null) of x, times scale plus offset if
// `rescale`. Returns the position i of the first row holding NaN or Inf after conversion, or -1.
index_t convert_rows(const InputView& x, const index_t* idx, index_t first, index_t n,
                     bool rescale, float scale, float offset, float* out);

// Position of the first of n contiguous float32 rows (cols wide) holding NaN or Inf, or -1: the
// check convert_rows does, for rows the model reads in place.
index_t first_nonfinite_row(const float* rows, index_t n, index_t cols);

// std::invalid_argument if x is not a valid view of rows of `dim` values.
void check_input(const InputView& x, index_t dim, const char* name);

[[noreturn]] void throw_nonfinite(const char* name, index_t row);

}  // namespace detail
}  // namespace fastmlp
