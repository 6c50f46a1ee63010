// Argument checks of the public GEMM entry points (sgemm, PackedB, sgemm_packed): one message per
// problem, naming the argument, before any work starts.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {

void check_args(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, const float* a,
                index_t lda, const float* b, index_t ldb, const float* c, index_t ldc) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("sgemm: " + what); };
  if (m < 0 || n < 0 || k < 0) {
    fail("m, n, k must be >= 0, got m=" + std::to_string(m) + " n=" + std::to_string(n) +
         " k=" + std::to_string(k));
  }
  auto check_ld = [&](const char* name, index_t ld, index_t rows, index_t cols, const float* p) {
    if (ld < std::max<index_t>(cols, 1)) {
      fail(std::string(name) + " must be >= max(1, " + std::to_string(cols) + "), got " +
           std::to_string(ld));
    }
    if (rows > 0 && cols > 0 && p == nullptr) fail(std::string("null pointer for ") + name);
  };
  check_ld("lda", lda, trans_a ? k : m, trans_a ? m : k, a);
  check_ld("ldb", ldb, trans_b ? n : k, trans_b ? k : n, b);
  check_ld("ldc", ldc, m, n, c);
}

}  // namespace gemm
}  // namespace fastmlp
