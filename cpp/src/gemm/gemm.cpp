// TEMPORARY: row-parallel reference until the blocked engine lands (issue 3).
#include <omp.h>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"

namespace fastmlp {

void sgemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
           const float* a, index_t lda, const float* b, index_t ldb, float beta, float* c,
           index_t ldc, const Epilogue& ep) {
  const int threads = (m * n * k > 1000000) ? get_num_threads() : 1;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t i = 0; i < m; ++i) {
    sgemm_reference(trans_a, trans_b, 1, n, k, alpha, trans_a ? a + i : a + i * lda, lda, b, ldb,
                    beta, c + i * ldc, ldc, ep);
  }
}

}  // namespace fastmlp
