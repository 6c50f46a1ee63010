// Portable reference SGEMM: the ground truth every optimized path is tested against.
#include <algorithm>

#include "fastmlp/gemm.h"

namespace fastmlp {

void sgemm_reference(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
                     const float* a, index_t lda, const float* b, index_t ldb, float beta,
                     float* c, index_t ldc, const Epilogue& ep) {
  for (index_t i = 0; i < m; ++i) {
    for (index_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (index_t p = 0; p < k; ++p) {
        const float av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += av * bv;
      }
      float v = alpha * acc;
      if (beta != 0.0f) v += beta * c[i * ldc + j];  // beta == 0 ignores C, even NaN, as BLAS does
      if (ep.bias) v += ep.bias[j];
      if (ep.relu) v = std::max(v, 0.0f);
      c[i * ldc + j] = v;
    }
    if (ep.post && n > 0) ep.post(c + i * ldc, ldc, 1, n, 0, ep.post_ctx);
  }
}

}  // namespace fastmlp
