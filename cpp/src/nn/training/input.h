// Per-batch conversion of caller input (float32, float64, uint8) to float32, with a leading
// Rescaling fused in and the finiteness check done while the rows are in cache.
#pragma once
#include <string>

#include "fastmlp/model.h"

namespace fastmlp {
namespace detail {

// out (n x x.cols) = rows idx[i] (or first + i when idx is null) of x (dense or CSR), times scale
// plus offset if `rescale`. With `check`, returns the position i of the first row holding NaN or
// Inf after conversion, else -1 (rows of a Dataset need no check: it checked them).
index_t convert_rows(const InputView& x, const index_t* idx, index_t first, index_t n,
                     bool rescale, float scale, float offset, bool check, float* out);

// Position of the first of n contiguous float32 rows (cols wide) holding NaN or Inf, or -1: the
// check convert_rows does, for rows the model reads in place.
index_t first_nonfinite_row(const float* rows, index_t n, index_t cols);

// std::invalid_argument if x is not a valid view of rows of `dim` values.
void check_input(const InputView& x, index_t dim, const char* name);

// std::invalid_argument unless x's CSR structure is sound: offsets from 0 to nnz, never
// decreasing; column indices in [0, cols), increasing within each row.
void check_csr(const InputView& x, const std::string& name, index_t first_row = 0);

// The std::invalid_argument for row `row` of x, which holds NaN or Inf after the conversion
// (rescaled when `rescale`): names the first such column and the value as given.
[[noreturn]] void throw_nonfinite(const InputView& x, index_t row, bool rescale, float scale,
                                  float offset, const std::string& name = "x",
                                  index_t first_row = 0);

}  // namespace detail
}  // namespace fastmlp
