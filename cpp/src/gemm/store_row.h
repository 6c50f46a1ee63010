// The store stage of the portable kernels (fp32 generic, bf16 generic): one finished row of a
// tile through the fused epilogue, the same formula as the SIMD kernels' store_row. Internal
// linkage, so that no translation unit built for another ISA can supply the copy this one calls.
#pragma once
#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {
namespace {

inline void store_row_portable(float* c, const float* acc, int nr, const TileStore& st) {
  for (int j = 0; j < nr; ++j) {
    float x = st.alpha * acc[j];
    if (st.load_c) x = st.beta * c[j] + x;
    if (st.bias) x += st.bias[j];
    // written as a comparison so NaN propagates, as in the reference (std::max(x, 0.0f))
    if (st.relu) x = (x < 0.0f) ? 0.0f : x;
    c[j] = x;
  }
}

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
